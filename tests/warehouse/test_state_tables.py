"""The latest-state tables of migration 0006 on the real engine: the views over them answer
exactly what 0003's fold over all events answered (and, since 0015, whether an activity
requires registration: the latest rule, as a fold over all events gives it), events counted
twice change nothing, and a warehouse that had events before 0006, or before 0015, is
backfilled when it is migrated."""

from __future__ import annotations

from typing import Any

from projections.migrate import backfill_statement, migrate, migrations
from projections.order import VERSION
from projections.replay import DATA_TABLES, DatabaseView
from projections.rows import encode_rows, event_row
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from sanjiang.events import Event
from sanjiang.events import payloads as p
from tests.warehouse.test_kpis import at, ev, published, the_day

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


#: The column 0015 adds to ``activity_state``, folded over every event: the latest rule an
#: activity's publications and updates set.
RULE_FOLD = f"""
    SELECT activity_id,
           toUInt8(argMaxIf(assumeNotNull(registration_required), {VERSION},
                            type IN ('activity.published', 'activity.updated')
                            AND registration_required IS NOT NULL)) AS registration_required
    FROM sanjiang.events
    WHERE type IN ('activity.designed', 'activity.published', 'activity.updated',
                   'activity.cancelled')
    GROUP BY activity_id"""


def select_full(warehouse: ChdbWarehouse, view: str) -> str:
    """The view's answer as a fold over every event: 0003's, with 0015's column."""
    select = select_0003(warehouse, view)
    if view != "activity_state":
        return select
    return f"SELECT * FROM ({select}) AS f LEFT JOIN ({RULE_FOLD}) AS r USING (activity_id)"


def folded_by_0003(warehouse: ChdbWarehouse, view: str) -> list[list[Any]]:
    select = select_full(warehouse, view)
    return warehouse.query(f"SELECT * FROM ({select}) ORDER BY {VIEWS[view]}").rows


def current(warehouse: ChdbWarehouse, view: str) -> list[list[Any]]:
    return warehouse.query(f"SELECT * FROM sanjiang.{view} ORDER BY {VIEWS[view]}").rows


def rules() -> list[Event]:
    """Activities whose rule is set when published and changed by updates (not in order of
    their times), or left as it was by an update of something else."""
    return [
        published("A4", "handcraft", "qiaoshou_workshop", at(15), at(16), 10, required=True),
        ev(p.ActivityUpdated(activity_id="A4", title="A4 改"), at(9)),  # the rule stays
        published("A5", "handcraft", "qiaoshou_workshop", at(16), at(17), 10),
        ev(p.ActivityUpdated(activity_id="A5", registration_required=False), at(9, 30)),
        ev(p.ActivityUpdated(activity_id="A5", registration_required=True), at(9, 10)),
        ev(p.ActivityUpdated(activity_id="A1", registration_required=True), at(8, 30)),
    ]


def test_views_answer_what_the_full_fold_answered(warehouse: ChdbWarehouse) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in the_day() + rules()])
    for view in VIEWS:
        expected = folded_by_0003(warehouse, view)
        assert expected, view
        assert current(warehouse, view) == expected, view
        columns = warehouse.query(f"DESCRIBE sanjiang.{view}").rows
        folded = warehouse.query(f"DESCRIBE ({select_full(warehouse, view)})").rows
        assert [c[:2] for c in columns] == [c[:2] for c in folded], view  # names and types
    required = warehouse.query(
        "SELECT activity_id, registration_required FROM sanjiang.activity_state ORDER BY 1"
    ).rows
    assert required == [["A1", 1], ["A2", 0], ["A3", 0], ["A4", 1], ["A5", 0]]


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
    # ... and 0015, which adds a column to one of them, recorded after it
    warehouse.command(
        "ALTER TABLE sanjiang.schema_migrations DELETE WHERE version IN (6, 15) "
        "SETTINGS mutations_sync = 1"
    )
    applied = migrate(warehouse).applied
    assert applied == ["0006_state_tables", "0015_registration_required"]
    for view in VIEWS:
        assert current(warehouse, view) == expected[view], view


def test_migrating_a_warehouse_with_history_gives_its_activities_their_rule(
    warehouse: ChdbWarehouse,
) -> None:
    """Events stored before 0015 (without the column, some written by the deciders' new
    versions already) read the rule from their payload, and the state tables are fed it (and
    0016's and 0020's, which came after, read it too)."""
    # a warehouse as the release before 0015 left it, with its history
    warehouse.command("DROP DATABASE sanjiang")
    warehouse.command("CREATE DATABASE sanjiang")
    migrate(warehouse, upto=14)
    rows = [event_row(e) for e in the_day() + rules()]
    for row in rows:
        del row["registration_required"], row["occurred_at_us"]
    warehouse.insert_json_rows("sanjiang.events", encode_rows(rows))
    assert migrate(warehouse).applied == [
        "0015_registration_required",
        "0016_conflict_inputs",
        "0020_canonical_order",
    ]
    stored = warehouse.query(
        "SELECT type, registration_required, count() FROM sanjiang.events "
        "WHERE type LIKE 'activity.%' GROUP BY 1, 2 ORDER BY 1, 2"
    ).rows
    # publications without the rule require none; updates without it leave it as it was
    assert stored == [
        ["activity.cancelled", None, 1],
        ["activity.published", False, 4],
        ["activity.published", True, 1],
        ["activity.updated", False, 1],
        ["activity.updated", True, 2],
        ["activity.updated", None, 2],
    ]
    assert current(warehouse, "activity_state") == folded_by_0003(warehouse, "activity_state")
    required = warehouse.query(
        "SELECT activity_id FROM sanjiang.activity_state WHERE registration_required"
    ).rows
    assert sorted(required) == [["A1"], ["A4"]]
    ruled = warehouse.query(
        "SELECT activity_id FROM sanjiang.activity_rules GROUP BY activity_id "
        "HAVING max(required_v).3 ORDER BY activity_id"
    ).rows
    assert ruled == [["A1"], ["A4"]]


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
