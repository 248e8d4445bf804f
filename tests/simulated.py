"""Simulated days of the whole network for tests: the simulator with a fixed pseudonym key."""

from __future__ import annotations

from datetime import date

from producers.simulator import simulate
from producers.simulator.emitter import Emission
from sanjiang.events import Event
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
