"""The latest-state tables of migration 0006 on the real engine: the views over them answer
exactly what 0003's fold over all events answered, events counted twice change nothing, and a
warehouse that had events before 0006 is backfilled when it is migrated."""

from __future__ import annotations

from typing import Any

from projections.migrate import backfill_statement, migrate, migrations
from projections.replay import DATA_TABLES, DatabaseView
from projections.rows import encode_rows, event_row
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from tests.warehouse.test_kpis import the_day

VIEWS = {
    "activity_state": "activity_id",
    "booking_state": "booking_id",
    "registration_state": "registration_id",
}


def select_0003(warehouse: ChdbWarehouse, view: str) -> str:
    """The view's SELECT as 0003 defined it: a fold over every event."""
    (migration,) = [m for m in migrations() if m.version == 3]
    (statement,) = [
        s for s in migration.statements(warehouse.database) if f".{view} AS" in s.split("\n")[0]
    ]
    return statement[statement.index("SELECT") :]


def folded_by_0003(warehouse: ChdbWarehouse, view: str) -> list[list[Any]]:
    select = select_0003(warehouse, view)
    return warehouse.query(f"SELECT * FROM ({select}) ORDER BY {VIEWS[view]}").rows


def current(warehouse: ChdbWarehouse, view: str) -> list[list[Any]]:
    return warehouse.query(f"SELECT * FROM sanjiang.{view} ORDER BY {VIEWS[view]}").rows


def test_views_answer_what_the_full_fold_answered(warehouse: ChdbWarehouse) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in the_day()])
    for view in VIEWS:
        expected = folded_by_0003(warehouse, view)
        assert expected, view
        assert current(warehouse, view) == expected, view
        columns = warehouse.query(f"DESCRIBE sanjiang.{view}").rows
        folded = warehouse.query(f"DESCRIBE ({select_0003(warehouse, view)})").rows
        assert [c[:2] for c in columns] == [c[:2] for c in folded], view  # names and types


def test_an_event_stored_twice_changes_no_state(warehouse: ChdbWarehouse) -> None:
    events = the_day()
    EventWriter(warehouse).write([Positioned(e) for e in events])
    before = {view: current(warehouse, view) for view in VIEWS}
    # Straight into the table, past the writer's id lookup: the views see every event twice.
    warehouse.insert_json_rows("sanjiang.events", encode_rows([event_row(e) for e in events]))
    assert warehouse.query("SELECT count() FROM sanjiang.events").scalar() == 2 * len(events)
    for view in VIEWS:
        assert current(warehouse, view) == before[view], view


def test_migrating_a_warehouse_with_history_backfills_the_state_tables(
    warehouse: ChdbWarehouse,
) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in the_day()])
    expected = {view: current(warehouse, view) for view in VIEWS}
    assert all(expected.values())
    # As if 0006 had never run: its tables and views gone, its record removed.
    for table in ("activity_states", "booking_states", "registration_states"):
        warehouse.command(f"DROP VIEW sanjiang.{table}_mv")
        warehouse.command(f"DROP TABLE sanjiang.{table}")
    warehouse.command(
        "ALTER TABLE sanjiang.schema_migrations DELETE WHERE version = 6 "
        "SETTINGS mutations_sync = 1"
    )
    assert "0006_state_tables" in migrate(warehouse).applied
    for view in VIEWS:
        assert current(warehouse, view) == expected[view], view


def test_backfill_statement_feeds_the_target_through_the_views_select() -> None:
    statement = (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS db.x_mv TO db.x AS\n"
        "SELECT a, max(b) AS b FROM db.events\nGROUP BY a"
    )
    assert backfill_statement(statement) == (
        "INSERT INTO db.x SELECT a, max(b) AS b FROM db.events\nGROUP BY a"
    )
    assert backfill_statement("CREATE TABLE db.x (a String) ENGINE = Memory") is None
    assert backfill_statement("CREATE VIEW db.v AS SELECT 1") is None


def test_views_keep_feeding_the_live_tables_after_a_replay_swap(warehouse: ChdbWarehouse) -> None:
    """Replay exchanges every data table with its rebuilt twin; the materialized views name
    their source and target tables, so new events still reach the live state tables."""
    events = the_day()
    EventWriter(warehouse).write([Positioned(e) for e in events[:10]])
    warehouse.command("CREATE DATABASE sanjiang_replay")
    staging = DatabaseView(warehouse, "sanjiang_replay")
    migrate(staging)
    EventWriter(staging).write([Positioned(e) for e in events[:20]])
    for table in DATA_TABLES:
        warehouse.command(f"EXCHANGE TABLES sanjiang.{table} AND sanjiang_replay.{table}")
    EventWriter(warehouse).write([Positioned(e) for e in events[20:]])

    assert warehouse.query("SELECT count() FROM sanjiang.events").scalar() == len(events)
    assert warehouse.query("SELECT sum(events) FROM sanjiang.rollup_hourly").scalar() == len(events)
    for view in VIEWS:
        assert current(warehouse, view) == folded_by_0003(warehouse, view), view
    # the tables swapped out kept only what they held
    assert warehouse.query("SELECT count() FROM sanjiang_replay.events").scalar() == 10


def test_activity_registrations_count_what_the_registration_fold_counts(
    warehouse: ChdbWarehouse,
) -> None:
    """Per activity, submitted-and-never-cancelled from 0012's sets equals the fold of 0003's
    registration_state; storing every event twice changes nothing."""
    events = the_day()
    writer = EventWriter(warehouse)
    writer.write([Positioned(e) for e in events])
    by_fold = warehouse.query(
        f"SELECT activity_id, countIf(submitted AND NOT cancelled) FROM "
        f"({select_0003(warehouse, 'registration_state')}) GROUP BY activity_id ORDER BY 1"
    ).rows
    sets = """
        SELECT activity_id, length(s) - length(arrayIntersect(s, c))
        FROM (SELECT activity_id, groupUniqArrayArray(submitted) AS s,
                     groupUniqArrayArray(cancelled) AS c
              FROM sanjiang.activity_registrations GROUP BY activity_id)
        ORDER BY 1"""
    assert by_fold and warehouse.query(sets).rows == by_fold
    assert {a: int(n) for a, n in by_fold}["A1"] == 4  # R1-R5, one cancelled
    warehouse.insert_json_rows("sanjiang.events", encode_rows([event_row(e) for e in events]))
    assert warehouse.query(sets).rows == by_fold
