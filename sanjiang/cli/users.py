"""``sanjiang user add|list|passwd|disable|enable``: staff accounts (roles and stations)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.access.roles import ROLES
from api.access.users import UserError, UserStore, connect
from api.services import staff_db_path
from sanjiang.cli.common import fail, say, settings_of
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
) -> None:
    """Create a staff account (the password is asked for, or read with --password-stdin)."""
    network = load_network()
    for station_id in station or ():
        if station_id not in network.by_id:
            fail(f"unknown station {station_id!r}; see `sanjiang network export --json`")
    store = open_users(settings_of(ctx))
    try:
        user = store.add(username, role, _password(password_stdin), station or None)
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()
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


def _change(ctx: typer.Context, change: Callable[[UserStore], None], done: str) -> None:
    """Apply one change to the accounts; a refused one fails with its reason."""
    store = open_users(settings_of(ctx))
    try:
        change(store)
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()
    say(done)


@user_app.command("passwd")
def passwd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password; the user's earlier tokens and sessions stop working."""
    password = _password(password_stdin)
    _change(
        ctx,
        lambda store: store.set_password(username, password),
        f"password of {username} changed; earlier tokens and sessions no longer work",
    )


@user_app.command("disable")
def disable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: no login, and its tokens and sessions stop working at once."""
    _change(ctx, lambda store: store.disable(username), f"user {username} disabled")


@user_app.command("enable")
def enable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled account again (it logs in anew)."""
    _change(ctx, lambda store: store.enable(username), f"user {username} enabled")


def first_admin(settings: Settings) -> str | None:
    """On a deployment without staff accounts, create ``admin`` with a random password, kept in
    ``<var_dir>/secrets/initial-admin-password`` (mode 0600) and returned; None otherwise."""
    store = open_users(settings)
    try:
        if store.count():
            return None
        password = secrets.token_urlsafe(12)
        path = initial_password_path(settings)
        path.touch(mode=0o600)
        path.write_text(password + "\n")
        store.add("admin", "admin", password)
    finally:
        store.close()
    return password


def initial_password_path(settings: Settings) -> Path:
    return settings.secrets_dir / "initial-admin-password"
