""" "Latest" is one order, live and in the warehouse (DESIGN.md): occurred_at to the microsecond,
then event_id in its canonical (RFC 9562) text order — not ClickHouse's UUID order, which
compares an id's second half first, and not occurred_at's milliseconds.

Two evaluations (or two updates) in one millisecond, whose ids' UUID order and text order
differ, are decided alike by the live fold and by every warehouse path: the KPI statements,
the state tables and their views, reconciliation's per-day counts."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dashboards.boards import all_dashboards
from projections.kpi import KpiReport, Period, Scope, compute_kpis
from projections.order import VERSION
from projections.reconcile import reconcile, warehouse_counts
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event, stamp_received
from sanjiang.ids import uuid7_from_rng
from sanjiang.network import load_network
from streams.state import LiveState
from streams.views import live_views
from tests.warehouse.test_kpis import TUESDAY, VENUE, at, checkin, published

NETWORK = load_network()
GRACE = timedelta(hours=6)
ROOT = Path(__file__).resolve().parents[2]


def pair(when: datetime) -> tuple[uuid.UUID, uuid.UUID]:
    """Two UUIDv7 ids of the millisecond of ``when``, early and late: by their text (and their
    128 bits) early < late, since the first half, where the counter sits, decides; ClickHouse's
    UUID type compares the second half first, where early's random bits are the larger."""
    ms = int(when.timestamp() * 1000)
    return uuid7_from_rng(ms, 1 << 62 | (1 << 62) - 1), uuid7_from_rng(ms, 2 << 62 | 1)


MS = int(at(11, 30).timestamp() * 1000)
EARLY, LATE = pair(at(11, 30))
UPDATED_EARLY, UPDATED_LATE = pair(at(7, 30))


def event(payload: p.Payload, when: datetime, event_id: uuid.UUID, who: str | None) -> Event:
    made = new_event(
        payload,
        station_id="WS-R03",
        source="kiosk:WS-R03-K1" if who else "console:WS-R03-deciders",
        occurred_at=when,
        resident=None if who is None else checkin(who, when).resident,
        event_id=event_id,
    )
    return stamp_received(made, when, timedelta(minutes=5))


def test_clickhouse_uuids_do_not_sort_as_their_text(warehouse: ChdbWarehouse) -> None:
    assert str(EARLY) < str(LATE) and EARLY.int < LATE.int
    assert EARLY.int >> 80 == LATE.int >> 80 == MS  # one millisecond
    row = warehouse.query(
        "SELECT toUUID({a:String}) < toUUID({b:String}), "
        "toString(toUUID({a:String})) < toString(toUUID({b:String}))",
        {"a": str(EARLY), "b": str(LATE)},
    ).rows[0]
    assert [bool(v) for v in row] == [False, True]  # as UUIDs EARLY is the later one
    # the text order is the ids' 128-bit order, for any ids (what the live fold compares)
    rng = random.Random(5)
    ids = [uuid7_from_rng(MS + rng.randrange(3), rng.getrandbits(74)) for _ in range(300)]
    ranked = warehouse.query(
        "SELECT groupArray(s) FROM (SELECT arrayJoin({ids:Array(String)}) AS s "
        "ORDER BY toString(toUUID(s)))",
        {"ids": [str(i) for i in ids]},
    ).scalar()
    assert list(ranked) == [str(i) for i in sorted(ids, key=lambda i: i.int)]
    assert sorted(str(i) for i in ids) == [str(i) for i in sorted(ids, key=lambda i: i.int)]


def same_millisecond() -> list[Event]:
    """Resident r1 came to A1 and rated it twice in one millisecond (1 star as EARLY, 5 as
    LATE), r2 twice in one millisecond at other microseconds (5 stars at .000300 with the
    larger id, 2 stars at .000700); A1's capacity and venue were updated twice in one
    millisecond (to 30 in the gym as EARLY, to 5 in the room as LATE)."""
    r2_first = at(11, 40).replace(microsecond=300)
    r2_second = at(11, 40).replace(microsecond=700)
    r2_ms = int(r2_first.timestamp() * 1000)
    return [
        published("A1", "handcraft", "qiaoshou_workshop", at(9), at(11), 20),
        event(
            p.ActivityUpdated(activity_id="A1", capacity=30, venue_id="WS-R03-GYM"),
            at(7, 30),
            UPDATED_EARLY,
            None,
        ),
        event(
            p.ActivityUpdated(activity_id="A1", capacity=5, venue_id=VENUE),
            at(7, 30),
            UPDATED_LATE,
            None,
        ),
        checkin("r1", at(9)),
        checkin("r2", at(9, 1)),
        event(p.EvaluationSubmitted(activity_id="A1", rating=1), at(11, 30), EARLY, "r1"),
        event(p.EvaluationSubmitted(activity_id="A1", rating=5), at(11, 30), LATE, "r1"),
        event(
            p.EvaluationSubmitted(activity_id="A1", rating=5),
            r2_first,
            uuid7_from_rng(r2_ms, 3 << 62),
            "r2",
        ),
        event(
            p.EvaluationSubmitted(activity_id="A1", rating=2),
            r2_second,
            uuid7_from_rng(r2_ms, 1 << 62),
            "r2",
        ),
    ]


@pytest.fixture
def loaded(warehouse: ChdbWarehouse) -> ChdbWarehouse:
    events = same_millisecond()
    assert EventWriter(warehouse).write([Positioned(e) for e in events]).written == len(events)
    return warehouse


def kpis(warehouse: ChdbWarehouse) -> KpiReport:
    period = Period(TUESDAY, TUESDAY + timedelta(days=1))
    return compute_kpis(warehouse, NETWORK, period, Scope("station", "WS-R03"))


def test_the_latest_of_one_millisecond_is_decided_alike(loaded: ChdbWarehouse) -> None:
    state = LiveState(NETWORK, grace=GRACE)
    for e in same_millisecond():
        state.apply(e)
    # live: r1's LATE (5 stars) and r2's at .000700 (2 stars); A1 has 5 places in the room
    live = state.summary(TUESDAY.date(), "WS-R03")
    assert (live["satisfied_evaluations"], live["evaluations"]) == (1, 2)
    a1 = state.activities["A1"]
    assert (a1.capacity, a1.venue_id) == (5, VENUE)
    # the warehouse's KPIs, state views and per-day counts decide the same
    report = kpis(loaded)
    assert (report.satisfied_evaluations, report.evaluations) == (1, 2)
    assert (report.supplied_capacity, report.taken_hours) == (5, 2)
    db = loaded.database
    row = loaded.query(
        f"SELECT capacity, venue_id FROM {db}.activity_state WHERE activity_id = 'A1'"
    ).rows[0]
    assert (int(row[0]), row[1]) == (5, VENUE)
    day = warehouse_counts(loaded, NETWORK, TUESDAY.date(), GRACE)["WS-R03"]
    assert (day["satisfied_evaluations"], day["evaluations"]) == (1, 2)
    # and the live views' KPIs of the closed day reconcile, station by station
    views = live_views(state, TUESDAY + timedelta(days=1) + GRACE)
    result = reconcile(loaded, NETWORK, views, [TUESDAY.date()], GRACE)
    assert result.ok and result.windows == len(NETWORK.stations) + 1
    # ClickHouse's own orders would have decided otherwise: as UUIDs EARLY is the latest, and
    # at milliseconds r2's two evaluations tie and the larger id (5 stars) wins
    wrong = loaded.query(
        f"SELECT resident, argMax(rating, (occurred_at, event_id)) FROM {db}.events "
        "WHERE type = 'evaluation.submitted' GROUP BY resident ORDER BY resident"
    ).rows
    right = loaded.query(
        f"SELECT resident, argMax(rating, {VERSION}) FROM {db}.events "
        "WHERE type = 'evaluation.submitted' GROUP BY resident ORDER BY resident"
    ).rows
    by_resident = {checkin(r, at(9)).resident: r for r in ("r1", "r2")}
    assert {by_resident[r]: int(v) for r, v in wrong} == {"r1": 1, "r2": 5}
    assert {by_resident[r]: int(v) for r, v in right} == {"r1": 5, "r2": 2}


def test_microseconds_are_stored(loaded: ChdbWarehouse) -> None:
    kept = loaded.query(
        f"SELECT toString(occurred_at_us), toString(occurred_at) FROM {loaded.database}.events "
        "WHERE type = 'evaluation.submitted' ORDER BY occurred_at_us"
    ).rows
    assert [r[0][-6:] for r in kept] == ["000000", "000000", "000300", "000700"]
    assert [r[1][-3:] for r in kept] == ["000"] * 4


#: SQL that ranks events by the raw columns: occurred_at (milliseconds) then a UUID
_RAW_ORDER = re.compile(
    r"occurred_at\s*,\s*event_id|occurred_at\s+DESC\s*,\s*event_id|\(\s*occurred_at\s*,\s*"
    r"(?:event_id|[^()]*\bevent_id\b)",
    re.IGNORECASE,
)


def test_no_sql_ranks_events_by_the_raw_columns(warehouse: ChdbWarehouse) -> None:
    """Every latest or first row the warehouse picks uses ``VERSION``: the SQL in the code, the
    dashboards' panels, and the views and materialized views of the migrated schema."""
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for folder in ("projections", "dashboards", "api")
        for path in (ROOT / folder).rglob("*.py")
        for match in _RAW_ORDER.finditer(path.read_text(encoding="utf-8"))
    ]
    for board in all_dashboards("sanjiang", "sanjiang.events"):
        for panel in board.panels:
            found += [f"{board.uid}/{panel.title}" for _ in _RAW_ORDER.finditer(panel.query.sql)]
    objects = warehouse.query(
        "SELECT name, create_table_query FROM system.tables "
        "WHERE database = {db:String} AND engine IN ('View', 'MaterializedView')",
        {"db": warehouse.database},
    ).rows
    assert len(objects) > 10
    for name, create in objects:
        if name == "event_ids_mv":  # copies ids, ranks nothing
            continue
        found += [f"{name}: {m.group(0)}" for m in _RAW_ORDER.finditer(create)]
        bare = re.findall(r"(?<!toString\()\bevent_id\b", create)
        found += [f"{name}: event_id compared as a UUID"] * len(bare)
    assert found == []
