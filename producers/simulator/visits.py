"""Drop-in visits: residents walking into an open venue, checking in and (mostly) out.

Figures, per active resident per day (weekday / weekend), times ``dropin_scale``: elderly
0.20 / 0.14, children 0.09 / 0.25, teens 0.05 / 0.15, young talent 0.07 / 0.20,
new-employment workers 0.14 / 0.14 (rest stops between delivery rushes), adults 0.05 / 0.12 -
about 950 visits on a weekday, 1,150 on a weekend day. Each visit picks one of the resident's
usual stations (see ``population``) in proportion to how much of that group's daily curve the
station is open for, then an instant from the curve, then a venue open at that instant
(spaces, gyms and yards preferred; never the kitchen). Stays last 40-120 min for the elderly,
10-40 min for delivery workers; ``checkout_rate`` of visitors check out, the others forget,
and nobody is checked out after the venue closes. Half of the children come with their guardian,
who checks in too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from producers.simulator.clock import between, is_weekend, minutes
from producers.simulator.demands import demand_at_kiosk
from producers.simulator.draws import poisson
from producers.simulator.population import GROUPS, Group, Resident
from producers.simulator.world import World
from sanjiang.events.payloads import CheckinRecorded, CheckoutRecorded
from sanjiang.network import VenueKind

DROPIN_RATES: dict[Group, tuple[float, float]] = {
    "elderly": (0.20, 0.14),
    "children": (0.09, 0.25),
    "teens": (0.05, 0.15),
    "youth": (0.07, 0.20),
    "new_employment": (0.14, 0.14),
    "adults": (0.05, 0.12),
}
STAY_MINUTES: dict[Group, tuple[float, float]] = {
    "elderly": (40, 120),
    "children": (40, 90),
    "teens": (30, 90),
    "youth": (30, 120),
    "new_employment": (10, 40),
    "adults": (30, 90),
}
VENUE_WEIGHTS: dict[VenueKind, float] = {
    "space": 1.5,
    "room": 1.0,
    "gym": 1.2,
    "outdoor": 1.2,
    "studio": 0.8,
    "hall": 0.4,
    "kitchen": 0.0,
}
GYM_GOERS: frozenset[Group] = frozenset({"teens", "youth", "new_employment"})
GUARDIAN_COMES = 0.5
#: Attendees of activities make demands at this fraction of a drop-in visitor's rates.
ATTENDEE_DEMAND_FACTOR = 0.2


def seed_day(world: World, day: date) -> None:
    """Generate the day's drop-in visits."""
    rng, population = world.rng, world.population
    weekend = is_weekend(day)
    for group in GROUPS:
        mean = DROPIN_RATES[group][weekend] * population.group_sizes[group]
        for _ in range(poisson(rng, mean * world.config.dropin_scale)):
            resident = population.pick_in_group(rng, group)
            if resident is not None:
                _visit(world, day, resident)


def _visit(world: World, day: date, resident: Resident) -> None:
    rng, timing = world.rng, world.timing
    haunts = world.population.haunts[resident.raw_id]
    weights = [share * timing.day_mass(s, day, resident.group) for s, share in haunts]
    if sum(weights) <= 0:
        return
    station_id = rng.choices([s for s, _ in haunts], weights=weights)[0]
    at = timing.sample_day(rng, station_id, day, resident.group)
    if at is None:
        return
    venue_id = _open_venue(world, station_id, at, resident.group)
    if venue_id is None:
        return
    leave = record_visit(world, resident, station_id, venue_id, at, stay=_stay(world, resident))
    config = world.config
    for vote, rate in ((False, config.demand_submit_rate), (True, config.demand_vote_rate)):
        if rng.random() < rate:
            when = min(at + minutes(rng, 2, 15), leave or at + timedelta(minutes=15))
            demand_at_kiosk(world, resident, station_id, when, vote=vote)
    guardian_id = resident.guardian
    if guardian_id is not None and rng.random() < GUARDIAN_COMES:
        guardian = world.population.by_id[guardian_id]
        with_child = at + timedelta(seconds=rng.randint(5, 90))
        if world.book.venue_open_at(venue_id, with_child) is None:
            with_child = at
        record_visit(
            world,
            guardian,
            station_id,
            venue_id,
            with_child,
            stay=(leave - at) if leave is not None else _stay(world, resident),
        )


def _stay(world: World, resident: Resident) -> timedelta:
    return minutes(world.rng, *STAY_MINUTES[resident.group])


def _open_venue(world: World, station_id: str, at: datetime, group: Group) -> str | None:
    venues, weights = [], []
    for venue in world.network.by_id[station_id].venues:
        weight = VENUE_WEIGHTS[venue.kind] * (
            2.0 if venue.kind == "gym" and group in GYM_GOERS else 1
        )
        if weight > 0 and world.book.venue_open_at(venue.id, at) is not None:
            venues.append(venue.id)
            weights.append(weight)
    return world.rng.choices(venues, weights=weights)[0] if venues else None


def record_visit(
    world: World,
    resident: Resident,
    station_id: str,
    venue_id: str,
    at: datetime,
    *,
    stay: timedelta,
    activity_id: str | None = None,
    booking_id: str | None = None,
) -> datetime | None:
    """Emit a check-in at ``at`` and, most of the time, a check-out; returns when they left.

    The check-out happens after ``stay``, but before the venue's opening interval ends; a visit
    with no check-out returns None.
    """
    rng = world.rng
    window = world.book.venue_open_at(venue_id, at)
    if window is None:
        raise ValueError(f"{venue_id} is closed at {at}")
    visit_id = world.ids.next("VIS")
    checkin = CheckinRecorded(
        visit_id=visit_id,
        venue_id=venue_id,
        activity_id=activity_id,
        booking_id=booking_id,
        age_band=resident.age_band,
        minor=resident.minor,
    )
    world.emitter.kiosk(checkin, station_id=station_id, at=at, resident=resident)
    if rng.random() >= world.config.checkout_rate:
        return None
    close = window[1]
    leave = min(at + stay, close - minutes(rng, 0, 3))
    if leave <= at:
        leave = between(rng, at, close)
    checkout = CheckoutRecorded(visit_id=visit_id, venue_id=venue_id)
    world.emitter.kiosk(checkout, station_id=station_id, at=leave, resident=resident)
    return leave
