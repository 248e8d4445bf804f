"""Alert rules on hand-built live states, and the open/close lifecycle."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sanjiang.events import payloads as p
from sanjiang.network import load_network
from streams.alerts import AlertRules, AlertTracker, conditions
from streams.state import LiveState
from tests.warehouse.test_kpis import at, checkin, ev, evaluation, published

NETWORK = load_network()
RULES = AlertRules(min_evaluations=3, surge_min=4)


def kinds(state: LiveState, minutes_after_nine: int = 0) -> set[str]:
    return {c.key for c in conditions(state, at(9) + timedelta(minutes=minutes_after_nine), RULES)}


def troubled(state: LiveState) -> LiveState:
    """26 people in the 25-seat room, a kiosk last heard at 08:50, three poor ratings of the
    activity held there (from three of those people: a rating counts from one who came)."""
    state.apply(published("A1", "handcraft", "qiaoshou_workshop", at(8, 30), at(10), 30))
    for i in range(26):  # WS-R03-ACT holds 25
        state.apply(checkin(f"p{i}", at(8, 40) + timedelta(seconds=i)))
    state.apply(ev(p.KioskHeartbeat(kiosk_id="WS-R03-K1", app_version="1"), at(8, 50)))
    for i in range(3):
        state.apply(evaluation(f"p{i}", "A1", 2, at(8, 30 + i)))
    return state


def test_over_capacity_kiosk_silence_satisfaction_no_shows_and_surge() -> None:
    state = troubled(LiveState(NETWORK, offline_after=timedelta(minutes=15)))
    for i in range(3):
        state.apply(
            ev(
                p.BookingConfirmed(
                    booking_id=f"b{i}", venue_id="WS-R03-ACT", starts_at=at(8), ends_at=at(8, 30)
                ),
                at(7),
            )
        )
        state.apply(ev(p.BookingNoShow(booking_id=f"b{i}"), at(8, 31 + i)))
    for i in range(4):
        state.apply(
            ev(p.DemandSubmitted(demand_id=f"d{i}", category="handcraft"), at(8, i), f"d{i}")
        )
    assert "demand_surge:handcraft" not in kinds(state, 0)  # no baseline yet: no surge
    add_history(state, days=3)
    assert kinds(state, 0) == {
        "over_capacity:WS-R03-ACT",
        "low_satisfaction:WS-R03",
        "no_show_spike:WS-R03",
        "demand_surge:handcraft",
    }
    assert "kiosk_offline:WS-R03-K1" in kinds(state, 6)  # 16 minutes of silence


def add_history(state: LiveState, days: int, handcraft_per_day: int = 0) -> None:
    """Activity on the ``days`` days before today (a check-in each), and handcraft demands."""
    for back in range(1, days + 1):
        moment = at(10) - timedelta(days=back)
        state.apply(checkin(f"h{back}", moment))
        for i in range(handcraft_per_day):
            demand = p.DemandSubmitted(demand_id=f"h{back}-{i}", category="handcraft")
            state.apply(ev(demand, moment + timedelta(minutes=i), f"h{back}-{i}"))


@pytest.mark.parametrize(
    ("history_days", "per_day", "today", "surges"),
    [
        (0, 0, 20, False),  # a fresh install: nothing to compare with
        (2, 0, 20, False),  # too little history
        (3, 0, 20, True),
        (3, 1, 3, False),  # under surge_min
        (7, 2, 6, True),  # 3 × the mean of 2
        (7, 3, 8, False),  # under 3 × the mean of 3
    ],
)
def test_demand_surge_needs_a_baseline(
    history_days: int, per_day: int, today: int, surges: bool
) -> None:
    state = LiveState(NETWORK)
    add_history(state, history_days, per_day)
    for i in range(today):
        demand = p.DemandSubmitted(demand_id=f"t{i}", category="handcraft")
        state.apply(ev(demand, at(8, i), f"t{i}"))
    assert ("demand_surge:handcraft" in kinds(state)) is surges


def test_alerts_open_once_and_close_with_an_end() -> None:
    state = LiveState(NETWORK, offline_after=timedelta(minutes=15))
    state.apply(ev(p.KioskHeartbeat(kiosk_id="WS-R03-K1", app_version="1"), at(9)))
    tracker = AlertTracker()
    assert tracker.update(conditions(state, at(9, 10), RULES), at(9, 10)) == []
    opened = tracker.update(conditions(state, at(9, 20), RULES), at(9, 20))
    assert [(a.kind, a.severity, a.scope, a.ended_at) for a in opened] == [
        ("kiosk_offline", "medium", "kiosk:WS-R03-K1", None)
    ]
    assert tracker.update(conditions(state, at(9, 21), RULES), at(9, 21)) == []  # still open
    state.apply(ev(p.KioskHeartbeat(kiosk_id="WS-R03-K1", app_version="1"), at(9, 22)))
    (closed,) = tracker.update(conditions(state, at(9, 23), RULES), at(9, 23))
    assert closed.started_at == at(9, 20).isoformat() and closed.ended_at == at(9, 23).isoformat()
    assert tracker.open == {}


def test_a_restored_tracker_keeps_the_start_and_ends_what_no_longer_holds() -> None:
    """The open alerts go into the worker's checkpoints: after a restart an alert that still
    holds keeps its start (no second row for it), one that stopped holding gets its end."""
    state = LiveState(NETWORK, offline_after=timedelta(minutes=15))
    for kiosk in ("WS-R03-K1", "WS-R04-K1"):
        state.apply(ev(p.KioskHeartbeat(kiosk_id=kiosk, app_version="1"), at(9)))
    before = AlertTracker()
    before.update(conditions(state, at(9, 20), RULES), at(9, 20))
    saved = before.documents()
    assert len(saved) == 2
    state.apply(ev(p.KioskHeartbeat(kiosk_id="WS-R04-K1", app_version="1"), at(9, 25)))
    after = AlertTracker()
    after.restore(saved)
    (closed,) = after.update(conditions(state, at(9, 30), RULES), at(9, 30))
    assert (closed.scope, closed.started_at, closed.ended_at) == (
        "kiosk:WS-R04-K1",
        at(9, 20).isoformat(),
        at(9, 30).isoformat(),
    )
    (still,) = after.open.values()
    assert (still.scope, still.started_at) == ("kiosk:WS-R03-K1", at(9, 20).isoformat())


def test_a_kiosk_is_offline_only_while_its_station_is_open() -> None:
    """WS-R03 (Tuesday) opens 08:30-11:30 and 13:30-17:30: a kiosk switched off at closing
    time raises nothing overnight, at lunch or on Sunday; after opening it gets the threshold
    again before it counts as silent."""
    state = LiveState(NETWORK, offline_after=timedelta(minutes=15))
    state.apply(ev(p.KioskHeartbeat(kiosk_id="WS-R03-K1", app_version="1"), at(17)))

    def offline(moment: datetime) -> bool:
        return "kiosk_offline:WS-R03-K1" in {c.key for c in conditions(state, moment, RULES)}

    assert not offline(at(17, 10))
    assert offline(at(17, 20))  # 20 minutes silent while open
    assert not offline(at(17, 40))  # closed: switched off for the night
    assert not offline(at(23, 59))
    wednesday = at(8, 40) + timedelta(days=1)
    assert not offline(wednesday)  # open for 10 minutes only
    assert offline(wednesday + timedelta(minutes=6))  # 16 minutes since opening
    assert not offline(at(12) + timedelta(days=1))  # lunch break
    sunday = at(10) + timedelta(days=5)
    assert sunday.astimezone(NETWORK.tz).weekday() == 6
    assert not offline(sunday)


def test_every_alert_has_a_chinese_text() -> None:
    state = troubled(LiveState(NETWORK, offline_after=timedelta(minutes=15)))
    for i in range(4):
        state.apply(
            ev(p.DemandSubmitted(demand_id=f"d{i}", category="handcraft"), at(8, i), f"d{i}")
        )
    add_history(state, days=3)
    found = conditions(state, at(9, 6), RULES, category_names={"handcraft": "巧手手工"})
    texts = {c.kind: c.display for c in found}
    assert set(texts) >= {"over_capacity", "kiosk_offline", "low_satisfaction", "demand_surge"}
    station = NETWORK.station("WS-R03").name
    assert texts["low_satisfaction"].startswith(station) and "满意率" in texts["low_satisfaction"]
    assert "终端 WS-R03-K1" in texts["kiosk_offline"] and "失联" in texts["kiosk_offline"]
    assert "巧手手工" in texts["demand_surge"]
    assert "超过容量" in texts["over_capacity"]
    tracker = AlertTracker()
    opened = tracker.update(found, at(9, 6))
    assert all(a.document()["display"] for a in opened)
