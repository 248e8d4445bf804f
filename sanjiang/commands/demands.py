"""Residents' demands and their handling: submit, vote, accept (受理), dispatch with a due date
(派单), answer (答复), link to the activities that serve it, close; overdue dispatches."""

from __future__ import annotations

from sanjiang.commands.context import Decide
from sanjiang.commands.decision import Accepted, Reason, Rejected
from sanjiang.commands.model import (
    AcceptDemand,
    AnswerDemand,
    CloseDemand,
    DispatchDemand,
    LinkDemand,
    MarkOverdue,
    SubmitDemand,
    VoteDemand,
)
from sanjiang.commands.state import Demand, DemandStatus
from sanjiang.events import payloads as p


def _demand(d: Decide, demand_id: str, *allowed: DemandStatus) -> Demand:
    demand = d.state.demands.get(demand_id)
    if demand is None:
        raise Rejected(Reason.NOT_FOUND, f"no demand {demand_id}", cause=demand_id)
    d.expect_version(demand.version)
    if demand.status not in allowed:
        raise Rejected(
            Reason.INVALID_STATE,
            f"demand {demand_id} is {demand.status}; this needs it {' or '.join(allowed)}",
            cause=demand_id,
        )
    return demand


_OPEN: tuple[DemandStatus, ...] = ("submitted", "accepted", "dispatched", "answered")


def submit(d: Decide, c: SubmitDemand) -> Accepted:
    if c.demand_id in d.state.demands:
        raise Rejected(Reason.DUPLICATE_ID, f"demand {c.demand_id} exists", cause=c.demand_id)
    if not d.ref.taxonomy.is_known(c.category):
        raise Rejected(Reason.UNKNOWN_CATEGORY, f"unknown category {c.category!r}")
    d.emit(
        p.DemandSubmitted(
            demand_id=c.demand_id,
            category=c.category,
            summary=c.summary,
            age_band=c.age_band,
            minor=c.minor,
        ),
        resident=c.resident,
    )
    return Accepted(tuple(d.events), version=1)


def vote(d: Decide, c: VoteDemand) -> Accepted:
    demand = _demand(d, c.demand_id, *_OPEN)
    if c.resident in demand.voters:
        raise Rejected(Reason.ALREADY_VOTED, "this resident has voted for it already")
    d.emit(
        p.DemandVoted(
            demand_id=demand.demand_id, category=demand.category, age_band=c.age_band, minor=c.minor
        ),
        resident=c.resident,
    )
    return Accepted(tuple(d.events), version=demand.version + 1)


def accept(d: Decide, c: AcceptDemand) -> Accepted:
    demand = _demand(d, c.demand_id, "submitted")
    d.emit(p.DemandAccepted(demand_id=demand.demand_id))
    return Accepted(tuple(d.events), version=demand.version + 1)


def dispatch(d: Decide, c: DispatchDemand) -> Accepted:
    demand = _demand(d, c.demand_id, "accepted", "dispatched")
    if c.due_at <= d.now:
        raise Rejected(Reason.IN_THE_PAST, f"due date {c.due_at.isoformat()} is past")
    d.emit(
        p.DemandDispatched(
            demand_id=demand.demand_id, dispatch_id=c.dispatch_id, unit=c.unit, due_at=c.due_at
        )
    )
    return Accepted(tuple(d.events), version=demand.version + 1)


def answer(d: Decide, c: AnswerDemand) -> Accepted:
    demand = _demand(d, c.demand_id, "accepted", "dispatched", "answered")
    d.emit(p.DemandAnswered(demand_id=demand.demand_id, answer=c.answer))
    return Accepted(tuple(d.events), version=demand.version + 1)


def link(d: Decide, c: LinkDemand) -> Accepted:
    demand = _demand(d, c.demand_id, *_OPEN)
    for activity_id in c.activity_ids:
        if activity_id not in d.state.activities:
            raise Rejected(Reason.NOT_FOUND, f"no activity {activity_id}", cause=activity_id)
    d.emit(p.DemandLinked(demand_id=demand.demand_id, activity_ids=c.activity_ids))
    return Accepted(tuple(d.events), version=demand.version + 1)


def close(d: Decide, c: CloseDemand) -> Accepted:
    demand = _demand(d, c.demand_id, *_OPEN)
    d.emit(p.DemandClosed(demand_id=demand.demand_id, reason=c.reason))
    return Accepted(tuple(d.events), version=demand.version + 1)


def mark_overdue(d: Decide, c: MarkOverdue) -> Accepted:
    """The dispatch passed its due date with no answer: raised once."""
    demand = _demand(d, c.demand_id, "dispatched")
    dispatch_ = demand.dispatch
    assert dispatch_ is not None  # a dispatched demand has its dispatch
    if dispatch_.overdue:
        raise Rejected(Reason.INVALID_STATE, f"dispatch {dispatch_.dispatch_id} is overdue already")
    if d.now < dispatch_.due_at:
        raise Rejected(Reason.TOO_EARLY, f"due at {dispatch_.due_at.isoformat()}")
    d.emit(p.DemandOverdue(demand_id=demand.demand_id, dispatch_id=dispatch_.dispatch_id))
    return Accepted(tuple(d.events), version=demand.version + 1)
