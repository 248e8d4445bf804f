"""The live fold's four KPIs (``streams.kpis``) on the hand-built day of ``tests.warehouse
.test_kpis``, whose answers are worked out there: the same numbers, in any order and with
duplicates; provisional until the day's window closes; and a day's views change when a
decision about that day arrives on another one."""

from __future__ import annotations

import random
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest

from api.access.roles import Caller
from api.routes.live import visible
from sanjiang.events import payloads as p
from sanjiang.network import load_network
from streams.kpis import KpiReader
from streams.state import LiveState
from streams.views import ViewRenderer, live_views
from tests.warehouse.test_kpis import TUESDAY, VENUE, at, booking, ev, the_day

NETWORK = load_network()
GRACE = timedelta(hours=6)
DAY = TUESDAY.date()


def kpis(state: LiveState, station: str | None = "WS-R03", hour: int = 23) -> dict[str, Any]:
    now = at(hour)
    reader = KpiReader()
    found: dict[str, Any] | None
    if station is None:
        found = reader.network(state, DAY, state.network_summary(DAY), now)
    else:
        found = reader.station(state, DAY, station, state.summary(DAY, station), now)
    assert found is not None
    return found


def folded(events: list[Any]) -> LiveState:
    state = LiveState(NETWORK, grace=GRACE)
    for event in events:
        state.apply(event)
    return state


def test_the_hand_built_day_by_hand() -> None:
    found = kpis(folded(the_day()))
    # open 420 min; taken 09:00-11:30, 13:30-14:30, 17:00-17:30 = 240 min
    utilization = found["venue_utilization"]
    assert (utilization["taken_hours"], utilization["open_hours"]) == (4, 7)
    assert utilization["value"] == 240 / 420
    # demand handcraft 4, fitness 2 (venue booking left out); capacity 20 and 20 (A2 raised)
    precision = found["project_precision"]
    assert (precision["demand_events"], precision["supplied_capacity"]) == (6, 40)
    assert precision["value"] == float(Fraction(1, 2) + Fraction(1, 3))
    assert (precision["registrations"], precision["fill_rate"]) == (5, 5 / 40)
    # r1 and r2 (r5's check-in arrived two days late: past the grace, too late live)
    participation = found["resident_participation"]
    assert (participation["participants"], participation["population"]) == (2, 3425)
    assert participation["value"] == 2 / 3425
    satisfaction = found["service_satisfaction"]
    assert (satisfaction["satisfied_evaluations"], satisfaction["evaluations"]) == (1, 2)
    assert (satisfaction["value"], satisfaction["conflicts"]) == (0.5, 2)
    assert found["provisional"] is True and utilization["provisional"] is True
    network = kpis(folded(the_day()), None)
    assert network["venue_utilization"]["taken_hours"] == 4
    assert network["resident_participation"]["participants"] == 3  # and r4 at WS-R04
    assert network["project_precision"]["supplied_capacity"] == 40


@pytest.mark.parametrize("seed", range(4))
def test_any_order_and_duplicates_give_the_same_kpis(seed: int) -> None:
    rng = random.Random(seed)
    events = the_day()
    events += rng.sample(events, len(events) // 3)
    rng.shuffle(events)
    state = folded(events)
    assert kpis(state) == kpis(folded(the_day()))
    assert kpis(state, None) == kpis(folded(the_day()), None)


def test_a_station_without_events_has_its_hours_and_no_ratio_without_a_denominator() -> None:
    found = kpis(folded(the_day()), "WS-R10")
    assert found["venue_utilization"]["value"] == 0.0  # open, nothing taken
    assert found["project_precision"]["value"] is None  # no demand, no supply
    assert found["resident_participation"]["value"] == 0.0
    assert found["service_satisfaction"]["value"] is None


def test_final_once_the_window_closes() -> None:
    state = folded(the_day())
    closes = TUESDAY + timedelta(days=1) + GRACE
    before = live_views(state, closes - timedelta(microseconds=1))
    after = live_views(state, closes)
    name = f"day:{DAY.isoformat()}:WS-R03"
    assert before[name]["kpis"]["provisional"] is True
    assert after[name]["kpis"]["provisional"] is False
    assert after[f"day:{DAY.isoformat()}"]["kpis"]["provisional"] is False
    assert after[name]["kpis"]["final_at"] == closes.isoformat()


def test_a_decision_made_another_day_renders_the_day_it_takes_again() -> None:
    """A booking confirmed on Monday for Tuesday, or cancelled then, changes Tuesday's
    utilization: Tuesday's views are rendered again though nothing happened on Tuesday."""
    state = LiveState(NETWORK, grace=GRACE)
    renderer = ViewRenderer()
    now = at(12)
    views = renderer.render(state, now)
    assert views["station:WS-R03"]["kpis"]["venue_utilization"]["taken_hours"] == 0
    monday = TUESDAY - timedelta(days=1)
    confirmed = booking("B9", at(9), at(10))
    state.apply(confirmed.model_copy(update={"occurred_at": monday, "received_at": monday}))
    views = renderer.render(state, now)
    assert views["station:WS-R03"]["kpis"]["venue_utilization"]["taken_hours"] == 1
    assert views["network"]["kpis"]["venue_utilization"]["taken_hours"] == 1
    state.apply(ev(p.BookingCancelled(booking_id="B9"), monday + timedelta(hours=1)))
    views = renderer.render(state, now)
    assert views["station:WS-R03"]["kpis"]["venue_utilization"]["taken_hours"] == 0
    # a registration for Tuesday's activity made on Monday: Tuesday's fill rate
    state.apply(ev(p.ActivityPublished(**_published("A8")), monday))
    views = renderer.render(state, now)
    assert views["station:WS-R03"]["kpis"]["project_precision"]["supplied_capacity"] == 10
    state.apply(ev(p.RegistrationSubmitted(registration_id="R8", activity_id="A8"), monday, "r8"))
    views = renderer.render(state, now)
    assert views["station:WS-R03"]["kpis"]["project_precision"]["registrations"] == 1


def _published(activity: str) -> dict[str, Any]:
    return {
        "activity_id": activity,
        "title": activity,
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": VENUE,
        "starts_at": at(15),
        "ends_at": at(16),
        "capacity": 10,
        "target_groups": ["all"],
    }


def test_a_station_s_days_are_seen_by_who_sees_the_station() -> None:
    operator = Caller.staff("o", "operator", ["WS-R03"], "token")
    viewer = Caller.staff("v", "viewer", None, "token")
    day = DAY.isoformat()
    assert visible(operator, f"day:{day}:WS-R03") and visible(operator, "station:WS-R03")
    assert not visible(operator, f"day:{day}:WS-R04") and not visible(operator, f"day:{day}")
    assert visible(viewer, f"day:{day}") and visible(viewer, f"day:{day}:WS-R04")


def test_decisions_after_a_prune_still_render_the_days_they_take() -> None:
    """After a prune (the worker's checkpoints), a decision only bumps the days still kept."""
    state = LiveState(NETWORK, grace=GRACE, days_kept=8)
    state.prune(TUESDAY + timedelta(days=1) + GRACE + timedelta(hours=2))
    monday = TUESDAY - timedelta(days=1)
    state.apply(ev(p.ActivityPublished(**_published("A8")), monday))
    state.apply(ev(p.RegistrationSubmitted(registration_id="R8", activity_id="A8"), monday, "r8"))
    found = kpis(state)
    assert found["project_precision"]["registrations"] == 1
    assert state.revision(DAY, "WS-R03") > 0
    long_ago = TUESDAY - timedelta(days=30)
    state.apply(booking("B0", long_ago, long_ago + timedelta(hours=1)))
    assert (long_ago.date(), "WS-R03") not in state.days  # forgotten already: not made again
