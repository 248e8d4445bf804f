"""Rebuild the warehouse from the Kafka log: into fresh tables, then swapped in.

The log is the truth: a replay reads the event topic from offset 0 with a new consumer group,
through the same sink (validation, dedup, rollups), into a staging database; then each data
table is exchanged atomically with its live twin (``EXCHANGE TABLES``), so queries switch from
the old tables to the rebuilt ones at once. The old tables stay in ``<db>_previous`` for
comparison or rollback. Run it with the live sink stopped (in the embedded profile the API,
which hosts the sink, owns chDB anyway): events the live sink writes during a replay would stay
in the old tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from projections.compact import compact_rollups
from projections.migrate import load_reference, migrate
from projections.sink import WarehouseSink
from projections.warehouse import Warehouse, WarehouseProxy
from sanjiang.network import Network
from sanjiang.settings import Settings
from sanjiang.taxonomy import Taxonomy

#: Tables that hold data derived from the log (reference tables are reloaded, not replayed).
DATA_TABLES = (
    "events",
    "event_ids",
    "rollup_hourly",
    "rollup_daily",
    "rollup_station_daily",
    "activity_states",
    "booking_states",
    "registration_states",
    "activity_registrations",
    "activity_checkins",
    "activity_rules",
    "activity_places",
    "sink_progress",
)


class DatabaseView(WarehouseProxy):
    """The same warehouse connection, addressing another database."""

    def close(self) -> None:
        """The connection belongs to the wrapped warehouse; nothing to close here."""


@dataclass(frozen=True)
class ReplayResult:
    events_before: int
    events_after: int
    duplicates_skipped: int
    dead_lettered: int
    seconds: float
    previous_database: str


async def replay(
    settings: Settings,
    warehouse: Warehouse,
    network: Network,
    taxonomy: Taxonomy,
    *,
    idle_s: float = 5.0,
    timeout_s: float = 3600.0,
    report: Callable[[str], None] = lambda _: None,
) -> ReplayResult:
    """Rebuild every data table from offset 0 and swap the rebuilt tables in."""
    db = warehouse.database
    staging, previous = f"{db}_replay", f"{db}_previous"
    started = time.monotonic()
    warehouse.command(f"DROP DATABASE IF EXISTS {staging}")
    warehouse.command(f"CREATE DATABASE {staging}")
    target = DatabaseView(warehouse, staging)
    migrate(target)
    load_reference(target, network, taxonomy)
    group = f"sanjiang-replay-{int(time.time())}"
    report(f"replaying the event log from offset 0 into {staging} (consumer group {group})")
    sink = WarehouseSink(settings, target, group_id=group, report=report)
    stats = await sink.run_until_idle(idle_s=idle_s, timeout_s=timeout_s)
    compact_rollups(target)
    before = int(warehouse.query(f"SELECT count() FROM {db}.events").scalar())
    after = int(warehouse.query(f"SELECT count() FROM {staging}.events").scalar())
    report(f"rebuilt {after:,} events (the live tables hold {before:,}); swapping tables in")
    for table in DATA_TABLES:
        warehouse.command(f"EXCHANGE TABLES {db}.{table} AND {staging}.{table}")
    warehouse.command(f"DROP DATABASE IF EXISTS {previous}")
    warehouse.command(f"RENAME DATABASE {staging} TO {previous}")
    return ReplayResult(
        events_before=before,
        events_after=after,
        duplicates_skipped=stats.duplicates,
        dead_lettered=stats.dead_lettered,
        seconds=time.monotonic() - started,
        previous_database=previous,
    )
