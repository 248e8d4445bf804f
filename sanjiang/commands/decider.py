"""The decider: ``decide(command, state) -> decision`` and ``handle``, which decides a command
once, records the answer as a ``command.decided`` audit event, and evolves the state.

``decide`` is pure: it reads the station's state and the reference data, never the clock (the
command carries its time), and builds events whose ids derive from the command's, so deciding
the same command against the same state gives the same events, ids included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanjiang.commands import activities, bookings, demands, venues
from sanjiang.commands.access import may
from sanjiang.commands.context import Decide, Reference
from sanjiang.commands.decision import Accepted, Answer, Decision, Reason, Rejected
from sanjiang.commands.model import Command
from sanjiang.commands.state import StationState, evolve
from sanjiang.events import Event
from sanjiang.events import payloads as p

_RULES: dict[str, Callable[[Decide, Any], Accepted]] = {
    "activity.design": activities.design,
    "activity.design_series": activities.design_series,
    "activity.update": activities.update,
    "activity.publish": activities.publish,
    "activity.cancel": activities.cancel,
    "activity.release_no_shows": activities.release_no_shows,
    "registration.register": activities.register,
    "registration.cancel": activities.cancel_registration,
    "booking.request": bookings.request,
    "booking.approve": bookings.approve,
    "booking.reject": bookings.reject,
    "booking.cancel": bookings.cancel,
    "booking.check_in": bookings.check_in,
    "booking.mark_no_show": bookings.mark_no_show,
    "venue.close": venues.close_venue,
    "venue.lift_closure": venues.lift_closure,
    "demand.submit": demands.submit,
    "demand.vote": demands.vote,
    "demand.accept": demands.accept,
    "demand.dispatch": demands.dispatch,
    "demand.answer": demands.answer,
    "demand.link": demands.link,
    "demand.close": demands.close,
    "demand.mark_overdue": demands.mark_overdue,
}


def decide(command: Command, state: StationState, ref: Reference) -> Decision:
    """The decision on one command against the station's state (which it does not change)."""
    if command.station_id != state.station_id:
        raise ValueError(f"a command of {command.station_id} given {state.station_id}'s state")
    if not may(command.role, command.kind):
        return Rejected(Reason.FORBIDDEN, f"a {command.role} may not {command.kind}")
    try:
        return _RULES[command.kind](Decide(command, state, ref), command.body)
    except Rejected as rejected:
        return rejected


def handle(command: Command, state: StationState, ref: Reference) -> tuple[Answer, list[Event]]:
    """Decide ``command`` once: its recorded answer if it was decided before (no events), else
    the new decision's events followed by its ``command.decided`` audit event, all applied to
    ``state``. The events are what the caller writes to the log, in this order."""
    recorded = state.decided.get(str(command.command_id))
    if recorded is not None:
        return recorded, []
    decision = decide(command, state, ref)
    events = list(decision.events) if isinstance(decision, Accepted) else []
    answer = _answer(command, decision, events)
    audit = Decide(command, state, ref, events=list(events))
    audit.emit(
        p.CommandDecided(
            command_id=answer.command_id,
            kind=command.kind,
            accepted=answer.accepted,
            outcome=answer.outcome,
            position=answer.position,
            reason=answer.reason,
            detail=answer.detail[:500],
            cause=answer.cause,
            actor=command.actor,
            role=command.role,
            event_ids=list(answer.event_ids),
            version=answer.version,
        )
    )
    for event in audit.events:
        evolve(state, event)
    return answer, audit.events


def _answer(command: Command, decision: Decision, events: list[Event]) -> Answer:
    if isinstance(decision, Accepted):
        return Answer(
            command_id=str(command.command_id),
            accepted=True,
            event_ids=tuple(str(e.event_id) for e in events),
            version=decision.version,
            outcome=decision.outcome,
            position=decision.position,
        )
    return Answer(
        command_id=str(command.command_id),
        accepted=False,
        version=decision.version or 0,
        reason=decision.reason.value,
        detail=decision.detail,
        cause=decision.cause if decision.cause is None or len(decision.cause) <= 64 else None,
    )
