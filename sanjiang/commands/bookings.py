"""Venue bookings: request (checked against the venue's rules, hours, closures and uses),
approve, reject, cancel, check in, no-show."""

from __future__ import annotations

from datetime import timedelta

from sanjiang.commands.context import Decide
from sanjiang.commands.decision import Accepted, Reason, Rejected
from sanjiang.commands.model import (
    ApproveBooking,
    CancelBooking,
    CheckInBooking,
    MarkNoShow,
    RejectBooking,
    RequestBooking,
)
from sanjiang.commands.state import Booking, BookingStatus
from sanjiang.commands.venues import check_capacity, check_free, check_future, check_open
from sanjiang.events import payloads as p

#: how early a party may be let in, and how late a confirmed booking becomes a no-show
CHECK_IN_EARLY = timedelta(minutes=30)
NO_SHOW_AFTER = timedelta(minutes=15)


def _booking(d: Decide, booking_id: str, *allowed: BookingStatus) -> Booking:
    booking = d.state.bookings.get(booking_id)
    if booking is None:
        raise Rejected(Reason.NOT_FOUND, f"no booking {booking_id}", cause=booking_id)
    d.expect_version(booking.version)
    if booking.status not in allowed:
        raise Rejected(
            Reason.INVALID_STATE,
            f"booking {booking_id} is {booking.status}; this needs it {' or '.join(allowed)}",
            cause=booking_id,
        )
    return booking


def request(d: Decide, c: RequestBooking) -> Accepted:
    if c.booking_id in d.state.bookings:
        raise Rejected(Reason.DUPLICATE_ID, f"booking {c.booking_id} exists", cause=c.booking_id)
    venue = d.venue(c.venue_id)
    if not venue.bookable:
        raise Rejected(Reason.VENUE_NOT_BOOKABLE, f"{venue.name} cannot be booked", venue.id)
    rules = venue.booking_rules
    minutes = (c.ends_at - c.starts_at).total_seconds() / 60
    check_future(d, c.starts_at)
    if not rules.min_minutes <= minutes <= rules.max_minutes:
        raise Rejected(
            Reason.OUTSIDE_BOOKING_RULES,
            f"{venue.name} is booked for {rules.min_minutes} to {rules.max_minutes} minutes, "
            f"not {minutes:.0f}",
            cause="length",
        )
    if c.starts_at - d.now > timedelta(days=rules.max_days_ahead):
        raise Rejected(
            Reason.OUTSIDE_BOOKING_RULES,
            f"{venue.name} is booked at most {rules.max_days_ahead} days ahead",
            cause="ahead",
        )
    check_capacity(venue, c.attendees)
    check_open(d, venue, c.starts_at, c.ends_at)
    check_free(d, venue, c.starts_at, c.ends_at)
    d.emit(
        p.BookingRequested(
            booking_id=c.booking_id,
            venue_id=venue.id,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            attendees=c.attendees,
            purpose=c.purpose,
        ),
        resident=c.resident,
    )
    if rules.approval_required:
        return Accepted(tuple(d.events), version=1, outcome="pending")
    d.emit(
        p.BookingConfirmed(
            booking_id=c.booking_id, venue_id=venue.id, starts_at=c.starts_at, ends_at=c.ends_at
        )
    )
    return Accepted(tuple(d.events), version=2)


def approve(d: Decide, c: ApproveBooking) -> Accepted:
    """Confirmed if the venue is still open and free then (a closure or another use may have
    come since the request)."""
    booking = _booking(d, c.booking_id, "pending")
    venue = d.venue(booking.venue_id)
    check_future(d, booking.starts_at)
    check_open(d, venue, booking.starts_at, booking.ends_at)
    check_free(d, venue, booking.starts_at, booking.ends_at, ignore=booking.booking_id)
    d.emit(
        p.BookingConfirmed(
            booking_id=booking.booking_id,
            venue_id=venue.id,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
        )
    )
    return Accepted(tuple(d.events), version=booking.version + 1)


def reject(d: Decide, c: RejectBooking) -> Accepted:
    booking = _booking(d, c.booking_id, "pending")
    d.emit(p.BookingRejected(booking_id=booking.booking_id, reason=c.reason))
    return Accepted(tuple(d.events), version=booking.version + 1)


def cancel(d: Decide, c: CancelBooking) -> Accepted:
    booking = _booking(d, c.booking_id, "pending", "confirmed")
    if booking.ends_at <= d.now:
        raise Rejected(Reason.INVALID_STATE, f"booking {booking.booking_id} is over")
    d.emit(p.BookingCancelled(booking_id=booking.booking_id, reason=c.reason))
    return Accepted(tuple(d.events), version=booking.version + 1)


def check_in(d: Decide, c: CheckInBooking) -> Accepted:
    booking = _booking(d, c.booking_id, "confirmed")
    if not booking.starts_at - CHECK_IN_EARLY <= d.now < booking.ends_at:
        raise Rejected(
            Reason.TOO_EARLY if d.now < booking.starts_at else Reason.INVALID_STATE,
            f"check-in is open from {CHECK_IN_EARLY.seconds // 60} minutes before the start "
            "to the end",
        )
    d.emit(p.BookingCheckedIn(booking_id=booking.booking_id))
    return Accepted(tuple(d.events), version=booking.version + 1)


def mark_no_show(d: Decide, c: MarkNoShow) -> Accepted:
    booking = _booking(d, c.booking_id, "confirmed")
    due = booking.starts_at + NO_SHOW_AFTER
    if d.now < due:
        raise Rejected(Reason.TOO_EARLY, f"a no-show can be marked from {due.isoformat()}")
    d.emit(p.BookingNoShow(booking_id=booking.booking_id))
    return Accepted(tuple(d.events), version=booking.version + 1)
