"""The deciders' state of one station, and ``evolve``: how each event changes it.

The state holds what decisions need and nothing else: activities (draft, published,
cancelled) with their registrations and waitlist, bookings, venue closures, demands, and the
commands already decided (so a command read twice gets its recorded answer). ``evolve`` is
the only way it changes, for the deciders' own events and for the facts they must know (a
kiosk's check-in): replaying a station's events through ``evolve`` rebuilds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sanjiang.commands.decision import Answer
from sanjiang.events import Event
from sanjiang.events import payloads as p

_Handler = Callable[["StationState", Event], None]
ActivityStatus = Literal["draft", "published", "cancelled"]
BookingStatus = Literal["pending", "confirmed", "rejected", "cancelled", "checked_in", "no_show"]
DemandStatus = Literal["submitted", "accepted", "dispatched", "answered", "closed"]


@dataclass(slots=True)
class Registrant:
    registration_id: str
    resident: str
    age_band: str | None
    minor: bool


@dataclass(slots=True)
class Activity:
    activity_id: str
    title: str
    category: str
    program: str
    target_groups: list[str]
    capacity: int
    venue_id: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    release_after_min: int
    series_id: str | None = None
    demand_ids: list[str] = field(default_factory=list)
    status: ActivityStatus = "draft"
    version: int = 0
    #: registration id -> who holds a place
    registered: dict[str, Registrant] = field(default_factory=dict)
    #: registration ids waiting, in order (first = next to get a place)
    waitlist: list[str] = field(default_factory=list)
    waiting: dict[str, Registrant] = field(default_factory=dict)
    #: residents checked in (kiosk facts naming this activity)
    checked_in: set[str] = field(default_factory=set)
    no_shows_released: bool = False
    #: only residents holding a place may come (a check-in of anyone else is a conflict)
    registration_required: bool = False

    def active_registration_of(self, resident: str) -> str | None:
        """The resident's registration, placed or waiting, if any."""
        for regs in (self.registered, self.waiting):
            for rid, who in regs.items():
                if who.resident == resident:
                    return rid
        return None

    @property
    def takes_venue(self) -> bool:
        return self.status == "published"


@dataclass(slots=True)
class Booking:
    booking_id: str
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    attendees: int
    resident: str | None
    status: BookingStatus = "pending"
    version: int = 0

    @property
    def takes_venue(self) -> bool:
        return self.status in ("confirmed", "checked_in")


@dataclass(slots=True)
class Closure:
    closure_id: str
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str


@dataclass(slots=True)
class Dispatch:
    dispatch_id: str
    unit: str
    due_at: datetime
    overdue: bool = False


@dataclass(slots=True)
class Demand:
    demand_id: str
    category: str
    summary: str
    submitted_at: datetime
    status: DemandStatus = "submitted"
    version: int = 0
    voters: set[str] = field(default_factory=set)
    dispatch: Dispatch | None = None
    answer: str | None = None
    activity_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StationState:
    """Everything one station's decider knows."""

    station_id: str
    activities: dict[str, Activity] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    closures: dict[str, Closure] = field(default_factory=dict)
    demands: dict[str, Demand] = field(default_factory=dict)
    #: registration id -> activity id (every registration id used here, of activities kept)
    registrations: dict[str, str] = field(default_factory=dict)
    decided: dict[str, Answer] = field(default_factory=dict)
    #: the latest time an event applied here occurred at, and when what is done was last
    #: forgotten (``forget_done``)
    horizon: datetime | None = None
    forgotten_at: datetime | None = None


#: the facts the deciders fold, from the event log (the rest they decided themselves)
FACT_TYPES = frozenset({"checkin.recorded"})


def folds(event_type: str) -> bool:
    """Whether ``evolve`` changes a state for events of this type."""
    return event_type in _HANDLERS


#: how long what is done (an activity or booking ended, a closure over, a demand answered or
#: closed) stays in a state after it; later commands naming it get ``not_found``
KEEP_DONE = timedelta(days=30)


def evolve(state: StationState, event: Event) -> StationState:
    """Apply one event to the station's state (in place) and return it. Events the deciders
    do not need, and facts about things they do not know, leave it as it is.

    Once a day of event time, what is done since ``KEEP_DONE`` is forgotten, so a station's
    state stays bounded; it depends on the events only, so a replay forgets the same."""
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event)
        at = event.occurred_at
        if state.horizon is None or at > state.horizon:
            state.horizon = at
            if state.forgotten_at is None or at - state.forgotten_at >= timedelta(days=1):
                state.forgotten_at = at
                forget_done(state, at - KEEP_DONE)
    return state


def forget_done(state: StationState, before: datetime) -> None:
    """Drop what was done before ``before``: activities and bookings that ended, closures
    over, demands answered or closed (submitted before it), and the registrations of the
    activities dropped."""
    gone = [
        a.activity_id
        for a in state.activities.values()
        if a.ends_at is not None and a.ends_at < before
    ]
    for activity_id in gone:
        del state.activities[activity_id]
    if gone:
        dropped = set(gone)
        state.registrations = {r: a for r, a in state.registrations.items() if a not in dropped}
    state.bookings = {k: b for k, b in state.bookings.items() if b.ends_at >= before}
    state.closures = {k: c for k, c in state.closures.items() if c.ends_at >= before}
    state.demands = {
        k: d
        for k, d in state.demands.items()
        if d.status not in ("answered", "closed") or d.submitted_at >= before
    }


def _designed(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.ActivityDesigned)
    state.activities[d.activity_id] = Activity(
        activity_id=d.activity_id,
        title=d.title,
        category=d.category,
        program=d.program,
        target_groups=list(d.target_groups),
        capacity=d.planned_capacity,
        venue_id=d.venue_id,
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        release_after_min=d.release_after_min,
        series_id=d.series_id,
        demand_ids=list(d.demand_ids),
        version=1,
        registration_required=d.registration_required,
    )


def _published(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.ActivityPublished)
    activity = state.activities.get(d.activity_id)
    if activity is None:  # published without a draft (events from before the deciders)
        activity = state.activities[d.activity_id] = Activity(
            activity_id=d.activity_id,
            title=d.title,
            category=d.category,
            program=d.program,
            target_groups=list(d.target_groups),
            capacity=d.capacity,
            venue_id=d.venue_id,
            starts_at=d.starts_at,
            ends_at=d.ends_at,
            release_after_min=15,
        )
    activity.title, activity.venue_id = d.title, d.venue_id
    activity.starts_at, activity.ends_at, activity.capacity = d.starts_at, d.ends_at, d.capacity
    activity.registration_required = d.registration_required
    activity.status = "published"
    activity.version += 1


def _updated(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.ActivityUpdated)
    activity = state.activities.get(d.activity_id)
    if activity is None:
        return
    if d.title is not None:
        activity.title = d.title
    if d.venue_id is not None:
        activity.venue_id = d.venue_id
    if d.starts_at is not None and d.ends_at is not None:
        activity.starts_at, activity.ends_at = d.starts_at, d.ends_at
    if d.capacity is not None:
        activity.capacity = d.capacity
    if d.registration_required is not None:
        activity.registration_required = d.registration_required
    activity.version += 1


def _activity_cancelled(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.ActivityCancelled)
    activity = state.activities.get(d.activity_id)
    if activity is not None:
        activity.status = "cancelled"
        activity.version += 1


def _registrant(event: Event, registration_id: str, facts: p.ResidentFacts) -> Registrant:
    return Registrant(registration_id, event.resident or "", facts.age_band, facts.minor)


def _registered(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.RegistrationSubmitted)
    state.registrations[d.registration_id] = d.activity_id
    activity = state.activities.get(d.activity_id)
    if activity is None:
        return
    if d.registration_id in activity.waiting:  # promoted from the waitlist
        del activity.waiting[d.registration_id]
        activity.waitlist.remove(d.registration_id)
    activity.registered[d.registration_id] = _registrant(event, d.registration_id, d)
    activity.version += 1


def _waitlisted(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.RegistrationWaitlisted)
    state.registrations[d.registration_id] = d.activity_id
    activity = state.activities.get(d.activity_id)
    if activity is None:
        return
    activity.waiting[d.registration_id] = _registrant(event, d.registration_id, d)
    activity.waitlist.append(d.registration_id)
    activity.version += 1


def _registration_cancelled(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.RegistrationCancelled)
    activity = state.activities.get(d.activity_id)
    if activity is None:
        return
    if activity.registered.pop(d.registration_id, None) is None:
        if activity.waiting.pop(d.registration_id, None) is None:
            return
        activity.waitlist.remove(d.registration_id)
    activity.version += 1


def _checked_in(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.CheckinRecorded)
    if d.activity_id is not None and event.resident is not None:
        activity = state.activities.get(d.activity_id)
        if activity is not None:
            activity.checked_in.add(event.resident)
    if d.booking_id is not None:
        booking = state.bookings.get(d.booking_id)
        if booking is not None and booking.status == "confirmed":
            booking.status = "checked_in"
            booking.version += 1


def _booking_requested(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.BookingRequested)
    state.bookings[d.booking_id] = Booking(
        booking_id=d.booking_id,
        venue_id=d.venue_id,
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        attendees=d.attendees,
        resident=event.resident,
        version=1,
    )


def _booking_status(status: BookingStatus) -> _Handler:
    def apply(state: StationState, event: Event) -> None:
        booking_id = getattr(event.payload, "booking_id")  # noqa: B009  # every booking payload
        booking = state.bookings.get(booking_id)
        if booking is None:
            return
        if isinstance(event.payload, p.BookingConfirmed):
            booking.venue_id = event.payload.venue_id
            booking.starts_at, booking.ends_at = event.payload.starts_at, event.payload.ends_at
        booking.status = status
        booking.version += 1

    return apply


def _closure_scheduled(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.VenueClosureScheduled)
    state.closures[d.closure_id] = Closure(
        d.closure_id, d.venue_id, d.starts_at, d.ends_at, d.reason
    )


def _closure_lifted(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.VenueClosureLifted)
    state.closures.pop(d.closure_id, None)


def _demand_submitted(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.DemandSubmitted)
    if d.demand_id in state.demands:
        return
    demand = state.demands[d.demand_id] = Demand(
        d.demand_id, d.category, d.summary, event.occurred_at, version=1
    )
    if event.resident is not None:
        demand.voters.add(event.resident)


def _demand_voted(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.DemandVoted)
    demand = state.demands.get(d.demand_id)
    if demand is not None and event.resident is not None:
        demand.voters.add(event.resident)
        demand.version += 1


def _demand_handled(state: StationState, event: Event) -> None:
    d = event.payload
    demand = state.demands.get(getattr(d, "demand_id"))  # noqa: B009  # every demand payload
    if demand is None:
        return
    match d:
        case p.DemandAccepted():
            demand.status = "accepted"
        case p.DemandDispatched():
            demand.status = "dispatched"
            demand.dispatch = Dispatch(d.dispatch_id, d.unit, d.due_at)
        case p.DemandOverdue():
            if demand.dispatch is not None:
                demand.dispatch.overdue = True
        case p.DemandAnswered():
            demand.status, demand.answer = "answered", d.answer
        case p.DemandLinked():
            demand.activity_ids.extend(a for a in d.activity_ids if a not in demand.activity_ids)
        case p.DemandClosed():
            demand.status = "closed"
    demand.version += 1


def _command_decided(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.CommandDecided)
    state.decided[d.command_id] = Answer(
        command_id=d.command_id,
        accepted=d.accepted,
        event_ids=tuple(d.event_ids),
        version=d.version,
        outcome=d.outcome,
        position=d.position,
        reason=d.reason,
        detail=d.detail,
        cause=d.cause,
    )


def _places_released(state: StationState, event: Event) -> None:
    d = event.payload
    assert isinstance(d, p.ActivityPlacesReleased)
    activity = state.activities.get(d.activity_id)
    if activity is not None:
        activity.no_shows_released = True
        activity.version += 1


_HANDLERS: dict[str, _Handler] = {
    "activity.places_released": _places_released,
    "activity.designed": _designed,
    "activity.published": _published,
    "activity.updated": _updated,
    "activity.cancelled": _activity_cancelled,
    "registration.submitted": _registered,
    "registration.waitlisted": _waitlisted,
    "registration.cancelled": _registration_cancelled,
    "checkin.recorded": _checked_in,
    "booking.requested": _booking_requested,
    "booking.confirmed": _booking_status("confirmed"),
    "booking.rejected": _booking_status("rejected"),
    "booking.cancelled": _booking_status("cancelled"),
    "booking.checked_in": _booking_status("checked_in"),
    "booking.no_show": _booking_status("no_show"),
    "venue.closure_scheduled": _closure_scheduled,
    "venue.closure_lifted": _closure_lifted,
    "demand.submitted": _demand_submitted,
    "demand.voted": _demand_voted,
    "demand.accepted": _demand_handled,
    "demand.dispatched": _demand_handled,
    "demand.overdue": _demand_handled,
    "demand.answered": _demand_handled,
    "demand.linked": _demand_handled,
    "demand.closed": _demand_handled,
    "command.decided": _command_decided,
}
