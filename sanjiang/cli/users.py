"""``sanjiang user add|list|passwd|disable|enable``: staff accounts (roles and stations).

Every change is an audit event (``user.changed``, see ``sanjiang.cli.audit``): one that gives
access is made only with its event written; disabling an account is done even when Kafka is
down, with a warning.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.access.audit import user_event
from api.access.roles import ROLES
from api.access.users import User, UserError, UserStore, check_password, connect
from api.services import staff_db_path
from sanjiang.cli import audit as cli_audit
from sanjiang.cli.common import fail, say, settings_of
from sanjiang.events import Event
from sanjiang.events.payloads import UserChange
from sanjiang.network import load_network
from sanjiang.settings import Settings

user_app = typer.Typer(
    help="Staff accounts: " + ", ".join(ROLES) + " (scoped to stations where it makes sense).",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (for scripts)."),
]
Reason = Annotated[
    str | None, typer.Option("--reason", help="Why (kept in the audit trail, at most 500).")
]


def open_users(settings: Settings) -> UserStore:
    return UserStore(connect(staff_db_path(settings)))


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    password = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != password:
        fail("the two passwords differ")
    return str(password)


@user_app.command("add")
def add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (lower case), e.g. wang.li.")],
    role: Annotated[str, typer.Option("--role", help=" | ".join(ROLES))],
    station: Annotated[
        list[str] | None,
        typer.Option(
            "--station",
            help="A station the user works at (repeat for several); none = the whole network.",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    reason: Reason = None,
) -> None:
    """Create a staff account (the password is asked for, or read with --password-stdin)."""
    network = load_network(settings_of(ctx).network_file)
    for station_id in station or ():
        if station_id not in network.by_id:
            fail(f"unknown station {station_id!r}; see `sanjiang network export --json`")
    note = cli_audit.reason_of(reason)
    password = _password(password_stdin)
    _check(username, password)
    settings = settings_of(ctx)
    created: list[User] = []

    def create(store: UserStore, audit: cli_audit.CliAudit) -> Event:
        created.append(store.add(username, role, password, station or None))
        return _event(audit, created[0], "created", note)

    _grant(settings, create)
    user = created[0]
    where = "the whole network" if user.stations is None else ", ".join(user.stations)
    say(f"user {user.username} ({user.role}) created, sees {where}")


@user_app.command("list")
def list_users(ctx: typer.Context) -> None:
    """List staff accounts (never their passwords)."""
    store = open_users(settings_of(ctx))
    try:
        users = store.users()
    finally:
        store.close()
    typer.echo(f"{'user':<20} {'role':<9} {'stations':<24} {'created (UTC)':<17} state")
    for u in users:
        created = datetime.fromtimestamp(u.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        stations = "*" if u.stations is None else ",".join(u.stations)
        state = "active" if u.active else "disabled"
        typer.echo(f"{u.username:<20} {u.role:<9} {stations:<24} {created:<17} {state}")


def _check(username: str, password: str) -> None:
    """Refuse a bad password before anything else (Kafka included) is asked."""
    try:
        check_password(username, password)
    except UserError as exc:
        fail(str(exc))


def _event(audit: cli_audit.CliAudit, user: User, change: UserChange, note: str) -> Event:
    return user_event(station=audit.center, actor=audit.actor, user=user, change=change, note=note)


def _changed(store: UserStore, username: str) -> User:
    user = store.get(username)
    if user is None:
        raise UserError(f"no user {username}")
    return user


def _grant(
    settings: Settings,
    change: Callable[[UserStore, cli_audit.CliAudit], Event],
) -> None:
    """Make a change that gives access, with its audit event or not at all."""
    store = open_users(settings)
    try:
        with cli_audit.open_audit(settings) as audit:
            cli_audit.granting(audit, store.transaction(), lambda: change(store, audit))
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()


@user_app.command("passwd")
def passwd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    password_stdin: PasswordStdin = False,
    reason: Reason = None,
) -> None:
    """Set a new password; the user's earlier tokens and sessions stop working."""
    note = cli_audit.reason_of(reason)
    password = _password(password_stdin)
    _check(username, password)

    def change(store: UserStore, audit: cli_audit.CliAudit) -> Event:
        store.set_password(username, password)
        return _event(audit, _changed(store, username), "password_changed", note)

    _grant(settings_of(ctx), change)
    say(f"password of {username} changed; earlier tokens and sessions no longer work")


@user_app.command("disable")
def disable(
    ctx: typer.Context, username: Annotated[str, typer.Argument()], reason: Reason = None
) -> None:
    """Disable an account: no login, and its tokens and sessions stop working at once (even
    when Kafka is down: its audit event is then missing, and a warning says so)."""
    note = cli_audit.reason_of(reason)
    settings = settings_of(ctx)
    done = f"user {username} disabled"
    store = open_users(settings)
    try:
        with cli_audit.open_audit(settings) as audit:

            def change() -> Event:
                store.disable(username)
                return _event(audit, _changed(store, username), "disabled", note)

            cli_audit.taking_away(audit, change, done)
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()
    say(done)


@user_app.command("enable")
def enable(
    ctx: typer.Context, username: Annotated[str, typer.Argument()], reason: Reason = None
) -> None:
    """Enable a disabled account again (it logs in anew)."""
    note = cli_audit.reason_of(reason)

    def change(store: UserStore, audit: cli_audit.CliAudit) -> Event:
        store.enable(username)
        return _event(audit, _changed(store, username), "enabled", note)

    _grant(settings_of(ctx), change)
    say(f"user {username} enabled")


def first_admin(settings: Settings) -> str | None:
    """On a deployment without staff accounts, create ``admin`` with a random password, kept in
    ``<var_dir>/secrets/initial-admin-password`` (mode 0600) and returned; None otherwise. Its
    creation is audited like ``user add``'s (Kafka must be up)."""
    store = open_users(settings)
    try:
        if store.count():
            return None
    finally:
        store.close()
    password = secrets.token_urlsafe(12)
    path = initial_password_path(settings)
    path.touch(mode=0o600)
    path.write_text(password + "\n")

    def create(store: UserStore, audit: cli_audit.CliAudit) -> Event:
        user = store.add("admin", "admin", password)
        return _event(audit, user, "created", "the first admin of a new deployment (sanjiang up)")

    _grant(settings, create)
    return password


def initial_password_path(settings: Settings) -> Path:
    return settings.secrets_dir / "initial-admin-password"
