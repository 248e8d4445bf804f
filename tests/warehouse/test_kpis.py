"""KPIs on a small hand-built day whose answers are worked out here by hand (DESIGN.md)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from projections.kpi import KpiReport, Period, Scope, compute_kpis
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from sanjiang.conflicts import no_conflicts
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event, stamp_received
from sanjiang.ids import uuid7_from_rng
from sanjiang.network import load_network

TZ = ZoneInfo("Asia/Shanghai")
TUESDAY = datetime(2026, 11, 24, tzinfo=TZ)  # WS-R03-ACT opens 08:30-11:30 and 13:30-17:30
NETWORK = load_network()
VENUE = "WS-R03-ACT"
_seq = iter(range(1, 10**6))


def at(hh: int, mm: int = 0, day: datetime = TUESDAY) -> datetime:
    return day.replace(hour=hh, minute=mm)


def ev(
    payload: p.Payload,
    when: datetime,
    resident: str | None = None,
    station: str = "WS-R03",
    rand: int | None = None,
) -> Event:
    source = "console:staff-1" if resident is None else "kiosk:WS-R03-K1"
    ms = int(when.timestamp() * 1000)
    event = new_event(
        payload,
        station_id=station,
        source=source,
        occurred_at=when,
        resident=None if resident is None else hashlib.md5(resident.encode()).hexdigest(),
        event_id=uuid7_from_rng(ms, rand if rand is not None else next(_seq)),
    )
    return stamp_received(event, when, timedelta(minutes=5))


def published(
    activity: str,
    category: str,
    program: str,
    start: datetime,
    end: datetime,
    capacity: int,
    required: bool = False,
) -> Event:
    return ev(
        p.ActivityPublished(
            activity_id=activity,
            title=activity,
            category=category,
            program=program,
            venue_id=VENUE,
            starts_at=start,
            ends_at=end,
            capacity=capacity,
            target_groups=["all"],
            registration_required=required,
        ),
        at(7),
    )


def booking(booking_id: str, start: datetime, end: datetime) -> Event:
    return ev(
        p.BookingConfirmed(booking_id=booking_id, venue_id=VENUE, starts_at=start, ends_at=end),
        at(8),
    )


def checkin(resident: str, when: datetime, station: str = "WS-R03", venue: str = VENUE) -> Event:
    return ev(
        p.CheckinRecorded(visit_id=f"v-{resident}-{when:%d%H%M}", venue_id=venue),
        when,
        resident,
        station,
    )


def evaluation(
    resident: str, activity: str, rating: int, when: datetime, rand: int | None = None
) -> Event:
    return ev(p.EvaluationSubmitted(activity_id=activity, rating=rating), when, resident, rand=rand)


def the_day() -> list[Event]:
    events = [
        # activities: A1 09:00-11:00; A2 10:00-12:00 (capacity raised to 20); A3 cancelled
        published("A1", "handcraft", "qiaoshou_workshop", at(9), at(11), 20),
        published("A2", "fitness_wellness", "jianshen_yangsheng", at(10), at(12), 10),
        ev(p.ActivityUpdated(activity_id="A2", capacity=20), at(7, 30)),
        published("A3", "cooking_home", "meiwei_camp", at(14), at(15), 10),
        ev(p.ActivityCancelled(activity_id="A3", reason="厨师请假"), at(8)),
        # bookings: B1 13:00-14:30 (half an hour before opening); B2 cancelled; B3 a no-show
        booking("B1", at(13), at(14, 30)),
        booking("B2", at(16), at(17)),
        ev(p.BookingCancelled(booking_id="B2"), at(9)),
        booking("B3", at(17), at(18)),
        ev(p.BookingNoShow(booking_id="B3"), at(17, 20)),
        # demand: handcraft 3 + 1 vote, fitness 2, venue booking 2 (not in precision), one on Monday
        *[
            ev(p.DemandSubmitted(demand_id=f"D{i}", category="handcraft"), at(9, i), f"d{i}")
            for i in range(3)
        ],
        ev(p.DemandVoted(demand_id="D0", category="handcraft"), at(10), "d9"),
        *[
            ev(
                p.DemandSubmitted(demand_id=f"F{i}", category="fitness_wellness"),
                at(10, i),
                f"f{i}",
            )
            for i in range(2)
        ],
        *[
            ev(p.DemandSubmitted(demand_id=f"V{i}", category="venue_booking"), at(11, i), f"v{i}")
            for i in range(2)
        ],
        ev(
            p.DemandSubmitted(demand_id="M0", category="fitness_wellness"),
            at(9, day=TUESDAY - timedelta(days=1)),
            "m",
        ),
        # registrations: 5 for A1 (one cancelled), 1 for A2, 1 for the cancelled A3
        *[
            ev(
                p.RegistrationSubmitted(registration_id=f"R{i}", activity_id="A1"),
                at(7, 40 + i),
                f"r{i}",
            )
            for i in range(1, 6)
        ],
        ev(p.RegistrationCancelled(registration_id="R5", activity_id="A1"), at(8, 30), "r5"),
        ev(p.RegistrationSubmitted(registration_id="R6", activity_id="A2"), at(7, 50), "r6"),
        ev(p.RegistrationSubmitted(registration_id="R7", activity_id="A3"), at(7, 51), "r7"),
        # check-ins: r1 twice, r2; r3 on Monday (outside); r4 at another station
        checkin("r1", at(9)),
        checkin("r1", at(13, 40)),
        checkin("r2", at(9, 5)),
        checkin("r3", at(9, day=TUESDAY - timedelta(days=1))),
        checkin("r4", at(9), station="WS-R04", venue="WS-R04-ACT"),
        # evaluations: r1 revises 2 -> 5; r2 gives 3; r3 gives 4; r4 two at the same instant
        evaluation("r1", "A1", 2, at(11, 5)),
        evaluation("r1", "A1", 5, at(11, 30)),
        evaluation("r2", "A1", 3, at(11, 10)),
        evaluation("r3", "A2", 4, at(12, 5)),
        evaluation("r4", "A2", 1, at(12, 10), rand=1),
        evaluation("r4", "A2", 5, at(12, 10), rand=2),  # same time: the larger event_id wins
    ]
    late = checkin("r5", at(15))  # uploaded two days later by an offline kiosk
    events.append(stamp_received(late, at(15) + timedelta(days=2), timedelta(minutes=5)))
    return events


@pytest.fixture
def loaded(warehouse: ChdbWarehouse) -> ChdbWarehouse:
    events = the_day()
    writer = EventWriter(warehouse)
    first = writer.write([Positioned(e) for e in events])
    assert first.written == len(events)
    again = writer.write([Positioned(e) for e in events[::3]])  # re-delivered: counts nothing
    assert again.written == 0
    return warehouse


def kpis(warehouse: ChdbWarehouse, scope: Scope, day: datetime = TUESDAY) -> KpiReport:
    return compute_kpis(warehouse, NETWORK, Period(day, day + timedelta(days=1)), scope)


def test_station_kpis_by_hand(loaded: ChdbWarehouse) -> None:
    report = kpis(loaded, Scope("station", "WS-R03"))
    # open 08:30-11:30 + 13:30-17:30 = 420 min; taken: 09:00-11:30 (A1 ∪ A2, clipped at closing)
    # + 13:30-14:30 (B1 inside opening) + 17:00-17:30 (B3, no-show still held it) = 240 min
    assert report.open_hours == 7
    assert report.taken_hours == 4
    assert report.venue_utilization == pytest.approx(4 / 7)
    # demand shares: handcraft 4/6, fitness 2/6; capacity shares: handcraft 20/40, fitness 20/40
    assert report.demand_events == 6
    assert report.supplied_capacity == 40
    assert report.project_precision == pytest.approx(float(Fraction(1, 2) + Fraction(1, 3)))
    assert report.registrations == 5  # R1-R4 for A1, R6 for A2 (R5 cancelled, A3 cancelled)
    assert report.fill_rate == pytest.approx(5 / 40)
    # participants: r1, r2 and the late r5 (r3 was Monday, r4 elsewhere)
    assert report.participants == 3
    assert report.resident_participation == pytest.approx(3 / 3425)
    # one evaluation per (resident, activity), the latest: 5 (r1), 3 (r2), 4 (r3), 5 (r4); a
    # rating counts from a resident who attended: r1 and r2 were in A1's room during it, r3
    # came on Monday only and r4 to WS-R04's room -> 1 of 2 satisfied, 2 conflicts beside it
    assert (report.satisfied_evaluations, report.evaluations) == (1, 2)
    assert report.service_satisfaction == pytest.approx(0.5)
    assert report.satisfaction_conflicts == 2
    assert report.participation_conflicts == 0
    assert report.conflicts == {**no_conflicts(), "not_attended": 2}


def test_venue_scope_takes_the_station_population(loaded: ChdbWarehouse) -> None:
    report = kpis(loaded, Scope("venue", VENUE))
    assert report.venue_utilization == pytest.approx(4 / 7)
    assert report.population == 3425
    assert report.participants == 3


def test_network_scope_sums_over_stations(loaded: ChdbWarehouse) -> None:
    report = kpis(loaded, Scope.network())
    assert report.participants == 4  # r4 checked in at WS-R04
    assert report.population == 101_500
    assert report.service_satisfaction == pytest.approx(0.5)  # r3 and r4 did not attend A2
    # every venue's opening hours count: only WS-R03-ACT was taken
    assert report.taken_hours == 4
    assert report.open_hours > 7


def test_empty_period_gives_none_not_zero(loaded: ChdbWarehouse) -> None:
    sunday = TUESDAY + timedelta(days=5)  # WS-R03 is closed on Sundays, and nothing happened
    report = kpis(loaded, Scope("station", "WS-R03"), sunday)
    assert report.open_hours == 0
    assert report.venue_utilization is None
    assert report.project_precision is None
    assert report.fill_rate is None
    assert report.service_satisfaction is None
    assert report.resident_participation == 0  # the population is not zero: nobody came


def test_unknown_scope_is_an_error(loaded: ChdbWarehouse) -> None:
    with pytest.raises(KeyError, match="unknown station"):
        kpis(loaded, Scope("station", "WS-R99"))
    with pytest.raises(KeyError, match="unknown venue"):
        kpis(loaded, Scope("venue", "nowhere"))
