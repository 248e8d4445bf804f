"""Venue bookings (场地预约): requested at a kiosk, decided by staff, used, cancelled or missed.

Figures (sample assumptions), requests per bookable venue per day, times ``booking_scale`` and
x1.3 on weekends: center venues 2.0, grid venues 1.2, a residential station's first (activity)
room 0.7 and its other rooms 0.4, partner venues 0.8 - about 55 a day, of which about 46 get
submitted (the others find no suitable slot and give up).

- Requesters are adults (35%), young talent (30%), elderly (25%) and new-employment workers
  (10%) who use the station; they book 0-7 days ahead (same day: at least 2 h ahead) for
  1-3 h on the half hour, with 3-30 attendees.
- Most requesters pick a slot the kiosk shows as free and inside opening hours; 35% ask for
  a slot regardless of the calendar (groups with a fixed weekly slot), 7% for one that runs
  outside the opening hours, 3% for more people than the venue holds.
- Staff decide 3-45 min later: rejected (``booking.rejected``) when outside opening hours,
  over capacity, too close to the start, or overlapping a published activity or confirmed
  booking at that moment; otherwise confirmed.
- ``booking_cancel_rate`` of confirmed bookings are cancelled at least 1 h before; of the
  others ``booking_no_show_rate`` are marked no-show 30 min after the start; the rest check in
  (the booker plus up to 4 companions who use the station) with the ``booking_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from producers.simulator.clock import day_start, is_weekend, minutes, slot_index
from producers.simulator.draws import poisson
from producers.simulator.population import Group, Resident
from producers.simulator.reservations import Reservation
from producers.simulator.rhythms import weight
from producers.simulator.visits import record_visit
from producers.simulator.world import World
from sanjiang.events.payloads import (
    BookingCancelled,
    BookingConfirmed,
    BookingNoShow,
    BookingRejected,
    BookingRequested,
)
from sanjiang.network import StationKind, Venue

RATES: dict[StationKind, tuple[float, float]] = {  # (first venue, other venues)
    "center": (2.0, 2.0),
    "grid": (1.2, 1.2),
    "residential": (0.7, 0.4),
    "partner": (0.8, 0.8),
}
WEEKEND_FACTOR = 1.3
REQUESTERS: tuple[tuple[Group, float], ...] = (
    ("adults", 0.35),
    ("youth", 0.30),
    ("elderly", 0.25),
    ("new_employment", 0.10),
)
LEAD_WEIGHTS = (0.10, 0.25, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05)  # 0..7 days ahead
DURATIONS = ((60, 0.3), (90, 0.3), (120, 0.3), (180, 0.1))
IGNORE_CALENDAR = 0.35
OUT_OF_HOURS = 0.07
OVER_CAPACITY = 0.03
MIN_NOTICE = timedelta(hours=2)
STEP = timedelta(minutes=30)
ANY_TIME_WEIGHT = 0.05
CLOSED_DAY_START = timedelta(hours=10)
PURPOSES = (
    "社区合唱排练",
    "读书会",
    "亲子活动",
    "志愿者例会",
    "楼组议事",
    "兴趣小组活动",
    "企业党建交流",
    "舞蹈队排练",
    "棋牌交流",
)
CANCEL_REASONS = ("", "活动改期", "人数不足", "临时有事")


@dataclass(slots=True)
class Booking:
    """A booking request and what became of it."""

    booking_id: str
    station_id: str
    venue_id: str
    resident: Resident
    starts_at: datetime
    ends_at: datetime
    attendees: int
    reservation: Reservation | None = None
    cancelled: bool = False


def seed_day(world: World, day: date) -> None:
    """Generate the day's booking requests (each decided later by staff)."""
    rng = world.rng
    factor = world.config.booking_scale * (WEEKEND_FACTOR if is_weekend(day) else 1.0)
    groups = [g for g, _ in REQUESTERS]
    group_weights = [w for _, w in REQUESTERS]
    for station in world.network.stations:
        first, other = RATES[station.kind]
        for index, venue in enumerate(station.venues):
            if not venue.bookable:
                continue
            for _ in range(poisson(rng, (first if index == 0 else other) * factor)):
                group = rng.choices(groups, weights=group_weights)[0]
                resident = world.population.pick(rng, station.id, group)
                at = world.timing.sample_day(rng, station.id, day, group)
                if resident is None or at is None:
                    continue
                world.at(at, partial(_request, world, station.id, venue, resident, at))


def _slot(
    world: World, venue: Venue, day: date, resident: Resident, at: datetime
) -> tuple[datetime, datetime] | None:
    rng = world.rng
    lengths = [m for m, _ in DURATIONS]
    duration = timedelta(minutes=rng.choices(lengths, weights=[w for _, w in DURATIONS])[0])
    windows = world.book.venue_windows(venue.id, day)
    if rng.random() < OUT_OF_HOURS:  # runs past closing, or on a closed day
        start = (
            windows[-1][1] - STEP if windows else day_start(day, world.book.tz) + CLOSED_DAY_START
        )
        return (start, start + duration) if start >= at + MIN_NOTICE else None
    respect_calendar = rng.random() >= IGNORE_CALENDAR
    midnight = day_start(day, world.book.tz)
    options: list[datetime] = []
    weights: list[float] = []
    for lo, hi in windows:
        start = midnight + -(-(lo - midnight) // STEP) * STEP
        while start + duration <= hi:
            if start >= at + MIN_NOTICE and (
                not respect_calendar or world.calendar.is_free(venue.id, start, start + duration)
            ):
                options.append(start)
                weights.append(ANY_TIME_WEIGHT + weight(resident.group, day, slot_index(start)))
            start += STEP
    if not options:
        return None
    start = rng.choices(options, weights=weights)[0]
    return start, start + duration


def _request(world: World, station_id: str, venue: Venue, resident: Resident, at: datetime) -> None:
    rng = world.rng
    lead = rng.choices(range(len(LEAD_WEIGHTS)), weights=LEAD_WEIGHTS)[0]
    slot = _slot(world, venue, at.date() + timedelta(days=lead), resident, at)
    if slot is None:
        return  # nothing suitable: the resident gives up before submitting
    attendees = rng.randint(3, max(3, min(venue.capacity, 30)))
    if rng.random() < OVER_CAPACITY:
        attendees = venue.capacity + rng.randint(1, 10)
    booking = Booking(
        world.ids.next("BKG"), station_id, venue.id, resident, slot[0], slot[1], attendees
    )
    payload = BookingRequested(
        booking_id=booking.booking_id,
        venue_id=venue.id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        attendees=attendees,
        purpose=rng.choice(PURPOSES),
    )
    world.emitter.kiosk(payload, station_id=station_id, at=at, resident=resident)
    when = at + minutes(rng, 3, 45)
    world.at(when, partial(_decide, world, booking, when))


def _decide(world: World, booking: Booking, at: datetime) -> None:
    rng, config = world.rng, world.config
    staff_id = world.staff_member(booking.station_id)
    venue = world.network.venues[booking.venue_id]
    reason = None
    if world.book.window_containing(venue.id, booking.starts_at, booking.ends_at) is None:
        reason = "outside opening hours"
    elif booking.attendees > venue.capacity:
        reason = f"attendees exceed the venue capacity of {venue.capacity}"
    elif booking.starts_at < at + timedelta(minutes=30):
        reason = "too close to the start"
    elif not world.calendar.is_free(venue.id, booking.starts_at, booking.ends_at):
        reason = "overlaps an activity or a confirmed booking"
    if reason is not None:
        rejected = BookingRejected(booking_id=booking.booking_id, reason=reason)
        world.emitter.console(rejected, station_id=booking.station_id, staff_id=staff_id, at=at)
        return
    booking.reservation = world.calendar.reserve(
        venue.id, booking.starts_at, booking.ends_at, booking.booking_id
    )
    confirmed = BookingConfirmed(
        booking_id=booking.booking_id,
        venue_id=venue.id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
    )
    world.emitter.console(confirmed, station_id=booking.station_id, staff_id=staff_id, at=at)
    if rng.random() < config.booking_cancel_rate:
        when = world.timing.sample(
            rng,
            booking.station_id,
            booking.resident.group,
            at + timedelta(minutes=10),
            booking.starts_at - timedelta(hours=1),
        )
        if when is not None:
            world.at(when, partial(_cancel, world, booking, when))
    world.at(booking.starts_at - timedelta(minutes=20), partial(_use, world, booking))


def _cancel(world: World, booking: Booking, at: datetime) -> None:
    booking.cancelled = True
    if booking.reservation is not None:
        world.calendar.release(booking.reservation)
    payload = BookingCancelled(
        booking_id=booking.booking_id, reason=world.rng.choice(CANCEL_REASONS)
    )
    world.emitter.kiosk(payload, station_id=booking.station_id, at=at, resident=booking.resident)


def _use(world: World, booking: Booking) -> None:
    if booking.cancelled:
        return
    rng = world.rng
    if rng.random() < world.config.booking_no_show_rate:
        staff_id = world.staff_member(booking.station_id)
        payload = BookingNoShow(booking_id=booking.booking_id)
        at = booking.starts_at + minutes(rng, 30, 35)
        world.emitter.console(payload, station_id=booking.station_id, staff_id=staff_id, at=at)
        return
    window = world.book.window_containing(booking.venue_id, booking.starts_at, booking.ends_at)
    if window is None:  # cannot happen: confirmed only inside opening hours
        raise RuntimeError(f"{booking.booking_id} is outside its venue's opening hours")
    people = [booking.resident]
    for _ in range(rng.randint(0, min(booking.attendees - 1, 4))):
        companion = world.population.pick(rng, booking.station_id, None)
        if companion is not None and companion not in people:
            people.append(companion)
    for person in people:
        arrive = max(booking.starts_at + minutes(rng, -10, 15), window[0] + minutes(rng, 0, 2))
        record_visit(
            world,
            person,
            booking.station_id,
            booking.venue_id,
            arrive,
            stay=booking.ends_at + minutes(rng, -10, 3) - arrive,
            booking_id=booking.booking_id,
        )
