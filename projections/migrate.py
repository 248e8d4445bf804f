"""Versioned schema migrations, applied once each and recorded, plus the reference data.

Migrations are the ``NNNN_name.sql`` files beside this module; ``{db}`` stands for the
warehouse database. Each applied file is recorded with its checksum in
``schema_migrations``; an applied file that changed afterwards is reported, never re-run.

A materialized view only sees rows inserted after it exists, so when a migration creates one
(``CREATE MATERIALIZED VIEW … TO target AS SELECT …``) the rows its source already holds are
inserted into the target right after, through the view's own SELECT: a view added to a
warehouse with history covers that history. Run migrations with the sink stopped (the API and
the CLI migrate before anything writes); an insert racing the backfill would reach the target
twice, which only idempotent targets (max/min/argMax states) shrug off.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import orjson

from projections.warehouse import Warehouse
from sanjiang.network import WEEKDAYS, Network
from sanjiang.taxonomy import Taxonomy


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str) -> list[str]:
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip().replace("{db}", database) for s in body.split(";") if s.strip()]


_VIEW = re.compile(
    r"CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+TO\s+(\S+)\s+AS\s+(SELECT\b.*)",
    re.IGNORECASE | re.DOTALL,
)


def backfill_statement(statement: str) -> str | None:
    """For a statement creating a materialized view with a ``TO`` table, the INSERT that feeds
    the table from what the view's source holds already; None for any other statement."""
    match = _VIEW.match(statement.strip())
    if match is None:
        return None
    target, select = match.groups()
    return f"INSERT INTO {target} {select}"


def migrations() -> list[Migration]:
    """The migration files shipped with the package, in version order."""
    folder = resources.files("projections").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(version), name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


@dataclass(frozen=True)
class MigrateResult:
    applied: list[str]
    already: list[str]
    changed: list[str]


def migrate(
    warehouse: Warehouse, report: Callable[[str], None] = lambda _: None, upto: int | None = None
) -> MigrateResult:
    """Apply the migrations not yet recorded (those up to version ``upto``, if given: a
    warehouse as an older release left it, for tests); idempotent."""
    db = warehouse.database
    warehouse.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, "
        "checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    recorded = {
        row[0]: row[1]
        for row in warehouse.query(f"SELECT version, checksum FROM {db}.schema_migrations").rows
    }
    applied, already, changed = [], [], []
    for migration in migrations():
        if upto is not None and migration.version > upto:
            break
        label = f"{migration.version:04d}_{migration.name}"
        if migration.version in recorded:
            already.append(label)
            if recorded[migration.version] != migration.checksum:
                changed.append(label)
            continue
        report(f"applying {label}")
        for statement in migration.statements(db):
            warehouse.command(statement)
            backfill = backfill_statement(statement)
            if backfill is not None:
                warehouse.command(backfill)
        row = {"version": migration.version, "name": migration.name, "checksum": migration.checksum}
        warehouse.insert_json_rows(f"{db}.schema_migrations", orjson.dumps(row))
        applied.append(label)
    return MigrateResult(applied, already, changed)


def load_reference(warehouse: Warehouse, network: Network, taxonomy: Taxonomy) -> None:
    """Replace the reference tables with the repository's network and taxonomy."""
    db = warehouse.database
    stations = [
        {
            "station_id": s.id,
            "kind": s.kind,
            "name": s.name,
            "lat": s.lat,
            "lon": s.lon,
            "population": network.population(s.id),
        }
        for s in network.stations
    ]
    venues = [
        {
            "venue_id": v.id,
            "station_id": s.id,
            "name": v.name,
            "kind": v.kind,
            "capacity": v.capacity,
            "bookable": v.bookable,
        }
        for s in network.stations
        for v in s.venues
    ]
    hours = [
        {
            "venue_id": v.id,
            "station_id": s.id,
            "weekday": WEEKDAYS.index(day) + 1,
            "open_min": i.start.hour * 60 + i.start.minute,
            "close_min": i.end.hour * 60 + i.end.minute,
        }
        for s in network.stations
        for v in s.venues
        for day, intervals in v.opening_hours.items()
        for i in intervals
    ]
    serves = [
        {"station_id": s.id, "served_id": served}
        for s in network.stations
        for served in network.served_residential(s.id)
    ]
    families = {f.id: f.name for f in taxonomy.families}
    categories = [
        {"category": c.id, "name": c.name, "family": c.family, "family_name": families[c.family]}
        for c in taxonomy.categories
    ]
    programs = [
        {"program": p.id, "name": p.name, "category": p.category} for p in taxonomy.programs
    ]
    for table, rows in (
        ("stations", stations),
        ("venues", venues),
        ("venue_hours", hours),
        ("station_serves", serves),
        ("categories", categories),
        ("programs", programs),
    ):
        warehouse.command(f"TRUNCATE TABLE {db}.{table}")
        warehouse.insert_json_rows(f"{db}.{table}", b"\n".join(orjson.dumps(r) for r in rows))


def apply_retention(warehouse: Warehouse, deadletter_days: int) -> bool:
    """Keep the warehouse's copy of dead letters as long as their topic keeps them (a TTL on
    ``dead_letters``, set when it differs); True when it changed."""
    db = warehouse.database
    engine = warehouse.query(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} "
        "AND name = 'dead_letters'",
        {"db": db},
    ).scalar()
    if (
        engine is None
        or f"TTL toDateTime(rejected_at) + toIntervalDay({deadletter_days})" in engine
    ):
        return False
    warehouse.command(
        f"ALTER TABLE {db}.dead_letters "
        f"MODIFY TTL toDateTime(rejected_at) + INTERVAL {int(deadletter_days)} DAY"
    )
    return True


def prepare(
    warehouse: Warehouse,
    network: Network,
    taxonomy: Taxonomy,
    deadletter_days: int,
    report: Callable[[str], None] = lambda _: None,
) -> MigrateResult:
    """Everything a process that owns the warehouse does before it writes: pending migrations,
    the reference data, the dead letters' retention."""
    result = migrate(warehouse, report)
    load_reference(warehouse, network, taxonomy)
    apply_retention(warehouse, deadletter_days)
    return result
