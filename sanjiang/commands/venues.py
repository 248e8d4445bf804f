"""Rules of a venue's time: open then (hours and closures), free then (with the buffer), big
enough; and the closures themselves."""

from __future__ import annotations

from datetime import datetime, timedelta

from sanjiang.commands.context import Decide
from sanjiang.commands.decision import Accepted, Reason, Rejected
from sanjiang.commands.model import CloseVenue, LiftClosure
from sanjiang.commands.state import StationState
from sanjiang.events import payloads as p
from sanjiang.network import Network, Venue


def check_open(d: Decide, venue: Venue, starts_at: datetime, ends_at: datetime) -> None:
    """``venue_closed`` unless one opening interval of the venue covers the whole time and no
    closure overlaps it."""
    if not within_hours(d.ref.network, venue, starts_at, ends_at):
        local = d.ref.network.tz
        raise Rejected(
            Reason.VENUE_CLOSED,
            f"{venue.name} is not open from {starts_at.astimezone(local):%Y-%m-%d %H:%M} "
            f"to {ends_at.astimezone(local):%H:%M} (its opening hours)",
            cause="opening_hours",
        )
    for closure in d.state.closures.values():
        overlaps = closure.starts_at < ends_at and starts_at < closure.ends_at
        if closure.venue_id == venue.id and overlaps:
            raise Rejected(
                Reason.VENUE_CLOSED,
                f"{venue.name} is closed then: {closure.reason}",
                cause=closure.closure_id,
            )


def within_hours(network: Network, venue: Venue, starts_at: datetime, ends_at: datetime) -> bool:
    """Whether one opening interval of the venue covers ``[starts_at, ends_at)``."""
    windows = network.opening_windows(venue.id, starts_at, ends_at)
    if len(windows) != 1:
        return False
    lo, hi = windows[0]
    return lo == starts_at and hi == ends_at


def check_free(
    d: Decide, venue: Venue, starts_at: datetime, ends_at: datetime, ignore: str | None = None
) -> None:
    """``venue_taken`` when a published activity or a confirmed booking uses the venue within
    the venue's buffer of this time (``ignore``: the thing being moved)."""
    cause = taken_by(d.state, venue, starts_at, ends_at, ignore)
    if cause is not None:
        what, start, end = cause
        tz = d.ref.network.tz
        raise Rejected(
            Reason.VENUE_TAKEN,
            f"{venue.name} is taken by {what} from {start.astimezone(tz):%Y-%m-%d %H:%M} "
            f"to {end.astimezone(tz):%H:%M} (with {venue.booking_rules.buffer_minutes} "
            "minutes between uses)",
            cause=what,
        )


def taken_by(
    state: StationState, venue: Venue, starts_at: datetime, ends_at: datetime, ignore: str | None
) -> tuple[str, datetime, datetime] | None:
    """The first use of the venue in the way, as (id, start, end), or None."""
    buffer = timedelta(minutes=venue.booking_rules.buffer_minutes)
    lo, hi = starts_at - buffer, ends_at + buffer
    for activity in state.activities.values():
        if (
            activity.takes_venue
            and activity.venue_id == venue.id
            and activity.activity_id != ignore
            and activity.starts_at is not None
            and activity.ends_at is not None
            and activity.starts_at < hi
            and lo < activity.ends_at
        ):
            return activity.activity_id, activity.starts_at, activity.ends_at
    for booking in state.bookings.values():
        if (
            booking.takes_venue
            and booking.venue_id == venue.id
            and booking.booking_id != ignore
            and booking.starts_at < hi
            and lo < booking.ends_at
        ):
            return booking.booking_id, booking.starts_at, booking.ends_at
    return None


def check_capacity(venue: Venue, people: int) -> None:
    if people > venue.capacity:
        raise Rejected(
            Reason.OVER_VENUE_CAPACITY,
            f"{people} people do not fit {venue.name}: it holds {venue.capacity}",
            cause=venue.id,
        )


def check_future(d: Decide, starts_at: datetime) -> None:
    if starts_at <= d.now:
        raise Rejected(
            Reason.IN_THE_PAST, f"it would start at {starts_at.isoformat()}, already past"
        )


def close_venue(d: Decide, c: CloseVenue) -> Accepted:
    """A closure always stands (a burst pipe does not ask); it flags what it collides with."""
    venue = d.venue(c.venue_id)
    if c.closure_id in d.state.closures:
        raise Rejected(Reason.DUPLICATE_ID, f"closure {c.closure_id} exists", cause=c.closure_id)
    collides = [
        a.activity_id
        for a in d.state.activities.values()
        if a.takes_venue
        and a.venue_id == venue.id
        and a.starts_at is not None
        and a.ends_at is not None
        and a.starts_at < c.ends_at
        and c.starts_at < a.ends_at
    ] + [
        b.booking_id
        for b in d.state.bookings.values()
        if b.status in ("pending", "confirmed")
        and b.venue_id == venue.id
        and b.starts_at < c.ends_at
        and c.starts_at < b.ends_at
    ]
    d.emit(
        p.VenueClosureScheduled(
            closure_id=c.closure_id,
            venue_id=venue.id,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            reason=c.reason,
            collides_with=sorted(collides)[:1000],
        )
    )
    return Accepted(tuple(d.events))


def lift_closure(d: Decide, c: LiftClosure) -> Accepted:
    closure = d.state.closures.get(c.closure_id)
    if closure is None:
        raise Rejected(Reason.NOT_FOUND, f"no closure {c.closure_id}", cause=c.closure_id)
    d.emit(p.VenueClosureLifted(closure_id=c.closure_id, venue_id=closure.venue_id))
    return Accepted(tuple(d.events))
