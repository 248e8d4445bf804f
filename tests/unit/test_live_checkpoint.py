"""Checkpoints of the live state: a snapshot restores a state that goes on exactly like the
original; pruning forgets only what can no longer count; the changelog's parts and manifest
survive a worker killed mid-write."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from sanjiang.events import Event
from sanjiang.events import payloads as p
from streams import forked, snapshot
from streams.checkpoint import MANIFEST, PART_BYTES, assemble, parts_of
from streams.state import PRUNE_MARGIN, LiveState
from streams.views import ViewRenderer, live_views
from tests import simulated
from tests.unit.test_live_state import NETWORK
from tests.warehouse.test_kpis import TUESDAY, at, ev, evaluation

TWO_DAYS: list[Event] = simulated.events(date(2026, 11, 17), days=2, seed=5)
END = max(e.occurred_at for e in TWO_DAYS)


def new_state() -> LiveState:
    return LiveState(NETWORK, grace=timedelta(hours=6))


def views(state: LiveState, occupancy: bool = True) -> dict[str, Any]:
    """Every view at the end and in the middle of the two days (``as_of`` left out);
    without the occupancy of those instants if ``occupancy`` is false."""
    out = {}
    for moment in (END, END - timedelta(hours=30)):
        for name, document in live_views(state, moment).items():
            document.pop("as_of", None)
            if occupancy or name != "venues":
                out[f"{moment.isoformat()} {name}"] = document
    return out


@pytest.mark.parametrize("seed", range(3))
def test_a_restored_snapshot_goes_on_like_the_original(seed: int) -> None:
    rng = random.Random(seed)
    events = list(TWO_DAYS) + rng.sample(TWO_DAYS, len(TWO_DAYS) // 10)
    rng.shuffle(events)
    cut = rng.randrange(len(events))
    original = new_state()
    for event in events[:cut]:
        original.apply(event)
    extra = {"alerts": [{"key": "k", "started_at": "2026-11-17T09:00:00+08:00"}]}
    data = snapshot.dump(original, {"t.events:0": cut}, extra)
    loaded = snapshot.load(data, new_state)
    assert loaded is not None
    restored = loaded.state
    assert loaded.offsets == {"t.events:0": cut} and loaded.extra == extra
    assert views(restored) == views(original)
    for event in events[cut:]:
        assert restored.apply(event) == original.apply(event)
    assert views(restored) == views(original)
    assert (restored.applied, restored.too_late) == (original.applied, original.too_late)


def test_a_snapshot_of_another_version_is_not_loaded() -> None:
    data = bytearray(snapshot.dump(new_state(), {}))
    data[4] = snapshot.VERSION + 1
    assert snapshot.load(bytes(data), new_state) is None
    assert snapshot.load(b"garbage", new_state) is None


def test_pruning_forgets_closed_days_and_changes_no_number() -> None:
    state = new_state()
    for event in TWO_DAYS:
        state.apply(event)
    # a pruned state answers occupancy only after the horizon (less the margin): the worker
    # reads it at the present; everything else reads the same
    before = views(state, occupancy=False)
    first_day, last_day = min(state.seen.values()), max(state.seen.values())
    ids = len(state.seen)
    # every record still unread arrives after the second day's window closed (+ the margin)
    closes = datetime.combine(last_day + timedelta(days=1), time(), NETWORK.tz) + state.grace
    # just before the margin: only the first day goes (the second's window closes at
    # ``closes``, an arrival at that instant being too late)
    state.prune(closes + PRUNE_MARGIN - timedelta(microseconds=1))
    assert set(state.seen.values()) == {last_day}
    assert views(state, occupancy=False) == before
    remaining = len(state.seen)
    assert 0 < remaining < ids
    horizon = closes + PRUNE_MARGIN + timedelta(seconds=1)
    assert state.prune(horizon) == remaining
    assert state.seen == {}  # both days closed
    assert state.visits == {}
    assert views(state, occupancy=False) == before
    assert state.occupancy(horizon) == {}
    # a copy read again after the prune arrived after the horizon: too late, not counted twice
    copy = TWO_DAYS[0].model_copy(update={"received_at": horizon})
    applied = state.applied
    assert state.apply(copy) is False
    assert state.applied == applied and state.too_late == 1
    assert first_day not in set(state.seen.values())


def test_days_older_than_kept_are_forgotten() -> None:
    state = LiveState(NETWORK, grace=timedelta(hours=6), days_kept=1)
    for event in TWO_DAYS:
        state.apply(event)
    # (counters of later days too: those of the activities and bookings decided for them)
    first_day, last_day = min(state.seen.values()), max(state.seen.values())
    assert (last_day - first_day).days == 1
    kept = {s: state.summary(last_day, s) for s in state.stations_on[last_day]}
    started = {k: a.starts_at for k, a in state.activities.items()}
    closes = datetime.combine(last_day + timedelta(days=1), time(), NETWORK.tz) + state.grace
    horizon = closes + PRUNE_MARGIN + timedelta(seconds=1)  # local day: the day after last_day
    renderer = ViewRenderer()
    assert f"day:{first_day}:{next(iter(kept))}" in renderer.render(state, horizon)
    state.prune(horizon)  # keeps 1 day before the horizon's: last_day
    assert min(state.stations_on) == last_day and min(state.day_revisions) == last_day
    assert min(day for day, _ in state.days) == last_day
    assert {s: state.summary(last_day, s) for s in state.stations_on[last_day]} == kept
    assert state.summary(first_day, next(iter(kept))) == state.summary(date(2000, 1, 1), "x")
    limit = datetime.combine(last_day, time(), NETWORK.tz)
    needed = {k for k, a in state.activities.items() if any(d >= last_day for d, _ in a.depends)}
    assert needed  # evaluated on the day kept: kept to judge who attended
    assert set(state.activities) == {
        k for k, at in started.items() if not at or at >= limit or k in needed
    }
    assert 0 < len(state.activities) < len(started)
    assert all(day >= last_day for day in state._window_ends)
    assert live_views(state, horizon)["network"]["checkins"] == 0  # renders; a new day
    renderer.render(state, horizon)  # and forgets what it rendered of the forgotten day
    assert not [name for name in renderer._inputs if name.startswith(f"day:{first_day}")]
    assert [name for name in renderer._inputs if name.startswith(f"day:{last_day}")]
    restored = snapshot.load(snapshot.dump(state, {}), new_state)
    assert restored is not None and set(restored.state.stations_on) == set(state.stations_on)


def test_activities_never_published_are_forgotten_once_unheard_of_for_long() -> None:
    state = LiveState(NETWORK, grace=timedelta(hours=6), days_kept=1)
    monday, tuesday = TUESDAY - timedelta(days=1), TUESDAY
    for event in (
        ev(
            p.RegistrationSubmitted(registration_id="r1", activity_id="ghost"),
            at(9, 0, monday),
            "bo",
        ),
        evaluation("ann", "ghost2", 5, at(10, 0, monday)),
        ev(
            p.RegistrationSubmitted(registration_id="r2", activity_id="heard"),
            at(9, 0, monday),
            "cy",
        ),
        ev(
            p.RegistrationCancelled(registration_id="r2", activity_id="heard"),
            at(9, 0, tuesday),
            "cy",
        ),
    ):
        state.apply(event)
    assert state.activities["heard"].last_day == tuesday.date()
    assert {key for kind, key in state.heat if kind == "activity"} >= {"ghost", "ghost2"}
    closes = datetime.combine(tuesday.date() + timedelta(days=1), time(), NETWORK.tz)
    state.prune(closes + state.grace + PRUNE_MARGIN + timedelta(seconds=1))  # keeps Tuesday
    assert set(state.activities) == {"heard"}
    assert {key for kind, key in state.heat if kind == "activity"} == {"heard"}
    restored = snapshot.load(snapshot.dump(state, {}), new_state)
    assert restored is not None
    assert restored.state.activities["heard"].last_day == tuesday.date()


def test_pruning_keeps_the_days_still_open() -> None:
    state = new_state()
    for event in TWO_DAYS:
        state.apply(event)
    second_day = max(state.seen.values())
    kept = sum(1 for day in state.seen.values() if day == second_day)
    state.prune(END)  # the second day is still open at its own end
    assert set(state.seen.values()) == {second_day} and len(state.seen) == kept
    duplicate = next(e for e in TWO_DAYS if state.local_day(e.occurred_at) == second_day)
    assert state.apply(duplicate) is False and state.too_late == 0


def test_a_checkpoint_spans_parts_and_survives_a_kill_mid_write() -> None:
    data = random.Random(1).randbytes(PART_BYTES * 2 + 10)
    latest: dict[bytes, bytes] = {}
    for key, value in parts_of(1, data):
        latest[key] = value
    checkpoint = assemble(latest)
    assert checkpoint is not None and checkpoint.data == data and checkpoint.generation == 1
    # generation 2 goes to the other slot; killed before its manifest: 1 still loads
    newer = parts_of(2, b"x" * (PART_BYTES + 1))
    for key, value in newer[:1]:
        latest[key] = value
    assert assemble(latest) == checkpoint
    for key, value in newer[1:]:
        latest[key] = value
    restored = assemble(latest)
    assert restored is not None and restored.generation == 2
    # generation 3 overwrites generation 1's slot; a part of it lost: nothing loads
    third = parts_of(3, data)
    for key, value in third:
        if key != b"B/1":
            latest[key] = value
    assert assemble(latest) is None
    assert assemble({}) is None
    latest[MANIFEST] = third[-1][1]
    latest[b"B/1"] = third[1][1][:-1] + b"?"  # corrupt
    assert assemble(latest) is None


def test_a_forked_dump_is_of_the_state_at_the_fork_while_the_fold_goes_on() -> None:
    """The checkpoint is serialized in a child: what the parent folds meanwhile is not in it,
    and the bytes are those an in-process dump of that moment gives."""
    state = new_state()
    half = len(TWO_DAYS) // 2
    for event in TWO_DAYS[:half]:
        state.apply(event)
    offsets, applied = {"t.events:0": half}, state.applied
    expected = snapshot.dump(state, offsets)

    async def fold_while_dumping() -> bytes:
        dumping = asyncio.create_task(
            forked.in_child(lambda: snapshot.dump(state, offsets), timeout_s=120)
        )
        await asyncio.sleep(0)  # one turn of the loop: the task forks and waits on the pipe
        for event in TWO_DAYS[half:]:  # the parent folds the rest meanwhile
            state.apply(event)
        return await dumping

    assert asyncio.run(fold_while_dumping()) == expected
    assert state.applied > applied
    loaded = snapshot.load(expected, new_state)
    assert loaded is not None and loaded.state.applied == applied


def test_a_child_that_fails_or_hangs_is_an_error_not_a_checkpoint() -> None:
    def fails() -> bytes:
        raise ValueError("no")

    def hangs() -> bytes:
        threading.Event().wait()  # never set
        return b""

    with pytest.raises(forked.ForkedError, match="exited with 1"):
        asyncio.run(forked.in_child(fails, timeout_s=120))
    with pytest.raises(forked.ForkedError, match="longer than"):
        asyncio.run(forked.in_child(hangs, timeout_s=0.5))
