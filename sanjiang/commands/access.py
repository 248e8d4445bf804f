"""Who may ask for what: command kind -> the roles that may send it. Pure data, read by the
API (403 before anything is sent) and by the decider (a command that got past is refused).

Staff roles are scoped to stations by the API; kiosks act for residents at their station;
the scheduler sends the time-driven commands."""

from __future__ import annotations

from sanjiang.commands.model import BODY_TYPES

_RESIDENT = {
    "registration.register",
    "registration.cancel",
    "booking.request",
    "demand.submit",
    "demand.vote",
}
_OPERATOR = _RESIDENT | {
    "activity.design",
    "activity.design_series",
    "activity.update",
    "activity.publish",
    "activity.cancel",
    "booking.cancel",
    "booking.check_in",
    "booking.mark_no_show",
    "demand.accept",
    "demand.link",
}
#: only managers approve bookings, close venues, and dispatch, answer or close demands
_MANAGER = _OPERATOR | {
    "booking.approve",
    "booking.reject",
    "venue.close",
    "venue.lift_closure",
    "demand.dispatch",
    "demand.answer",
    "demand.close",
}
_SCHEDULER = {"activity.release_no_shows", "demand.mark_overdue"}

#: role -> the command kinds it may send
ALLOWED: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "analyst": frozenset(),
    "operator": frozenset(_OPERATOR),
    "manager": frozenset(_MANAGER),
    "admin": frozenset(BODY_TYPES),
    "kiosk": frozenset(_RESIDENT),
    "scheduler": frozenset(_SCHEDULER),
}


def may(role: str, kind: str) -> bool:
    """Whether ``role`` may send a command of ``kind``."""
    return kind in ALLOWED.get(role, frozenset())
