"""The ``sanjiang`` command line: one typer app; settings are built once here and passed down."""

from __future__ import annotations

import sys

import typer

from sanjiang.cli import (
    api,
    catalog,
    dashboards,
    deciders,
    devices,
    kafka,
    simulate,
    streams,
    up,
    users,
    warehouse,
)
from sanjiang.cli.common import fail
from sanjiang.settings import ConfigError, load_settings

app = typer.Typer(
    name="sanjiang",
    help="三江驿 Sanjiang: event-sourced situational awareness for community service networks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kafka.kafka_app, name="kafka")
app.add_typer(kafka.topics_app, name="topics")
app.add_typer(catalog.schema_app, name="schema")
app.add_typer(catalog.network_app, name="network")
app.add_typer(devices.kiosk_app, name="kiosk")
app.add_typer(users.user_app, name="user")
app.command("up")(up.up)
app.command("api")(api.api)
app.command("simulate")(simulate.simulate)
app.add_typer(warehouse.warehouse_app, name="warehouse")
app.command("kpi")(warehouse.kpi)
app.command("sink")(warehouse.sink)
app.command("replay")(warehouse.replay)
app.command("streams")(streams.streams)
app.command("build-fold")(streams.build_fold)
app.command("deciders")(deciders.deciders)
app.command("reconcile")(warehouse.reconcile_cmd)
app.add_typer(dashboards.dashboards_app, name="dashboards")


@app.callback()
def _settings(ctx: typer.Context) -> None:
    """Build the settings once from the environment; every command receives them."""
    try:
        ctx.obj = load_settings()
    except ConfigError as exc:
        fail(str(exc), code=2)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
