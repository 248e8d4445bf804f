"""The simulator's decisions as commands (``producers.asks``) and decided in process by the
deciders (``producers.decided``), as a backfill and a first run's history are."""

from __future__ import annotations

from collections import Counter
from datetime import date

from producers.asks import Asks
from producers.decided import Decided
from sanjiang.commands.model import BODY_TYPES
from sanjiang.events import payloads as p
from sanjiang.events.catalog import DECIDED_TYPES
from tests import simulated

DAY = date(2026, 11, 30)


def test_every_simulated_decision_becomes_a_command_and_facts_stay_events() -> None:
    asks = Asks()
    kinds: Counter[str] = Counter()
    facts: set[str] = set()
    for emission in simulated.emissions(DAY, days=2, seed=5):
        asked = asks.of(emission.event)
        if asked is None:
            facts.add(emission.event.type)
            continue
        for ask in asked:
            assert ask.body.kind in BODY_TYPES  # type: ignore[attr-defined]
            kinds[ask.body.kind] += 1  # type: ignore[attr-defined]
            command = ask.command(emission.emit_at)
            assert command.station_id == ask.station_id
            assert ask.role in ("operator", "manager", "kiosk")
    assert facts <= {
        "checkin.recorded",
        "checkout.recorded",
        "evaluation.submitted",
        "kiosk.heartbeat",
    }, facts
    assert not facts & DECIDED_TYPES
    for kind in (
        "activity.design",
        "activity.publish",
        "registration.register",
        "booking.request",
        "booking.approve",
        "demand.submit",
        "demand.vote",
    ):
        assert kinds[kind] > 0, kind
    assert kinds["activity.design"] == kinds["activity.publish"]  # a draft is asked at publish


def test_a_resent_emission_is_the_same_command() -> None:
    emission = next(
        e
        for e in simulated.emissions(DAY, days=1, seed=5)
        if isinstance(e.event.payload, p.RegistrationSubmitted)
    )
    first, second = Asks().of(emission.event), Asks().of(emission.event)
    assert first and first == second


def test_the_history_is_decided_by_the_deciders() -> None:
    emissions = simulated.emissions(DAY, days=2, seed=5)
    decided = Decided(emissions)
    events = [e.event for e in decided]
    audits = [e.payload for e in events if isinstance(e.payload, p.CommandDecided)]
    assert audits
    assert decided.answers["accepted"] == sum(1 for a in audits if a.accepted)
    assert sum(decided.answers.values()) == len(audits)
    # most of what the simulated people ask for is granted; what is refused has a reason
    assert decided.answers["accepted"] > 0.9 * len(audits)
    assert all(a.reason for a in audits if not a.accepted)
    # the managers handle demands (the simulator does not): accept, dispatch, link, answer;
    # the scheduler marks dispatches overdue when their due date passes unanswered
    kinds = Counter(a.kind for a in audits if a.accepted)
    for kind in ("demand.accept", "demand.dispatch", "demand.link", "demand.answer"):
        assert kinds[kind] > 0, kind
    emissions_week = simulated.emissions(DAY, days=7, seed=5)
    overdue = [
        e.event.payload
        for e in Decided(emissions_week)
        if isinstance(e.event.payload, p.CommandDecided)
        and e.event.payload.kind == "demand.mark_overdue"
    ]
    assert overdue and all(a.accepted and a.actor == "scheduler" for a in overdue)
    # every decided event comes with its audit; facts pass unchanged
    decided_ids = {i for a in audits for i in a.event_ids}
    for event in events:
        if event.type in DECIDED_TYPES and event.type != "command.decided":
            assert str(event.event_id) in decided_ids, event
    facts_in = [e.event for e in emissions if e.event.type == "checkin.recorded"]
    facts_out = [e for e in events if e.type == "checkin.recorded"]
    assert facts_in == facts_out
    # no more places given than an activity has: the deciders waitlist the rest
    capacity = {
        e.payload.activity_id: e.payload.capacity
        for e in events
        if isinstance(e.payload, p.ActivityPublished)
    }
    placed: Counter[str] = Counter()
    for event in events:
        if isinstance(event.payload, p.RegistrationSubmitted):
            placed[event.payload.activity_id] += 1
    cancelled: Counter[str] = Counter()
    for event in events:
        if isinstance(event.payload, p.RegistrationCancelled):
            cancelled[event.payload.activity_id] += 1
    assert all(placed[a] - cancelled[a] <= capacity.get(a, 0) for a in placed)


def test_the_deciders_publish_the_simulated_rule_and_few_come_without_a_place() -> None:
    """Small classes require registration as the simulated staff designed them; judged on what
    the deciders wrote (their releases of no-shows included), few check-ins come without a
    place."""
    from sanjiang.conflicts import classify
    from sanjiang.network import load_network

    emissions = simulated.emissions(DAY, days=2, seed=5)
    wanted = {
        e.event.payload.activity_id: e.event.payload.registration_required
        for e in emissions
        if isinstance(e.event.payload, p.ActivityPublished)
    }
    events = [e.event for e in Decided(emissions)]
    published = {
        e.payload.activity_id: e.payload.registration_required
        for e in events
        if isinstance(e.payload, p.ActivityPublished)
    }
    assert published and all(published[a] == wanted[a] for a in published)
    assert 0 < sum(published.values()) < len(published)
    kinds = classify(events, load_network().venue_station).kinds
    checkins = [e for e in events if e.type == "checkin.recorded"]
    unplaced = sum(kinds[str(e.event_id)] == "no_registration" for e in checkins)
    assert 0 < unplaced < 0.01 * len(checkins)
