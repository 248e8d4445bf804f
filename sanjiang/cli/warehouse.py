"""``sanjiang warehouse migrate|load`` and ``sanjiang kpi``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from projections.load import LoadStats
from projections.migrate import MigrateResult
from projections.warehouse import Warehouse
from sanjiang.cli.common import console, fail, say, settings_of
from sanjiang.cli.remote import ApiError, PlatformApi
from sanjiang.network import load_network
from sanjiang.settings import Settings
from sanjiang.taxonomy import load_taxonomy

warehouse_app = typer.Typer(
    help="The ClickHouse warehouse (chDB by default).", no_args_is_help=True
)


def open_migrated(settings: Settings, report: bool = False) -> tuple[Warehouse, MigrateResult]:
    """Open the configured warehouse, apply pending migrations, refresh reference data."""
    from projections.migrate import prepare
    from projections.warehouse import WarehouseError, open_warehouse

    try:
        warehouse = open_warehouse(settings)
        result = prepare(
            warehouse,
            load_network(settings.network_file),
            load_taxonomy(),
            settings.deadletter_retention_days,
            say if report else lambda _: None,
        )
    except WarehouseError as exc:
        fail(str(exc))
    for label in result.changed:
        say(f"[yellow]warning:[/yellow] migration {label} changed after it was applied")
    return warehouse, result


@warehouse_app.command("migrate")
def migrate_cmd(ctx: typer.Context) -> None:
    """Apply pending schema migrations (idempotent) and reload the reference data."""
    warehouse, result = open_migrated(settings_of(ctx), report=True)
    warehouse.close()
    say(f"migrations: {len(result.applied)} applied, {len(result.already)} already there")


@warehouse_app.command("load")
def load_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON of events.")],
) -> None:
    """Load a file of events (e.g. a simulator backfill) through validation and dedup."""
    from projections.load import load_ndjson
    from projections.writer import EventWriter

    settings = settings_of(ctx)
    rejects_path = file.with_suffix(file.suffix + ".rejected")
    if PlatformApi.running(settings) is not None:  # the platform owns the warehouse
        _load_into_running_platform(settings, file, rejects_path)
        return
    warehouse, _ = open_migrated(settings)
    try:
        with (
            rejects_path.open("wb") as rejects,
            Progress(
                TextColumn("[bold]loading[/bold]"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as progress,
        ):
            task = progress.add_task("load", total=file.stat().st_size)
            stats = load_ndjson(
                file,
                EventWriter(warehouse),
                batch_rows=settings.sink_batch_rows,
                rejects=rejects,
                progress=lambda n: progress.advance(task, n),
            )
    finally:
        warehouse.close()
    if stats.rejected == 0:
        rejects_path.unlink(missing_ok=True)
    say(
        f"{stats.lines:,} events read: {stats.written:,} written, {stats.duplicates:,} already "
        f"there, {stats.rejected:,} rejected" + (f" (see {rejects_path})" if stats.rejected else "")
    )


def _load_into_running_platform(settings: Settings, file: Path, rejects_path: Path) -> None:
    """Publish the file's events to the event topic — the sink's path, deduplicated by it —
    and wait until the sink has written them."""
    import asyncio

    from projections.load import publish_ndjson
    from sanjiang.kafka.publisher import EventPublisher

    async def publish(advance: Callable[[int], None], rejects: BinaryIO) -> LoadStats:
        async with EventPublisher(settings) as publisher:
            return await publish_ndjson(file, publisher, rejects=rejects, progress=advance)

    with (
        rejects_path.open("wb") as rejects,
        Progress(
            TextColumn("[bold]publishing[/bold]"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("publish", total=file.stat().st_size)
        stats = asyncio.run(publish(lambda n: progress.advance(task, n), rejects))
    if stats.rejected == 0:
        rejects_path.unlink(missing_ok=True)
    say(
        f"{stats.lines:,} events read: {stats.written:,} published to the running platform "
        f"(its sink skips those already stored), {stats.rejected:,} rejected"
        + (f" (see {rejects_path})" if stats.rejected else "")
    )
    wait_for_sink(settings)


def wait_for_sink(settings: Settings, stalled_after_s: float = 120.0) -> None:
    """Show the warehouse sink catching up with the event topic; return once it has (or say
    that it stopped moving)."""
    import asyncio

    from sanjiang.kafka.lag import group_lag
    from sanjiang.kafka.security import WAREHOUSE_GROUP
    from sanjiang.kafka.topics import Topics

    topic = Topics.from_settings(settings).events

    def lag() -> int:
        return asyncio.run(group_lag(settings, WAREHOUSE_GROUP, topic)) or 0

    behind = lag()
    if not behind:
        return
    moved_at, last, total = time.monotonic(), behind, behind
    with Progress(
        TextColumn("[bold]warehouse sink[/bold] writing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("sink", total=behind)
        while behind:
            time.sleep(0.5)
            behind = lag()
            progress.update(task, completed=total - behind)
            if behind < last:
                moved_at, last = time.monotonic(), behind
            elif time.monotonic() - moved_at > stalled_after_s:
                fail(
                    f"the warehouse sink has not moved for {stalled_after_s:.0f} s "
                    f"({behind:,} events behind); is the API running with its sink?"
                )
    say("the warehouse has them")


def kpi(
    ctx: typer.Context,
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or ISO start.")],
    to: Annotated[str, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD), or ISO end.")],
    station: Annotated[str | None, typer.Option(help="Scope: one station.")] = None,
    venue: Annotated[str | None, typer.Option(help="Scope: one venue.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The four KPIs and the fill rate for a period (Asia/Shanghai) and scope."""
    from projections.kpi import Period, Scope, compute_kpis

    if station and venue:
        fail("give --station or --venue, not both")
    network = load_network(settings_of(ctx).network_file)
    scope = (
        Scope("station", station)
        if station
        else Scope("venue", venue)
        if venue
        else Scope.network()
    )
    settings = settings_of(ctx)
    try:
        period = Period.parse(from_, to, network.tz)
        api = PlatformApi.running(settings)
        if api is not None:  # the platform owns the warehouse: ask its API
            params = {"from": from_, "to": to}
            if station or venue:
                params["station" if station else "venue"] = station or venue or ""
            numbers = api.get("/v1/kpis", params)
        else:
            warehouse, _ = open_migrated(settings)
            try:
                numbers = compute_kpis(warehouse, network, period, scope).as_dict()
            finally:
                warehouse.close()
    except ApiError as exc:
        fail(str(exc))
    except (KeyError, ValueError) as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
    if as_json:
        typer.echo(json.dumps(numbers, ensure_ascii=False, indent=2))
        return

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    from sanjiang.conflicts import CHECKIN_KINDS, EVALUATION_KINDS, LABELS

    def conflicts(total: int, kinds: tuple[str, ...], left_out: str) -> str:
        """The conflicts beside a KPI: how many, by kind (``sanjiang.conflicts``)."""
        by_kind = numbers["conflicts"]
        named = ", ".join(
            f"{LABELS[k]} {by_kind[k]}{' (left out)' if k == left_out else ''}"
            for k in kinds
            if by_kind[k]
        )
        return f"conflicts {total}" + (f": {named}" if named else "")

    say(
        f"{scope.kind} {scope.id or ''}  "
        f"{period.start:%Y-%m-%d %H:%M} → {period.end:%Y-%m-%d %H:%M}"
    )
    say(
        f"  场馆使用率 venue utilization   {pct(numbers['venue_utilization']):>7}  "
        f"({numbers['taken_hours']:.1f} of {numbers['open_hours']:.1f} open hours; "
        "conflicts 0: decisions only)"
    )
    say(
        f"  项目精准率 project precision   {pct(numbers['project_precision']):>7}  "
        f"(demand {numbers['demand_events']}, capacity {numbers['supplied_capacity']}; "
        f"fill rate {pct(numbers['fill_rate'])}; conflicts 0: decisions only)"
    )
    say(
        f"  居民参与率 participation       {pct(numbers['resident_participation']):>7}  "
        f"({numbers['participants']} of {numbers['population']} residents; "
        + conflicts(numbers["participation_conflicts"], CHECKIN_KINDS, "unknown_venue")
        + ")"
    )
    say(
        f"  服务满意率 satisfaction        {pct(numbers['service_satisfaction']):>7}  "
        f"({numbers['satisfied_evaluations']} of {numbers['evaluations']} evaluations; "
        + conflicts(numbers["satisfaction_conflicts"], EVALUATION_KINDS, "not_attended")
        + ")"
    )


def sink(ctx: typer.Context) -> None:
    """Run the warehouse sink and the ops sink alone (for a ClickHouse server; with chDB the
    API hosts them)."""
    import asyncio
    import contextlib

    from projections.ops_sink import OpsSink
    from projections.sink import WarehouseSink, backlog_sampler
    from sanjiang import metrics

    settings = settings_of(ctx)
    if settings.clickhouse_url is None:
        say(
            "[yellow]note:[/yellow] with embedded chDB the API hosts the sink; "
            "run this only without the API"
        )
    warehouse, _ = open_migrated(settings)

    async def both() -> None:
        stop = asyncio.Event()
        sink = WarehouseSink(settings, warehouse, report=say)
        backlog = backlog_sampler(settings, sink.group_id, sink.topics.events)
        await asyncio.gather(
            sink.run(stop),
            OpsSink(settings, warehouse, report=say).run(stop),
            backlog.follow(stop),
        )

    metrics.expose("sink")
    metrics.serve("sink", settings.metrics_host, settings.sink_metrics_port)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(both())
    finally:
        warehouse.close()


def replay(
    ctx: typer.Context,
    idle: Annotated[
        float, typer.Option(help="Stop when no event arrived for this many seconds.")
    ] = 5.0,
) -> None:
    """Rebuild the warehouse from Kafka offset 0 into fresh tables and swap them in."""
    import asyncio

    from projections.replay import replay as run_replay

    settings = settings_of(ctx)
    warehouse, _ = open_migrated(settings)
    try:
        result = asyncio.run(
            run_replay(
                settings,
                warehouse,
                load_network(settings.network_file),
                load_taxonomy(),
                idle_s=idle,
                report=say,
            )
        )
    finally:
        warehouse.close()
    say(
        f"replayed in {result.seconds:.0f}s: {result.events_after:,} events now "
        f"(before: {result.events_before:,}); {result.duplicates_skipped:,} duplicates skipped, "
        f"{result.dead_lettered:,} dead-lettered; old tables kept in {result.previous_database}"
    )


def reconcile_cmd(
    ctx: typer.Context,
    window: Annotated[str, typer.Option(help="A closed day YYYY-MM-DD, or a range D1..D2.")],
) -> None:
    """Compare the live counters and KPIs of closed windows with the warehouse (every station
    and the network); exit 1 on a difference, 2 when no day asked can be compared yet."""
    import asyncio

    from api.live import read_live_topic
    from projections.reconcile import Difference, closes_at, reconcile, split_closed

    settings = settings_of(ctx)
    first_text, _, last_text = window.partition("..")
    try:
        first = date.fromisoformat(first_text)
        last = date.fromisoformat(last_text or first_text)
    except ValueError:
        fail(f"--window must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, not {window!r}")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    network = load_network(settings.network_file)
    grace = timedelta(hours=settings.live_grace_h)
    days, still_open = split_closed(days, datetime.now(UTC), network, grace)
    for day in still_open:
        closes = closes_at(day, network, grace).isoformat(sep=" ", timespec="minutes")
        say(f"  {day} cannot be reconciled yet: it is still open (late events until {closes})")
    if not days:
        fail("nothing to reconcile yet: a day is compared once its window has closed", code=2)
    api = PlatformApi.running(settings)
    if api is not None:  # the platform owns the warehouse: ask its API, a day at a time
        checked, differences, not_final = 0, [], []
        for day in days:  # (a day is some 40 KPI calls: seconds; a month in one request, minutes)
            try:
                answer = api.get("/v1/reconcile", {"from": str(day), "to": str(day)})
            except ApiError as exc:
                fail(str(exc))
            checked += int(answer["windows"])
            differences += [Difference(**d) for d in answer["differences"]]
            not_final += [date.fromisoformat(d) for d in answer.get("not_final", [])]
    else:
        views = asyncio.run(read_live_topic(settings))
        warehouse, _ = open_migrated(settings)
        try:
            result = reconcile(warehouse, network, views, days, grace)
        finally:
            warehouse.close()
        checked, differences, not_final = result.windows, result.differences, result.not_final
    for day in not_final:
        say(
            f"  {day} cannot be reconciled yet: the stream worker has not published its final "
            "live figures (is it running? `sanjiang streams`)"
        )
    for d in differences:
        say(
            f"  {d.day} {d.station_id:<8} {d.counter:<42} "
            f"live {_number(d.live):>22}  warehouse {_number(d.warehouse):>22}"
        )
    if differences:
        fail(f"{len(differences)} differences in {checked} windows (stations and the network)")
    if not checked:
        fail("nothing reconciled: no closed day asked has final live figures yet", code=2)
    say(
        f"reconciled {checked} windows (stations and the network, day by day): live counters "
        "and KPIs equal the warehouse"
    )


def _number(value: int | float | None) -> str:
    """A compared figure as printed: None as a dash, a ratio with every digit it has."""
    return "—" if value is None else repr(value)
