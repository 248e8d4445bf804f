"""Conflicts: the definition (``sanjiang.conflicts.classify``) on a hand-built day, and the live
fold judging the same in any order, with duplicates, across a checkpoint and a prune."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from sanjiang.conflicts import (
    FACT_OF,
    KINDS,
    LABELS,
    classify,
    counts_by_day,
    no_conflicts,
    venue_conflict,
)
from sanjiang.events import Event
from sanjiang.network import load_network
from streams import snapshot
from streams.state import PRUNE_MARGIN, LiveState
from streams.views import ViewRenderer
from tests import conflicting as c
from tests import simulated

NETWORK = load_network()
TUESDAY, WEDNESDAY = c.TUESDAY.date(), c.WEDNESDAY.date()
GRACE = timedelta(hours=6)


def admitted(events: list[Event]) -> list[Event]:
    """The events the live fold counts: those that arrived within their own day's window."""
    return [e for e in events if (e.received_at or e.occurred_at) - e.occurred_at < timedelta(1)]


def folded(events: list[Event]) -> LiveState:
    state = LiveState(NETWORK, grace=GRACE)
    for event in events:
        state.apply(event)
    return state


def test_every_kind_has_a_label_and_a_fact() -> None:
    assert set(LABELS) == set(FACT_OF) == set(KINDS)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in LABELS[k]) for k in KINDS)
    assert set(FACT_OF.values()) == {"checkin.recorded", "evaluation.submitted"}
    assert no_conflicts() == dict.fromkeys(KINDS, 0)


def test_a_venue_is_judged_against_the_network() -> None:
    owners = NETWORK.venue_station
    assert venue_conflict(owners, "WS-R03", "WS-R03-ACT") == ""
    assert venue_conflict(owners, "WS-R03", "WS-R04-ACT") == "venue_of_other_station"
    assert venue_conflict(owners, "WS-R03", "WS-NOWHERE") == "unknown_venue"


def test_the_definition_on_the_hand_built_day() -> None:
    events = c.conflicting_day()
    counts = counts_by_day(events, NETWORK.venue_station, NETWORK.tz)
    assert counts == {
        (TUESDAY, "WS-R03"): {**no_conflicts(), **c.KPI_TUESDAY_R03},
        (TUESDAY, "WS-R04"): {**no_conflicts(), **c.TUESDAY_R04},
        (WEDNESDAY, "WS-R03"): {**no_conflicts(), **c.WEDNESDAY_R03},
    }
    live = counts_by_day(admitted(events), NETWORK.venue_station, NETWORK.tz)
    assert live[(TUESDAY, "WS-R03")] == {**no_conflicts(), **c.LIVE_TUESDAY_R03}

    judgement = classify(events, NETWORK.venue_station)
    kinds = {
        (e.resident, getattr(e.payload, "activity_id", None), e.occurred_at): judgement.kinds[
            str(e.event_id)
        ]
        for e in events
        if e.type == "checkin.recorded"
    }
    assert kinds[(c.person("a"), "C1", c.at(10))] == ""  # a's second check-in: not first
    assert kinds[(c.person("f"), "C1", c.at(8, 59))] == ""  # late but the earliest: first place
    assert kinds[(c.person("b"), "C1", c.at(9, 1))] == "over_capacity"
    assert kinds[(c.person("d"), "C1", c.at(9, 3))] == "unknown_venue"  # the venue comes first
    assert kinds[(c.person("h"), "C2", c.at(14))] == ""  # capacity raised to 3 by the update
    assert (c.person("g"), "GHOST") in judgement.attended  # its own check-in names it
    assert (c.person("p"), "C1") in judgement.attended  # in the room during C1, the day before
    # C3 requires registration (since its update): who holds a place, whatever the times
    wednesday = {
        (who, activity, (hh, mm)): kinds[(c.person(who), activity, c.at(hh, mm, c.WEDNESDAY))]
        for who, activity, hh, mm in [
            ("w", "C3", 8, 40),
            ("y", "C3", 8, 50),
            ("t", "C3", 8, 55),
            ("u", "C3", 9, 0),
            ("v", "C3", 9, 2),
            ("x", "C3", 9, 5),
            ("z", "C3", 9, 10),
            ("w", "C3", 9, 30),
            ("aa", "C4", 13, 40),
        ]
    }
    assert {key: kind for key, kind in wednesday.items() if kind} == {
        ("w", "C3", (8, 40)): "no_registration",  # never registered; no rank taken from others
        ("v", "C3", (9, 2)): "no_registration",  # waitlisted only
        ("x", "C3", (9, 5)): "no_registration",  # released as a no-show after coming
    }  # y promoted after checking in, u's second registration, z's: places; C4 cancelled
    live = counts_by_day(admitted(events), NETWORK.venue_station, NETWORK.tz)
    assert live[(WEDNESDAY, "WS-R03")] == {**no_conflicts(), **c.LIVE_WEDNESDAY_R03}


def test_registration_is_the_latest_rule_of_an_activity_not_cancelled() -> None:
    events = c.conflicting_day()
    rule = next(e for e in events if getattr(e.payload, "registration_required", None))
    cancelled = next(e for e in events if e.type == "activity.cancelled")

    def wednesday(kept: list[Event]) -> dict[str, int]:
        counts = counts_by_day(kept, NETWORK.venue_station, NETWORK.tz)
        return counts.get((WEDNESDAY, "WS-R03"), no_conflicts())

    assert wednesday(events)["no_registration"] == 3
    # without the update C3 requires none: w, v and x are just residents who came
    assert wednesday([e for e in events if e is not rule])["no_registration"] == 0
    # C4 not cancelled: it requires registration, and aa's place was released
    assert wednesday([e for e in events if e is not cancelled])["no_registration"] == 4
    # C3 with two places: the first two holding one by their first check-in, y and t, keep
    # them; u and z come past the capacity (w, v, x still without a place, not ranked)
    two = [
        e.model_copy(update={"payload": e.payload.model_copy(update={"capacity": 2})})
        if e.type == "activity.published" and e.payload.activity_id == "C3"  # type: ignore[attr-defined]
        else e
        for e in events
    ]
    found = wednesday(two)
    assert (found["no_registration"], found["over_capacity"]) == (3, 2)


def test_capacity_is_the_latest_one() -> None:
    events = [e for e in c.conflicting_day() if e.type != "activity.updated"]
    counts = counts_by_day(events, NETWORK.venue_station, NETWORK.tz)
    assert counts[(TUESDAY, "WS-R03")]["over_capacity"] == 3 + 2  # i and j past C2's one place


def expected_live(events: list[Event]) -> dict[tuple[date, str], dict[str, object]]:
    """Per (day, station): conflicts by the definition, and satisfaction over the evaluations
    whose resident attended (the latest per pair)."""
    judgement = classify(events, NETWORK.venue_station)
    conflicts = counts_by_day(events, NETWORK.venue_station, NETWORK.tz)
    latest: dict[tuple[date, str, str, str], tuple[tuple[object, str], int]] = {}
    for e in events:
        if e.type == "evaluation.submitted":
            key = (e.occurred_at.astimezone(NETWORK.tz).date(), e.station_id, e.resident or "")
            pair = (*key, e.payload.activity_id)  # type: ignore[attr-defined]
            version = (e.occurred_at, str(e.event_id))
            if pair not in latest or latest[pair][0] < version:
                latest[pair] = (version, e.payload.rating)  # type: ignore[attr-defined]
    result: dict[tuple[date, str], dict[str, object]] = {}
    for (day, station), found in conflicts.items():
        result[(day, station)] = {"conflicts": found, "evaluations": 0, "satisfied": 0}
    for (day, station, resident, activity), (_, rating) in latest.items():
        entry = result.setdefault(
            (day, station), {"conflicts": no_conflicts(), "evaluations": 0, "satisfied": 0}
        )
        if (resident, activity) in judgement.attended:
            entry["evaluations"] = int(str(entry["evaluations"])) + 1
            entry["satisfied"] = int(str(entry["satisfied"])) + (rating >= 4)
    return result


def live_of(state: LiveState, keys: object) -> dict[tuple[date, str], dict[str, object]]:
    found = {}
    for day, station in keys:  # type: ignore[attr-defined]
        summary = state.summary(day, station)
        found[(day, station)] = {
            "conflicts": summary["conflicts"],
            "evaluations": summary["evaluations"],
            "satisfied": summary["satisfied_evaluations"],
        }
    return found


@pytest.mark.parametrize("seed", range(8))
def test_the_live_fold_judges_as_the_definition_in_any_order(seed: int) -> None:
    rng = random.Random(seed)
    events = c.conflicting_day()
    events += rng.sample(events, len(events) // 3)  # duplicates
    rng.shuffle(events)  # evaluations before check-ins, check-ins before publications ...
    state = folded(events)
    # r's and s's check-ins, uploaded two days later (each copy counts as too late)
    assert state.too_late == len(events) - len(admitted(events)) >= 2
    expected = expected_live(admitted(c.conflicting_day()))
    assert live_of(state, expected) == expected
    r03 = state.summary(TUESDAY, "WS-R03")
    assert r03["conflicts"] == {**no_conflicts(), **c.LIVE_TUESDAY_R03}
    assert (r03["satisfied_evaluations"], r03["evaluations"]) == (3, 4)
    assert r03["residents"] == 13  # not d: a venue the network does not have
    network = state.today(c.at(23))
    assert network["conflicts"] == {
        k: c.LIVE_TUESDAY_R03.get(k, 0) + c.TUESDAY_R04.get(k, 0) for k in KINDS
    }
    wednesday = state.summary(WEDNESDAY, "WS-R03")["conflicts"]
    assert wednesday == {**no_conflicts(), **c.LIVE_WEDNESDAY_R03}
    assert state.today(c.at(23, day=c.WEDNESDAY))["conflicts"] == wednesday
    assert state.conflicts_by_station(c.at(23)) == {
        "WS-R03": r03["conflicts"],
        "WS-R04": {**no_conflicts(), **c.TUESDAY_R04},
    }


def test_random_registrations_fold_as_the_definition_in_any_order() -> None:
    """The random days of ``conflicting.random_registrations``: rules set and flipped, places
    given, waitlisted, cancelled, released, before and after the check-ins, some uploaded past
    the grace; shuffled, with duplicates, the live fold judges each as the definition does."""
    seen: dict[str, int] = dict.fromkeys(KINDS, 0)
    for seed in range(40):
        rng = random.Random(seed)
        events = c.random_registrations(rng)
        expected = expected_live(admitted(events))
        events += rng.sample(events, len(events) // 4)
        rng.shuffle(events)
        state = folded(events)
        assert live_of(state, expected) == expected, seed
        restored = snapshot.load(snapshot.dump(state, {}), lambda: LiveState(NETWORK, grace=GRACE))
        assert restored is not None and live_of(restored.state, expected) == expected, seed
        for found in expected.values():
            for kind, n in found["conflicts"].items():  # type: ignore[attr-defined]
                seen[kind] += n
    assert seen["no_registration"] > 20 and seen["over_capacity"] > 5  # both exercised


def test_an_evaluation_is_a_conflict_until_its_check_in_arrives() -> None:
    events = {(e.type, e.resident, e.occurred_at): e for e in c.conflicting_day()}
    state = folded([e for e in c.conflicting_day() if e.type.startswith("activity.")])
    state.apply(events[("evaluation.submitted", c.person("p"), c.at(10, day=c.WEDNESDAY))])
    renderer = ViewRenderer()
    thursday = c.WEDNESDAY + timedelta(days=1, hours=7)  # Wednesday's window has closed
    name = f"day:{WEDNESDAY}:WS-R03"
    first = renderer.render(state, thursday)[name]
    assert first["conflicts"]["not_attended"] == 1 and first["evaluations"] == 0
    assert name not in renderer.render(state, thursday)  # unchanged: not rendered again
    # p's check-in, on Tuesday at C1's room during it, uploaded (within Tuesday's grace) later
    state.apply(events[("checkin.recorded", c.person("p"), c.at(9, 20))])
    again = renderer.render(state, thursday)[name]  # Wednesday's judgement changed
    assert again["conflicts"]["not_attended"] == 0 and again["evaluations"] == 1


def test_a_check_in_is_without_a_place_until_the_registration_arrives() -> None:
    """y checked in before being given a place: a conflict until that registration is known,
    and again once a cancellation of it is; each change renders Wednesday again."""
    events = c.conflicting_day()
    place = next(
        e for e in events if e.type == "registration.submitted" and e.resident == c.person("y")
    )
    state = folded(admitted([e for e in events if e is not place]))
    renderer = ViewRenderer()
    thursday = c.WEDNESDAY + timedelta(days=1, hours=7)  # Wednesday's window has closed
    name = f"day:{WEDNESDAY}:WS-R03"
    assert renderer.render(state, thursday)[name]["conflicts"]["no_registration"] == 5
    assert name not in renderer.render(state, thursday)
    state.apply(place)  # decided on Wednesday: within its window
    assert renderer.render(state, thursday)[name]["conflicts"]["no_registration"] == 4
    released = c.withdrawn("y", "C3", "R-y", c.at(9, 16, day=c.WEDNESDAY))
    state.apply(released)
    assert renderer.render(state, thursday)[name]["conflicts"]["no_registration"] == 5
    judged = counts_by_day([*admitted(events), released], NETWORK.venue_station, NETWORK.tz)
    assert judged[(WEDNESDAY, "WS-R03")]["no_registration"] == 5


def test_a_check_in_is_unknown_activity_until_the_publication_arrives() -> None:
    day = c.conflicting_day()
    state = folded([e for e in day if e.type == "checkin.recorded"])
    r03 = state.summary(TUESDAY, "WS-R03")["conflicts"]
    # every check-in naming C1 or C2 (with a known venue of the station's own) is unknown yet
    assert r03["unknown_activity"] == 1 + 5 + 3 and r03["over_capacity"] == 0  # g; C1; C2
    for event in day:
        if event.type.startswith("activity."):
            state.apply(event)
    r03 = state.summary(TUESDAY, "WS-R03")["conflicts"]
    assert (r03["unknown_activity"], r03["over_capacity"]) == (1, 2)


def test_judgement_survives_a_checkpoint_and_a_prune() -> None:
    events = c.conflicting_day()
    state = folded(events)
    before = {key: state.summary(*key) for key in state.days}
    restored = snapshot.load(snapshot.dump(state, {}), lambda: LiveState(NETWORK, grace=GRACE))
    assert restored is not None
    assert {key: restored.state.summary(*key) for key in restored.state.days} == before
    assert restored.state.held == state.held and restored.state.checkins_at == state.checkins_at
    # Tuesday's window closes: its check-ins at the room are no longer held, C1's presence is
    horizon = c.WEDNESDAY + GRACE + PRUNE_MARGIN + timedelta(minutes=1)
    state.prune(horizon)
    assert not [key for key in state.checkins_at if key[1] == TUESDAY]
    state._summaries.clear()  # judged again from what the state holds now
    assert {key: state.summary(*key) for key in state.days} == before
    # q comes to the room during C1 after all? Too late for Tuesday: nothing changes
    assert state.apply(c.checkin("q", c.at(9, 45), arrived=horizon)) is False


def test_a_simulated_day_with_conflicts_folds_as_the_definition_in_any_order() -> None:
    rng = random.Random(5)
    day = simulated.events(date(2026, 11, 24), days=1, seed=3)
    events = day + admitted(c.conflicting_day())
    expected = expected_live(events)
    rng.shuffle(events)
    state = folded(events)
    assert live_of(state, expected) == expected
    assert any(any(v["conflicts"].values()) for v in expected.values())  # type: ignore[attr-defined]
