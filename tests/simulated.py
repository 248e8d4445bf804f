"""Simulated days of the whole network for tests: the simulator with a fixed pseudonym key."""

from __future__ import annotations

import io
from datetime import date, timedelta

from producers.backfill import write_backfill
from producers.decided import Decided
from producers.simulator import simulate
from producers.simulator.emitter import Emission
from sanjiang.events import Event, decode_event
from sanjiang.network import load_network
from sanjiang.pseudonym import Pseudonymizer
from sanjiang.taxonomy import load_taxonomy

PSEUDONYMS = Pseudonymizer(b"k" * 32)


def emissions(start: date, days: int, seed: int) -> list[Emission]:
    """What the network emits over ``days`` from ``start`` (same seed, same emissions)."""
    return list(
        simulate(
            load_network(),
            load_taxonomy(),
            start=start,
            days=days,
            seed=seed,
            pseudonymize=PSEUDONYMS,
        )
    )


def events(start: date, days: int, seed: int) -> list[Event]:
    """The events of ``emissions``."""
    return [emission.event for emission in emissions(start, days, seed)]


def backfill(start: date, days: int, seed: int, late_after: timedelta) -> list[Event]:
    """A simulated history as ``sanjiang simulate --out`` writes it: the people's decisions
    made by the deciders, every event stamped received when its device or console handed it
    over (``late`` after ``late_after``), in that order, re-sent duplicates included."""
    out = io.BytesIO()
    write_backfill(Decided(emissions(start, days, seed)), out, late_after)
    return [decode_event(line) for line in out.getvalue().splitlines()]
