"""``sanjiang kiosk add|revoke|list``: device keys for kiosks and staff consoles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.keys import DeviceKind, KeyStore, KeyStoreError
from api.services import key_store_path
from sanjiang.cli.common import fail, say, settings_of
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
) -> None:
    """Create a key for a device and print it (shown only this once)."""
    network = load_network()
    if station not in network.by_id:
        fail(f"unknown station {station!r}; see `sanjiang network export --json`")
    store = _store(ctx)
    try:
        key = store.add(device_id, station, _kind(kind))
    except KeyStoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    say(f"key for {kind} {device_id} at {station} (store it now; it is not shown again):")
    typer.echo(key)


@kiosk_app.command("revoke")
def revoke(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="Device id.")],
    kind: KindOption = "kiosk",
) -> None:
    """Revoke a device's key; its requests are refused from now on."""
    store = _store(ctx)
    try:
        if not store.revoke(device_id, _kind(kind)):
            fail(f"{kind} {device_id} has no active key")
    finally:
        store.close()
    say(f"revoked the key of {kind} {device_id}")


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
