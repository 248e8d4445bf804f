"""The live fold: same numbers in any order and with duplicates; occupancy, lateness, heat."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sanjiang.conflicts import no_conflicts
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.heat import heat
from sanjiang.network import load_network
from streams.state import LiveState
from tests import simulated
from tests.warehouse.test_kpis import TUESDAY, at, checkin, ev, the_day

NETWORK = load_network()
DAY_EVENTS: list[Event] = simulated.events(date(2026, 11, 17), days=1, seed=11)
END_OF_DAY = max(e.occurred_at for e in DAY_EVENTS)


def folded(events: list[Event]) -> LiveState:
    state = LiveState(NETWORK)
    for event in events:
        state.apply(event)
    return state


def view(state: LiveState) -> dict[str, object]:
    stations = sorted({s for _, s in state.days})
    return {
        "network": state.today(END_OF_DAY),
        "stations": {s: state.today(END_OF_DAY, s) for s in stations},
        "occupancy": state.occupancy(END_OF_DAY - timedelta(hours=6)),
        "activities": {k: v.summary() for k, v in sorted(state.activities.items())},
        "heat": {k: round(state.heat_at(k[0], k[1], END_OF_DAY), 6) for k in sorted(state.heat)},
        "offline": state.offline_kiosks(END_OF_DAY),
    }


REFERENCE = view(folded(DAY_EVENTS))


@pytest.mark.parametrize("seed", range(6))
def test_any_order_and_duplicates_give_the_same_view(seed: int) -> None:
    rng = random.Random(seed)
    dup_share = rng.uniform(0, 0.3)
    events = list(DAY_EVENTS)
    events += rng.sample(events, int(len(events) * dup_share))
    rng.shuffle(events)
    assert view(folded(events)) == REFERENCE


def test_counters_follow_the_kpi_rules() -> None:
    state = folded(the_day())
    r03 = state.today(at(23), "WS-R03")
    # r1 twice and r2; Monday's r3 is another day; r5 arrived two days late, past the 6 h
    # grace: the live view leaves it out and counts it as too late (the warehouse keeps it)
    assert r03["checkins"] == 3
    assert r03["residents"] == 2
    assert state.too_late == 1
    # of the latest evaluations 5 (r1), 3 (r2), 4 (r3), 5 (r4) only r1's and r2's count: r3
    # checked in on Monday only, r4 at another station's room, neither at A2 nor during it
    assert (r03["satisfied_evaluations"], r03["evaluations"]) == (1, 2)
    assert r03["satisfaction"] == pytest.approx(0.5)
    assert r03["conflicts"] == {**no_conflicts(), "not_attended": 2}
    a1 = state.activities["A1"].summary()
    assert (a1["registrations"], a1["capacity"], a1["fill"]) == (4, 20, pytest.approx(0.2))
    assert state.activities["A2"].capacity == 20  # the update applied
    assert state.activities["A3"].cancelled


def test_occupancy_closes_forgotten_visits_at_closing_time() -> None:
    state = LiveState(NETWORK)
    state.apply(checkin("r1", at(9)))  # WS-R03-ACT morning interval ends 11:30
    state.apply(checkin("r2", at(9, 30)))
    state.apply(ev(p.CheckoutRecorded(visit_id="v-r2-240930", venue_id="WS-R03-ACT"), at(10), "r2"))
    assert state.occupancy(at(9, 45)) == {"WS-R03-ACT": 2}
    assert state.occupancy(at(10, 15)) == {"WS-R03-ACT": 1}
    assert state.occupancy(at(11, 31)) == {}  # r1 never checked out: closed at 11:30


def scanned_occupancy(state: LiveState, now: datetime) -> dict[str, int]:
    """The definition: every visit checked in by ``now``, not checked out or closed by then."""
    counts: dict[str, int] = {}
    for visit in state.visits.values():
        if visit.inside(now):
            counts[visit.venue_id] = counts.get(visit.venue_id, 0) + 1
    return counts


@pytest.mark.parametrize("seed", range(4))
def test_incremental_occupancy_equals_a_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    emissions = [e.event for e in simulate_day(seed)]
    emissions += rng.sample(emissions, len(emissions) // 10)  # duplicates
    rng.shuffle(emissions)  # check-outs before their check-ins, late check-ins...
    start = min(e.occurred_at for e in emissions)
    state = LiveState(NETWORK)
    now = start
    for i, event in enumerate(emissions):
        state.apply(event)
        if i % 97 == 0:
            now += timedelta(minutes=rng.uniform(0, 20))  # the worker's clock: forwards
            read_at = now if rng.random() < 0.8 else now - timedelta(hours=rng.uniform(0, 3))
            assert state.occupancy(read_at) == scanned_occupancy(state, read_at)
            by_station: dict[str, int] = {}
            for venue, n in state.occupancy(read_at).items():
                station = NETWORK.venue_station[venue]
                by_station[station] = by_station.get(station, 0) + n
            assert state.station_occupancy(read_at) == by_station
    for hour in range(30):  # after the last event: closing times pass without events
        moment = start + timedelta(hours=hour)
        assert state.occupancy(moment) == scanned_occupancy(state, moment)


def simulate_day(seed: int) -> list[Any]:
    return list(simulated.emissions(date(2026, 11, 18), days=1, seed=seed))


def test_events_after_the_grace_period_are_counted_as_too_late() -> None:
    state = LiveState(NETWORK, grace=timedelta(hours=6))
    state.apply(checkin("r1", at(9)))
    late = checkin("r3", at(10))
    arrived = late.model_copy(update={"received_at": at(7) + timedelta(days=1), "late": True})
    assert state.apply(arrived) is False  # arrived Wed 07:00; Tuesday closed at Wed 06:00
    assert state.too_late == 1
    assert state.today(at(12), "WS-R03")["checkins"] == 1


def test_kiosk_goes_offline_after_silence() -> None:
    state = LiveState(NETWORK, offline_after=timedelta(minutes=15))
    state.apply(ev(p.KioskHeartbeat(kiosk_id="WS-R03-K1", app_version="1.0"), at(9)))
    assert state.offline_kiosks(at(9, 10)) == []
    assert state.offline_kiosks(at(9, 16)) == ["WS-R03-K1"]


def test_live_heat_equals_the_shared_definition() -> None:
    events = the_day()
    state = folded(events)
    now = TUESDAY + timedelta(days=2)
    mine = [
        (e.type, getattr(e.payload, "rating", 0), e.occurred_at)
        for e in events
        if getattr(e.payload, "activity_id", None) == "A1"
    ]
    assert state.heat_at("activity", "A1", now) == pytest.approx(heat(mine, now))


def test_category_and_station_heat_in_any_order() -> None:
    """A category's heat is the sum of its activities' (sanjiang.heat), even when the heat
    events arrive before the activity's publication; a station's is its events'."""
    events = the_day()
    # the fold counts an id once, and not the check-in uploaded past the grace period
    unique = [
        e
        for e in {e.event_id: e for e in events}.values()
        if e.received_at is None or e.received_at - e.occurred_at < timedelta(hours=12)
    ]
    now = TUESDAY + timedelta(days=2)
    category = {
        e.payload.activity_id: e.payload.category  # type: ignore[attr-defined]
        for e in events
        if e.type == "activity.published"
    }
    expected: dict[str, float] = {}
    for activity, cat in category.items():
        mine = [
            (e.type, getattr(e.payload, "rating", 0), e.occurred_at)
            for e in unique
            if getattr(e.payload, "activity_id", None) == activity
        ]
        expected[cat] = expected.get(cat, 0.0) + heat(mine, now)
    stations = {
        e.station_id: heat(
            [
                (x.type, getattr(x.payload, "rating", 0), x.occurred_at)
                for x in unique
                if x.station_id == e.station_id
            ],
            now,
        )
        for e in events
    }
    for order in (events, list(reversed(events))):
        state = folded(order)
        got = state.heat_by("category", now)
        assert got.keys() == {c for c, h in expected.items() if h}
        for cat, value in got.items():
            assert value == pytest.approx(expected[cat])
        assert state.heat_by("station", now) == pytest.approx(
            {s: h for s, h in stations.items() if h}
        )


def test_local_day_is_the_zone_s_calendar_day() -> None:
    """``local_day`` caches offsets per UTC hour; it must agree with ``astimezone``."""
    state = LiveState(NETWORK)
    rng = random.Random(7)
    base = datetime(2020, 1, 1, tzinfo=UTC)
    for _ in range(5000):
        moment = base + timedelta(seconds=rng.uniform(0, 8 * 365 * 86400))
        assert state.local_day(moment) == moment.astimezone(NETWORK.tz).date()
        assert state.local_day(moment) is state.local_day(moment)  # one object per day
