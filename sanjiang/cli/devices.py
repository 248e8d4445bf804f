"""``sanjiang kiosk add|revoke|list``: device keys for kiosks and staff consoles.

Every key issued or revoked is an audit event (``device_key.changed``, at the device's station;
see ``sanjiang.cli.audit``): a key is issued only with its event written; a revocation is done
even when Kafka is down, with a warning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.access.audit import key_event
from api.keys import DeviceKind, KeyStore, KeyStoreError
from api.services import key_store_path
from sanjiang.cli import audit as cli_audit
from sanjiang.cli.common import fail, say, settings_of
from sanjiang.events import Event
from sanjiang.network import load_network

kiosk_app = typer.Typer(
    help="Device keys: one revocable key per kiosk or console.", no_args_is_help=True
)

KindOption = Annotated[
    str,
    typer.Option(
        "--kind", help="kiosk (residents' actions), console (staff decisions) or analyst (SQL)."
    ),
]


Reason = Annotated[
    str | None, typer.Option("--reason", help="Why (kept in the audit trail, at most 500).")
]

KINDS: dict[str, DeviceKind] = {"kiosk": "kiosk", "console": "console", "analyst": "analyst"}


def _kind(value: str) -> DeviceKind:
    if value not in KINDS:
        fail(f"--kind must be kiosk, console or analyst, not {value!r}")
    return KINDS[value]


def _store(ctx: typer.Context) -> KeyStore:
    return KeyStore(key_store_path(settings_of(ctx)))


@kiosk_app.command("add")
def add(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="Device id, e.g. WS-R03-K1.")],
    station: Annotated[str, typer.Option("--station", help="The station it emits for.")],
    kind: KindOption = "kiosk",
    reason: Reason = None,
) -> None:
    """Create a key for a device and print it (shown only this once)."""
    network = load_network(settings_of(ctx).network_file)
    if station not in network.by_id:
        fail(f"unknown station {station!r}; see `sanjiang network export --json`")
    device_kind = _kind(kind)
    note = cli_audit.reason_of(reason)
    settings = settings_of(ctx)
    keys: list[str] = []
    store = _store(ctx)
    try:
        with cli_audit.open_audit(settings) as audit:

            def issue() -> Event:
                keys.append(store.add(device_id, station, device_kind))
                return key_event(
                    station=station,
                    actor=audit.actor,
                    device_id=device_id,
                    kind=device_kind,
                    change="issued",
                    note=note,
                )

            cli_audit.granting(audit, store.transaction(), issue)
    except KeyStoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    say(f"key for {kind} {device_id} at {station} (store it now; it is not shown again):")
    typer.echo(keys[0])


@kiosk_app.command("revoke")
def revoke(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="Device id.")],
    kind: KindOption = "kiosk",
    reason: Reason = None,
) -> None:
    """Revoke a device's key; its requests are refused from now on (even when Kafka is down:
    the revocation's audit event is then missing, and a warning says so)."""
    device_kind = _kind(kind)
    note = cli_audit.reason_of(reason)
    settings = settings_of(ctx)
    done = f"revoked the key of {kind} {device_id}"
    store = _store(ctx)
    try:
        record = store.active(device_id, device_kind)
        if record is None or not store.revoke(device_id, device_kind):
            fail(f"{kind} {device_id} has no active key")
        station = record.station_id
        with cli_audit.open_audit(settings) as audit:
            cli_audit.taking_away(
                audit,
                lambda: key_event(
                    station=station,
                    actor=audit.actor,
                    device_id=device_id,
                    kind=device_kind,
                    change="revoked",
                    note=note,
                ),
                done,
            )
    finally:
        store.close()
    say(done)


@kiosk_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List devices and their keys (hints only, never the keys)."""
    store = _store(ctx)
    try:
        records = store.records()
    finally:
        store.close()
    typer.echo(f"{'device':<20} {'kind':<8} {'station':<8} {'key':<12} {'created (UTC)':<17} state")
    for r in records:
        created = datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        state = "active" if r.revoked_at is None else "revoked"
        typer.echo(
            f"{r.device_id:<20} {r.kind:<8} {r.station_id:<8} {r.key_hint + '…':<12} "
            f"{created:<17} {state}"
        )
