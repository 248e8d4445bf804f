"""History queries on the hand-built day: rollup time series, the funnel, heat parity."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from projections.compact import compact_rollups
from projections.history import funnel, heat_ranking, timeseries
from projections.kpi import Period
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from sanjiang.heat import HEAT_TYPES, heat
from tests.warehouse.test_kpis import TUESDAY, the_day

DAY = Period(TUESDAY, TUESDAY + timedelta(days=1))


@pytest.fixture
def loaded(warehouse: ChdbWarehouse) -> ChdbWarehouse:
    EventWriter(warehouse).write([Positioned(e) for e in the_day()])
    return warehouse


def test_timeseries_from_rollups_match_the_events(loaded: ChdbWarehouse) -> None:
    hourly = timeseries(loaded, "checkin.recorded", DAY, "hour", station="WS-R03")
    # r1 at 09:00 and 13:40, r2 at 09:05, r5 at 15:00 (late); Monday's r3 is outside
    assert [(r["bucket"], r["events"], r["residents"]) for r in hourly] == [
        ("2026-11-24T09:00:00+08:00", 2, 2),  # local time, with its offset
        ("2026-11-24T13:00:00+08:00", 1, 1),
        ("2026-11-24T15:00:00+08:00", 1, 1),
    ]
    assert sum(r["late_events"] for r in hourly) == 1
    daily = timeseries(loaded, "checkin.recorded", DAY, "day")
    assert daily == [
        {"bucket": "2026-11-24", "events": 5, "residents": 4, "late_events": 1, "satisfied": 0}
    ]


def test_station_rollup_equals_the_events(loaded: ChdbWarehouse) -> None:
    """rollup_station_daily (migration 0013) holds, per local day, station and type, exactly
    what the events hold; daily series use it unless a venue, category or activity is asked."""
    by_event = """
        SELECT toDate(occurred_at, 'Asia/Shanghai') AS day, type, station_id, count() AS events,
               countIf(late) AS late, sum(rating) AS rating_sum, countIf(rating >= 4) AS satisfied,
               uniqExact(resident) AS residents
        FROM sanjiang.events GROUP BY day, type, station_id ORDER BY day, type, station_id"""
    by_rollup = """
        SELECT day, type, station_id, sum(events), sum(late_events), sum(rating_sum),
               sum(satisfied), uniqExactMerge(residents)
        FROM sanjiang.rollup_station_daily GROUP BY day, type, station_id
        ORDER BY day, type, station_id"""
    expected = loaded.query(by_event).rows
    assert len(expected) > 5
    assert loaded.query(by_rollup).rows == expected
    week = Period(TUESDAY - timedelta(days=3), TUESDAY + timedelta(days=4))
    for station in (None, "WS-R03"):
        raw = loaded.query(
            "SELECT toString(toDate(occurred_at, 'Asia/Shanghai')) AS bucket, count() AS events, "
            "uniqExact(resident) AS residents, countIf(late) AS late_events, "
            "countIf(rating >= 4) AS satisfied FROM sanjiang.events "
            "WHERE type = 'checkin.recorded' AND (station_id = {s:String} OR {s:String} = '') "
            "GROUP BY bucket ORDER BY bucket",
            {"s": station or ""},
        ).dicts()
        assert len(raw) >= 2
        assert timeseries(loaded, "checkin.recorded", week, "day", station=station) == raw


def test_compacting_merges_the_station_rollup_into_one_part(warehouse: ChdbWarehouse) -> None:
    """``compact_rollups`` (run after loads and replays) leaves one part and the same rows."""
    events = the_day()
    for half in (events[::2], events[1::2]):  # two inserts, two parts at least
        EventWriter(warehouse).write([Positioned(e) for e in half])
    parts = (
        "SELECT count() FROM system.parts "
        "WHERE database = 'sanjiang' AND active AND table = 'rollup_station_daily'"
    )
    summed = (
        "SELECT day, type, station_id, sum(events), uniqExactMerge(residents) "
        "FROM sanjiang.rollup_station_daily GROUP BY ALL ORDER BY ALL"
    )
    before = warehouse.query(summed).rows
    assert int(warehouse.query(parts).scalar()) > 1
    compact_rollups(warehouse)
    assert int(warehouse.query(parts).scalar()) == 1
    assert warehouse.query(summed).rows == before


def test_funnel_by_category(loaded: ChdbWarehouse) -> None:
    rows = {r["key"]: r for r in funnel(loaded, DAY, "category")}
    handcraft = rows["handcraft"]
    assert handcraft["demand"] == 4
    assert handcraft["registrations"] == 5  # R1-R5 submitted (the cancellation is its own event)
    assert handcraft["evaluations"] == 3 and handcraft["satisfied"] == 1
    assert rows["fitness_wellness"]["demand"] == 2
    assert rows["venue_booking"]["registrations"] == 0 and rows["venue_booking"]["demand"] == 2


def test_heat_sql_equals_the_python_definition(loaded: ChdbWarehouse) -> None:
    at = TUESDAY + timedelta(days=2, hours=5)
    ranking = {r["key"]: r["heat"] for r in heat_ranking(loaded, at, "activity")}
    for activity in ("A1", "A2"):
        mine = [
            (e.type, getattr(e.payload, "rating", 0), e.occurred_at)
            for e in the_day()
            if e.type in HEAT_TYPES and getattr(e.payload, "activity_id", None) == activity
        ]
        assert ranking[activity] == pytest.approx(heat(mine, at.astimezone(UTC)), abs=1e-3)
    assert next(iter(ranking)) == "A1"  # more registrations and evaluations
