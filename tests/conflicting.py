"""A hand-built day with every kind of conflict (``sanjiang.conflicts``), late and out-of-order
facts, and the answers worked out by hand: shared by the unit tests of the classification and
of the live fold and by the warehouse's tests.

Tuesday 2026-11-24 at WS-R03, whose activity room WS-R03-ACT opens 08:30-11:30, 13:30-17:30.

Decisions: C1 (09:00-11:00, 2 places) and C2 (14:00-16:00, 1 place raised to 3) at WS-R03-ACT.

Check-ins naming C1, ranked by their time: f 08:59 (uploaded three hours late: within the
grace), a 09:00 (and again at 10:00), b 09:01, c 09:02, d 09:03 at a venue that does not exist,
e 09:05 at WS-R04's room; and r 09:40, uploaded two days later (past the
grace: the warehouse has it, the live view does not). So f and a hold the two places; b, c — and
in the warehouse r — come past them; d and e are judged by their venues first.
Check-ins naming C2: h, i, j (3 places: none over; 1 place would have put two over).
Other check-ins at WS-R03-ACT: g naming GHOST (never published) at 14:10, k 09:30 (during C1),
l 11:10 (after C1), n 14:30 (during C2; evaluated C2 at 12:00, before), p 09:20, and s 09:50
uploaded two days later. At WS-R04: o at WS-R03-ACT (another station's room).

Evaluations: a C1 5, k C1 3 (was there during it), l C1 2 (came after it), m C2 1 then 5
(never came: one pair), n C2 5 (came after evaluating), g GHOST 4 (its check-in names it), s C1
4 (attended in the warehouse, not in the live view); Wednesday: p C1 4 (came on Tuesday), q C1
1 (never came).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event, stamp_received
from sanjiang.ids import uuid7_from_rng

TZ = ZoneInfo("Asia/Shanghai")
TUESDAY = datetime(2026, 11, 24, tzinfo=TZ)
WEDNESDAY = TUESDAY + timedelta(days=1)
ROOM = "WS-R03-ACT"
_seq = iter(range(10**6, 2 * 10**6))


def person(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


def at(hh: int, mm: int = 0, day: datetime = TUESDAY) -> datetime:
    return day.replace(hour=hh, minute=mm)


def fact(
    payload: p.Payload,
    when: datetime,
    who: str | None,
    station: str = "WS-R03",
    arrived: datetime | None = None,
) -> Event:
    event = new_event(
        payload,
        station_id=station,
        source=f"kiosk:{station}-K1",
        occurred_at=when,
        resident=None if who is None else person(who),
        event_id=uuid7_from_rng(int(when.timestamp() * 1000), next(_seq)),
    )
    return stamp_received(event, arrived or when, timedelta(minutes=5))


def checkin(
    who: str,
    when: datetime,
    activity: str | None = None,
    venue: str = ROOM,
    station: str = "WS-R03",
    arrived: datetime | None = None,
) -> Event:
    visit = f"v-{who}-{when:%d%H%M}-{next(_seq)}"
    payload = p.CheckinRecorded(visit_id=visit, venue_id=venue, activity_id=activity)
    return fact(payload, when, who, station, arrived)


def evaluation(
    who: str, activity: str, rating: int, when: datetime, station: str = "WS-R03"
) -> Event:
    return fact(p.EvaluationSubmitted(activity_id=activity, rating=rating), when, who, station)


def decided(payload: p.Payload, when: datetime) -> Event:
    event = new_event(
        payload,
        station_id="WS-R03",
        source="console:WS-R03-deciders",
        occurred_at=when,
        event_id=uuid7_from_rng(int(when.timestamp() * 1000), next(_seq)),
    )
    return stamp_received(event, when, timedelta(minutes=5))


def publish(activity: str, start: datetime, end: datetime, capacity: int) -> Event:
    payload = p.ActivityPublished(
        activity_id=activity,
        title=activity,
        category="handcraft",
        program="qiaoshou_workshop",
        venue_id=ROOM,
        starts_at=start,
        ends_at=end,
        capacity=capacity,
        target_groups=["all"],
    )
    return decided(payload, at(7) - timedelta(days=2))


def conflicting_day() -> list[Event]:
    two_days_late = at(12) + timedelta(days=2)
    return [
        publish("C1", at(9), at(11), 2),
        publish("C2", at(14), at(16), 1),
        decided(p.ActivityUpdated(activity_id="C2", capacity=3), at(7, 30)),
        # C1: f (late, within the grace), a, b, c, d (no such venue), e (elsewhere)
        checkin("f", at(8, 59), "C1", arrived=at(12)),
        checkin("a", at(9), "C1"),
        checkin("a", at(10), "C1"),
        checkin("b", at(9, 1), "C1"),
        checkin("c", at(9, 2), "C1"),
        checkin("d", at(9, 3), "C1", venue="WS-NOWHERE"),
        checkin("e", at(9, 5), "C1", venue="WS-R04-ACT"),
        checkin("r", at(9, 40), "C1", arrived=two_days_late),  # past the grace
        # C2: three places for three
        checkin("h", at(14), "C2"),
        checkin("i", at(14, 1), "C2"),
        checkin("j", at(14, 2), "C2"),
        # the room, no activity named
        checkin("g", at(14, 10), "GHOST"),
        checkin("k", at(9, 30)),
        checkin("l", at(11, 10)),
        checkin("n", at(14, 30)),
        checkin("p", at(9, 20)),
        checkin("s", at(9, 50), arrived=two_days_late),  # past the grace
        checkin("o", at(10), station="WS-R04"),  # WS-R04's kiosk, WS-R03's room
        # evaluations
        evaluation("a", "C1", 5, at(11, 5)),
        evaluation("k", "C1", 3, at(11, 6)),
        evaluation("l", "C1", 2, at(11, 15)),
        evaluation("m", "C2", 1, at(16, 5)),
        evaluation("m", "C2", 5, at(16, 6)),
        evaluation("n", "C2", 5, at(12)),
        evaluation("g", "GHOST", 4, at(15)),
        evaluation("s", "C1", 4, at(11, 8)),
        evaluation("p", "C1", 4, at(10, day=WEDNESDAY)),
        evaluation("q", "C1", 1, at(10, 5, day=WEDNESDAY)),
    ]


#: Tuesday at WS-R03 as the warehouse's KPIs judge it (every stored event):
#: participants a b c e f g h i j k l n p r s (not d: no such venue) = 15;
#: evaluations counted a 5, k 3, n 5, g 4, s 4 -> 4 of 5 satisfied.
KPI_TUESDAY_R03 = {
    "unknown_venue": 1,  # d
    "venue_of_other_station": 1,  # e
    "unknown_activity": 1,  # g
    "over_capacity": 3,  # b, c, r
    "not_attended": 2,  # l, m
}
#: The same day as the live fold and reconciliation judge it (r and s's check-ins came too late):
#: participants 13; evaluations a 5, k 3, n 5, g 4 -> 3 of 4 satisfied.
LIVE_TUESDAY_R03 = {**KPI_TUESDAY_R03, "over_capacity": 2, "not_attended": 3}
#: WS-R04's kiosk checked o in at WS-R03's room; Wednesday q never came (p did, on Tuesday).
TUESDAY_R04 = {"venue_of_other_station": 1}
WEDNESDAY_R03 = {"not_attended": 1}
