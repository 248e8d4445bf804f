"""``sanjiang dashboards``: build the Grafana JSON and provisioning, push it, check its SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from sanjiang.cli.common import fail, say, settings_of
from sanjiang.cli.remote import ApiError, PlatformApi, RemoteWarehouse

dashboards_app = typer.Typer(help="Grafana dashboards as code.", no_args_is_help=True)


@dashboards_app.command("build")
def build(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory to write into.")] = Path("infra/grafana"),
) -> None:
    """Write one JSON file per dashboard and Grafana's provisioning files."""
    from dashboards.provisioning import build as build_all

    result = build_all(settings_of(ctx), out)
    for path in [*result.dashboards, *result.provisioning]:
        say(f"  wrote {path}")
    say(f"{len(result.dashboards)} dashboards and {len(result.provisioning)} provisioning files")


@dashboards_app.command("push")
def push(ctx: typer.Context) -> None:
    """Create or update the datasources, folder and dashboards in SANJIANG_GRAFANA_URL."""
    from dashboards.provisioning import dashboards_for, datasources
    from dashboards.push import PushError, connect
    from dashboards.push import push as push_all

    settings = settings_of(ctx)
    if settings.grafana_url is None:
        fail("set SANJIANG_GRAFANA_URL (e.g. http://admin:admin@127.0.0.1:3000)")
    if settings.grafana_clickhouse_password is None:
        say(
            "[yellow]note:[/yellow] SANJIANG_GRAFANA_CLICKHOUSE_PASSWORD is not set: the "
            "datasource gets no password"
        )
    token = settings.grafana_token.get_secret_value() if settings.grafana_token else None
    secret = settings.grafana_clickhouse_password
    password = secret.get_secret_value() if secret is not None else None
    try:
        report = push_all(
            connect(settings.grafana_url, token),
            datasources(settings, password),
            dashboards_for(settings),
            report=say,
        )
    except PushError as exc:
        fail(str(exc))
    say(f"pushed {len(report.dashboards)} dashboards")


@dashboards_app.command("check")
def check(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, help="Time range: the last N days.")] = 7,
    slow_ms: Annotated[
        float, typer.Option(help="Mark panels slower than this (the latency target).")
    ] = 100.0,
) -> None:
    """Run every panel's query against the configured warehouse; fail on any error."""
    from dashboards.check import check_all, last_days
    from dashboards.provisioning import dashboards_for
    from projections.warehouse import WarehouseError, open_warehouse

    settings = settings_of(ctx)
    api = PlatformApi.running(settings)
    try:  # with the platform running, through its API (analyst SQL, the caller's grant)
        warehouse = (
            RemoteWarehouse(api, settings.clickhouse_database)
            if api is not None
            else open_warehouse(settings)
        )
    except WarehouseError as exc:
        fail(str(exc))
    failures = slow = 0
    try:
        for run in check_all(
            warehouse, dashboards_for(settings), last_days(days, datetime.now(UTC))
        ):
            where = f" [{run.variables}]" if run.variables else ""
            line = f"{run.dashboard} / {run.panel}{where}: {run.rows} rows, {run.ms:.0f} ms"
            if not run.ok:
                failures += 1
                problem = run.error or "missing columns " + ", ".join(run.missing)
                say(f"[red]FAIL[/red]  {line}: {problem}")
            elif run.ms > slow_ms:
                slow += 1
                say(f"[yellow]slow[/yellow]  {line}, columns {', '.join(run.columns)}")
            else:
                say(f"  ok  {line}, columns {', '.join(run.columns)}")
    except (WarehouseError, ApiError) as exc:
        fail(str(exc))
    finally:
        warehouse.close()
    if failures:
        fail(f"{failures} panel queries failed")
    say(f"every panel query ran; {slow} slower than {slow_ms:.0f} ms")
