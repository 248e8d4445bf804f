"""The management loop: staff design, publish, change and cancel activities.

Figures (sample assumptions):

- Activities held per day: the center 10, each grid station 3, each residential station 1.3,
  each partner site 0.7 (about 58 a day). Staff design them during office hours (09:00-17:00)
  and publish them 15 min .. 4 h later for a day 1-7 days ahead (weights 10/20/22/18/14/10/6%
  for 1..7 days, times how well that day's free slots suit the audience). The first day of a
  run also publishes, at its very start, the activities that would have been published before
  the run for its first 7 days (the share of leads longer than the day's distance).
- Program: by its profile's weight (see ``programs``), leaning towards categories residents of
  the station asked for in the last 14 days (x (1 + 3 x that category's share of local
  demand)); up to 3 of those open demands are linked to the design. Audience: by the profile's
  weights x (best curve weight the station's venues are open for / the curve's peak)^2, so a
  station closing at 17:30 rarely targets young workers.
- Start times follow the audience's curve (squared, so they sit at the peaks: elderly
  mornings, children 15:30-17:00 on weekdays, young talent evenings and weekends), on the
  half hour, wholly inside one opening interval of a venue that is free at publishing time;
  a design with no such slot is shelved (never published).
- Small classes require registration: a design with at most ``REGISTRATION_REQUIRED_UP_TO``
  (20) places — every cooking class, about half the handicraft and calligraphy workshops —
  takes only residents who hold a place (see ``participation`` for who comes anyway).
- ``activity_update_rate`` of activities get changed in office hours (55% moved on the same
  day and venue, otherwise capacity raised when nearly full or lowered to no less than the
  registrations); ``activity_cancel_rate`` are cancelled at least 2 h before the start.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial

from producers.simulator.clock import between, day_start, minutes, slot_index
from producers.simulator.draws import poisson
from producers.simulator.participation import plan_registrations, schedule_hold
from producers.simulator.programs import (
    AUDIENCE_CURVE,
    KIND_BOOST,
    Activity,
    Draft,
    profile,
    venues_for,
)
from producers.simulator.reservations import Reservation
from producers.simulator.rhythms import CURVES, weight
from producers.simulator.world import World
from sanjiang.events.payloads import (
    ActivityCancelled,
    ActivityDesigned,
    ActivityPublished,
    ActivityUpdated,
)
from sanjiang.events.types import TargetGroup
from sanjiang.network import StationKind, Venue

DEMAND_PULL = 3.0
LEAD_WEIGHTS = (0.10, 0.20, 0.22, 0.18, 0.14, 0.10, 0.06)
CANCEL_REASONS = ("讲师临时有事", "天气原因", "报名人数不足", "场地设备维修")
STEP = timedelta(minutes=30)
OFFICE_HOURS = (time(9, 0), time(17, 0))
#: Activities published at the start of a run only get the registrations of the part of their
#: registration window inside the run (typical window: 3.5 days).
TYPICAL_WINDOW = timedelta(days=3.5)
#: Designs with at most this many places require registration (small classes).
REGISTRATION_REQUIRED_UP_TO = 20


def _rate(world: World, kind: StationKind) -> float:
    c = world.config
    return {
        "center": c.center_activities_per_day,
        "grid": c.grid_activities_per_day,
        "residential": c.residential_activities_per_day,
        "partner": c.partner_activities_per_day,
    }[kind]


def seed_day(world: World, day: date) -> None:
    """Staff of every station design the day's new activities (published later that day)."""
    rng = world.rng
    open_at = datetime.combine(day, OFFICE_HOURS[0], world.book.tz)
    close_at = datetime.combine(day, OFFICE_HOURS[1], world.book.tz)
    for station in world.network.stations:
        for _ in range(poisson(rng, _rate(world, station.kind))):
            at = between(rng, open_at, close_at)
            world.at(at, partial(_design_then_publish, world, station.id, at))


def backfill(world: World, day: date) -> None:
    """At the very start of the run, publish what would have been published before it."""
    rng = world.rng
    start = day_start(day, world.book.tz)
    at = start
    for k in range(len(LEAD_WEIGHTS)):
        still_ahead = sum(LEAD_WEIGHTS[k:])  # share of leads > k days
        for station in world.network.stations:
            for _ in range(poisson(rng, _rate(world, station.kind) * still_ahead)):
                at += timedelta(seconds=rng.randint(1, 3))
                draft = design(world, station.id, at, day=day + timedelta(days=k))
                if draft is not None:
                    publish(world, draft, at + timedelta(seconds=1))


def _design_then_publish(world: World, station_id: str, at: datetime) -> None:
    draft = design(world, station_id, at)
    if draft is not None:
        when = at + minutes(world.rng, 15, 240)
        world.at(when, partial(publish, world, draft, when))


def design(world: World, station_id: str, at: datetime, *, day: date | None = None) -> Draft | None:
    """A staff member designs an activity (``activity.designed``), for ``day`` if given.

    Without a day, staff pick one 1-7 days ahead when publishing.
    """
    rng, taxonomy = world.rng, world.taxonomy
    station = world.network.by_id[station_id]
    interest = world.demands.interest(station_id, at.date())
    asked = sum(interest.values())
    programs, weights = [], []
    for program in taxonomy.programs:
        if not venues_for(world.network, station_id, program.id):
            continue
        pull = 1 + DEMAND_PULL * (interest[program.category] / asked if asked else 0.0)
        boost = KIND_BOOST[station.kind].get(program.id, 1.0)
        programs.append(program)
        weights.append(profile(program.id).weight * boost * pull)
    if not programs:
        return None
    program = rng.choices(programs, weights=weights)[0]
    prof = profile(program.id)
    audiences = [a for a, _ in prof.audiences]
    fits = [w * _fit(world, station_id, program.id, a, at.date()) for a, w in prof.audiences]
    if not any(fits):
        return None
    audience = rng.choices(audiences, weights=fits)[0]
    target_groups = [audience]
    others = [a for a in audiences if a != audience]
    if others and rng.random() < 0.3:
        target_groups.append(rng.choice(others))
    capacity = max(5, round(prof.capacity * rng.uniform(0.8, 1.25)))
    demands = world.demands.open_for_category(station_id, program.category, at)[-3:]
    for demand in demands:
        demand.linked = True
    draft = Draft(
        activity_id=world.ids.next("ACT"),
        station_id=station_id,
        staff_id=world.staff_member(station_id),
        program=program.id,
        category=program.category,
        title=f"{program.name}·{rng.choice(prof.topics)}",
        audience=audience,
        target_groups=target_groups,
        capacity=capacity,
        duration=timedelta(minutes=rng.choice(prof.durations)),
        day=day,
        registration_required=capacity <= REGISTRATION_REQUIRED_UP_TO,
    )
    payload = ActivityDesigned(
        activity_id=draft.activity_id,
        title=draft.title,
        category=draft.category,
        program=draft.program,
        target_groups=draft.target_groups,
        planned_capacity=capacity,
        demand_ids=[d.demand_id for d in demands],
        registration_required=draft.registration_required,
    )
    world.emitter.console(payload, station_id=station_id, staff_id=draft.staff_id, at=at)
    return draft


def _fit(world: World, station_id: str, program: str, audience: TargetGroup, day: date) -> float:
    """How well the station's venues for the program suit the audience: 1.0 when they are open
    at the audience's peak hours, (best weight / peak)^2 otherwise (weekly hours: cached)."""
    key = (station_id, program, audience)
    found = world.fits.get(key)
    if found is None:
        curve = AUDIENCE_CURVE[audience]
        peak = max(max(CURVES[curve][0]), max(CURVES[curve][1]))
        best = 0.0
        for offset in range(7):
            when = day + timedelta(days=offset)
            for venue in venues_for(world.network, station_id, program):
                for lo, hi in world.book.venue_windows(venue.id, when):
                    for slot in range(slot_index(lo), slot_index(hi - timedelta(seconds=1)) + 1):
                        best = max(best, weight(curve, when, slot))
        found = (best / peak) ** 2
        world.fits[key] = found
    return found


def _slots(
    world: World,
    draft: Draft,
    day: date,
    venues: list[Venue],
    not_before: datetime,
    keep_clear_of: Reservation | None = None,
) -> tuple[list[tuple[str, datetime]], list[float]]:
    """Free half-hour starts for the draft on ``day``, weighted by its audience's curve."""
    curve = AUDIENCE_CURVE[draft.audience]
    midnight = day_start(day, world.book.tz)
    options: list[tuple[str, datetime]] = []
    weights: list[float] = []
    for venue in venues:
        for lo, hi in world.book.venue_windows(venue.id, day):
            start = midnight + -(-(lo - midnight) // STEP) * STEP
            while start + draft.duration <= hi:
                w = weight(curve, day, slot_index(start))
                end = start + draft.duration
                if (
                    w > 0
                    and start >= not_before
                    and world.calendar.is_free(venue.id, start, end, ignore=keep_clear_of)
                ):
                    options.append((venue.id, start))
                    weights.append(w * w)
                start += STEP
    return options, weights


def publish(world: World, draft: Draft, at: datetime) -> None:
    """Publish the draft (``activity.published``) at a free time and venue, if staff find one."""
    rng = world.rng
    venues = venues_for(world.network, draft.station_id, draft.program)
    if draft.day is not None:
        days = [(draft.day, 1.0)]
    else:
        days = [(at.date() + timedelta(days=i + 1), w) for i, w in enumerate(LEAD_WEIGHTS)]
    options: list[tuple[str, datetime]] = []
    weights: list[float] = []
    for day, day_weight in days:
        day_options, day_weights = _slots(world, draft, day, venues, at + timedelta(hours=1))
        options += day_options
        weights += [w * day_weight for w in day_weights]
    if not options:
        return  # shelved: nowhere free at a fitting time
    venue_id, start = rng.choices(options, weights=weights)[0]
    end = start + draft.duration
    capacity = min(draft.capacity, world.network.venues[venue_id].capacity)
    activity = Activity(
        draft=draft,
        venue_id=venue_id,
        starts_at=start,
        ends_at=end,
        capacity=capacity,
        reservation=world.calendar.reserve(venue_id, start, end, draft.activity_id),
    )
    payload = ActivityPublished(
        activity_id=draft.activity_id,
        title=draft.title,
        category=draft.category,
        program=draft.program,
        venue_id=venue_id,
        starts_at=start,
        ends_at=end,
        capacity=capacity,
        target_groups=draft.target_groups,
        registration_required=draft.registration_required,
    )
    world.emitter.console(payload, station_id=draft.station_id, staff_id=draft.staff_id, at=at)
    share = 1.0 if draft.day is None else min(1.0, (start - at) / TYPICAL_WINDOW)
    plan_registrations(world, activity, at, share)
    _plan_staff_changes(world, activity, at)
    schedule_hold(world, activity)


# --- staff changes ------------------------------------------------------------------------


def _plan_staff_changes(world: World, activity: Activity, published: datetime) -> None:
    rng, config = world.rng, world.config
    ahead = activity.starts_at - published
    if rng.random() < config.activity_update_rate:
        at = _office_time(world, published + ahead * rng.uniform(0.2, 0.7))
        if published < at <= activity.starts_at - timedelta(hours=3):
            world.at(at, partial(_update, world, activity, at))
    if rng.random() < config.activity_cancel_rate:
        at = _office_time(world, published + ahead * rng.uniform(0.3, 0.8))
        if published < at <= activity.starts_at - timedelta(hours=2):
            world.at(at, partial(_cancel, world, activity, at))


def _office_time(world: World, at: datetime) -> datetime:
    """``at`` moved into the office hours of its day (staff do not work at night)."""
    day = at.date()
    opens = datetime.combine(day, OFFICE_HOURS[0], world.book.tz)
    closes = datetime.combine(day, OFFICE_HOURS[1], world.book.tz)
    if opens <= at < closes:
        return at
    return (
        between(world.rng, opens, opens + timedelta(hours=1))
        if at < opens
        else (between(world.rng, closes - timedelta(hours=1), closes))
    )


def _update(world: World, activity: Activity, at: datetime) -> None:
    if activity.cancelled:
        return
    rng = world.rng
    draft = activity.draft
    staff_id = world.staff_member(draft.station_id)
    if rng.random() < 0.55:
        venue = world.network.venues[activity.venue_id]
        options, weights = _slots(
            world,
            draft,
            activity.starts_at.date(),
            [venue],
            at + timedelta(hours=3),
            keep_clear_of=activity.reservation,
        )
        moved = [
            (o, w)
            for o, w in zip(options, weights, strict=True)
            if abs(o[1] - activity.starts_at) >= STEP
        ]
        if moved:
            (_, start), _ = rng.choices(moved, weights=[w for _, w in moved])[0]
            end = start + draft.duration
            world.calendar.release(activity.reservation)
            activity.reservation = world.calendar.reserve(
                activity.venue_id, start, end, activity.activity_id
            )
            activity.starts_at, activity.ends_at = start, end
            activity.version += 1
            payload = ActivityUpdated(
                activity_id=activity.activity_id, starts_at=start, ends_at=end
            )
            world.emitter.console(payload, station_id=draft.station_id, staff_id=staff_id, at=at)
            schedule_hold(world, activity)
            return
    capacity = _new_capacity(world, activity)
    if capacity is not None:
        activity.capacity = capacity
        payload = ActivityUpdated(activity_id=activity.activity_id, capacity=capacity)
        world.emitter.console(payload, station_id=draft.station_id, staff_id=staff_id, at=at)


def _new_capacity(world: World, activity: Activity) -> int | None:
    """More places when nearly full, fewer (never below the registrations) otherwise."""
    rng = world.rng
    ceiling = world.network.venues[activity.venue_id].capacity
    registered = len(activity.registrations)
    if registered >= 0.8 * activity.capacity and activity.capacity < ceiling:
        return min(ceiling, activity.capacity + rng.randint(3, 10))
    lower = max(registered, activity.capacity - rng.randint(3, 8), 1)
    return lower if lower < activity.capacity else None


def _cancel(world: World, activity: Activity, at: datetime) -> None:
    if activity.cancelled:
        return
    activity.cancelled = True
    world.calendar.release(activity.reservation)
    draft = activity.draft
    payload = ActivityCancelled(
        activity_id=activity.activity_id, reason=world.rng.choice(CANCEL_REASONS)
    )
    staff_id = world.staff_member(draft.station_id)
    world.emitter.console(payload, station_id=draft.station_id, staff_id=staff_id, at=at)
