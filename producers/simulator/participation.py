"""The service loop around an activity: registrations, attendance, check-outs, evaluations.

Figures (sample assumptions):

- Registrations: attempts = capacity x triangular(0.45, 1.3, mode 0.9) (times the share of the
  registration window inside the run, for activities published at its start), from the
  audience's groups (see ``programs``), each group weighted by (0.3 + its curve at the start
  time) - people sign up for what they can attend - at the hosting station's kiosks while it is
  open, between publishing and 45 min before the start; attempts beyond capacity fail (the
  activity is full). ``registration_cancel_rate`` are cancelled up to 1 h before the start.
- Attendance: registrants come with ``show_up_rate`` (elderly x1.06 … new-employment x0.88),
  checking in 15 min before to 8 min after the start; 15% of the free places go to walk-ins,
  but only 3% at an activity that requires registration: residents register first, and the
  few who come without a place check in anyway (a conflict the platform flags, never refuses).
  Attendees check out around the end (``checkout_rate``), never after the venue closes.
- Evaluations: ``evaluation_rate`` of attendees rate the activity (5: 55%, 4: 31%, 3: 9%,
  2: 3%, 1: 2%, so 86% satisfied), 65% at a kiosk right after, the others within 2 days;
  ``evaluation_revision_rate`` of them revise their rating (by one star) 1 h .. 3 days later.
- Attendees submit or vote on demands at a fifth of a drop-in visitor's rates.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import partial

from producers.simulator.clock import minutes, slot_index
from producers.simulator.demands import demand_at_kiosk
from producers.simulator.draws import binomial
from producers.simulator.population import Resident
from producers.simulator.programs import FREE_FLOOR, REGISTRANTS, SHOW_FACTOR, Activity
from producers.simulator.rhythms import weight
from producers.simulator.visits import ATTENDEE_DEMAND_FACTOR, record_visit
from producers.simulator.world import World
from sanjiang.events.payloads import (
    EvaluationSubmitted,
    RegistrationCancelled,
    RegistrationSubmitted,
)

RATINGS = ((5, 0.55), (4, 0.31), (3, 0.09), (2, 0.03), (1, 0.02))
COMMENTS = ("", "", "", "老师讲得很好", "内容实用", "希望多办几期", "场地有点挤", "时间安排合适")
REGISTRATION_CANCEL_REASONS = ("", "临时有事", "身体不适", "时间冲突")
REGISTRATION_CLOSES = timedelta(minutes=45)
REGISTRATION_CANCEL_CLOSES = timedelta(hours=1)
HOLD_LEAD = timedelta(minutes=30)
WALK_IN_SHARE = 0.15
#: ... of the free places of an activity that requires registration: who comes without a place
UNREGISTERED_SHARE = 0.03
QUICK_EVALUATION = 0.65


def _registrant(world: World, activity: Activity, taken: set[str]) -> Resident | None:
    rng = world.rng
    groups = REGISTRANTS[activity.draft.audience]
    day, slot = activity.starts_at.date(), slot_index(activity.starts_at)
    weights = [w * (FREE_FLOOR + weight(g, day, slot)) for g, w in groups]
    for _ in range(4):
        group = rng.choices([g for g, _ in groups], weights=weights)[0]
        resident = world.population.pick(rng, activity.draft.station_id, group)
        if resident is None:
            resident = world.population.pick(rng, activity.draft.station_id, None)
        if resident is not None and resident.raw_id not in taken:
            taken.add(resident.raw_id)
            return resident
    return None


def plan_registrations(world: World, activity: Activity, published: datetime, share: float) -> None:
    """Schedule the registration attempts of a just-published activity."""
    rng = world.rng
    attempts = round(activity.capacity * rng.triangular(0.45, 1.3, 0.9) * share)
    taken: set[str] = set()
    lo = published + timedelta(minutes=5)
    hi = activity.starts_at - REGISTRATION_CLOSES
    for _ in range(attempts):
        resident = _registrant(world, activity, taken)
        if resident is None:
            continue
        at = world.timing.sample(rng, activity.draft.station_id, resident.group, lo, hi)
        if at is not None:
            world.at(at, partial(_register, world, activity, resident, at))


def _register(world: World, activity: Activity, resident: Resident, at: datetime) -> None:
    if activity.cancelled or at >= activity.starts_at - REGISTRATION_CLOSES:
        return
    if len(activity.registrations) >= activity.capacity:
        return  # full
    registration_id = world.ids.next("REG")
    activity.registrations[registration_id] = resident
    payload = RegistrationSubmitted(
        registration_id=registration_id,
        activity_id=activity.activity_id,
        age_band=resident.age_band,
        minor=resident.minor,
    )
    world.emitter.kiosk(payload, station_id=activity.draft.station_id, at=at, resident=resident)
    rng = world.rng
    if rng.random() < world.config.registration_cancel_rate:
        when = world.timing.sample(
            rng,
            activity.draft.station_id,
            resident.group,
            at + timedelta(minutes=30),
            activity.starts_at - REGISTRATION_CANCEL_CLOSES,
        )
        if when is not None:
            world.at(when, partial(_cancel_registration, world, activity, registration_id, when))


def _cancel_registration(
    world: World, activity: Activity, registration_id: str, at: datetime
) -> None:
    if activity.cancelled or at >= activity.starts_at - REGISTRATION_CANCEL_CLOSES:
        return
    resident = activity.registrations.pop(registration_id, None)
    if resident is None:
        return
    payload = RegistrationCancelled(
        registration_id=registration_id,
        activity_id=activity.activity_id,
        reason=world.rng.choice(REGISTRATION_CANCEL_REASONS),
    )
    world.emitter.kiosk(payload, station_id=activity.draft.station_id, at=at, resident=resident)


# --- the activity takes place -------------------------------------------------------------


def schedule_hold(world: World, activity: Activity) -> None:
    """Schedule the activity to take place (again, after its time changed)."""
    version = activity.version
    world.at(activity.starts_at - HOLD_LEAD, partial(_hold, world, activity, version))


def _hold(world: World, activity: Activity, version: int) -> None:
    """Who comes: registrants (most of them) and walk-ins; then check-outs and ratings."""
    if activity.cancelled or version != activity.version:
        return
    rng, config = world.rng, world.config
    window = world.book.window_containing(activity.venue_id, activity.starts_at, activity.ends_at)
    if window is None:  # cannot happen: published and moved only inside opening hours
        raise RuntimeError(f"{activity.activity_id} is outside its venue's opening hours")
    attendees = [
        r
        for r in activity.registrations.values()
        if rng.random() < min(0.99, config.show_up_rate * SHOW_FACTOR[r.group])
    ]
    taken = {r.raw_id for r in activity.registrations.values()}
    share = UNREGISTERED_SHARE if activity.draft.registration_required else WALK_IN_SHARE
    for _ in range(binomial(rng, max(0, activity.capacity - len(attendees)), share)):
        walk_in = _registrant(world, activity, taken)
        if walk_in is not None:
            attendees.append(walk_in)
    for resident in attendees:
        arrive = activity.starts_at + minutes(rng, -15, 8)
        if arrive < window[0]:
            arrive = window[0] + minutes(rng, 0, 2)
        stay = activity.ends_at + minutes(rng, -5, 8) - arrive
        left = record_visit(
            world,
            resident,
            activity.draft.station_id,
            activity.venue_id,
            arrive,
            stay=stay,
            activity_id=activity.activity_id,
        )
        after = left or activity.ends_at
        _after_activity(world, activity, resident, after)


def _after_activity(world: World, activity: Activity, resident: Resident, after: datetime) -> None:
    rng, config = world.rng, world.config
    station_id = activity.draft.station_id
    for vote, rate in ((False, config.demand_submit_rate), (True, config.demand_vote_rate)):
        if rng.random() < rate * ATTENDEE_DEMAND_FACTOR:
            when = after + minutes(rng, 1, 5)
            if world.book.station_open_at(station_id, when):
                demand_at_kiosk(world, resident, station_id, when, vote=vote)
    if rng.random() >= config.evaluation_rate:
        return
    end = max(after, activity.ends_at)
    quick = end + minutes(rng, 1, 12)
    at: datetime | None = quick
    if rng.random() >= QUICK_EVALUATION or not world.book.station_open_at(station_id, quick):
        at = world.timing.sample(
            rng, station_id, resident.group, end + timedelta(hours=1), end + timedelta(days=2)
        )
    if at is None:
        return
    rating = _rating(rng)
    _evaluate(world, activity, resident, at, rating)
    if rng.random() < config.evaluation_revision_rate:
        later = world.timing.sample(
            rng, station_id, resident.group, at + timedelta(hours=1), at + timedelta(days=3)
        )
        if later is not None:
            revised = min(5, max(1, rating + rng.choice((-1, 1, 1))))
            _evaluate(world, activity, resident, later, revised)


def _rating(rng: random.Random) -> int:
    return rng.choices([r for r, _ in RATINGS], weights=[w for _, w in RATINGS])[0]


def _evaluate(
    world: World, activity: Activity, resident: Resident, at: datetime, rating: int
) -> None:
    payload = EvaluationSubmitted(
        activity_id=activity.activity_id, rating=rating, comment=world.rng.choice(COMMENTS)
    )
    world.emitter.kiosk(payload, station_id=activity.draft.station_id, at=at, resident=resident)
