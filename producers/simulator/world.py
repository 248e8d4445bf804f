"""The state of one simulation run and its agenda of decisions, executed in time order.

Every decision (a staff member publishing, a resident registering, a booking being decided…)
is an action scheduled at its instant. Running actions strictly in time order means each one
sees the network exactly as it is at that moment (what is booked, how many registered), and
lets the engine release emissions day by day. Actions may emit events at their instant or
later, never earlier.

Staff per station (sample assumption): the center 4, grid stations 2, residential stations 2
when they serve 4,000 residents or more and 1 otherwise, partner sites 1; ids
``<station>-S<n>``, emitting as ``console:<station>-S<n>``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from producers.simulator.clock import OpeningBook
from producers.simulator.config import SimulationConfig
from producers.simulator.demands import DemandBoard
from producers.simulator.emitter import Emitter
from producers.simulator.population import Population
from producers.simulator.reservations import VenueCalendar
from producers.simulator.rhythms import Timing
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy

Action = Callable[[], None]


def station_staff(network: Network) -> dict[str, tuple[str, ...]]:
    """Station id -> the staff ids working its console."""
    staff: dict[str, tuple[str, ...]] = {}
    for station in network.stations:
        if station.kind == "center":
            count = 4
        elif station.kind == "grid":
            count = 2
        elif station.kind == "residential":
            count = 2 if (station.population or 0) >= 4000 else 1
        else:
            count = 1
        staff[station.id] = tuple(f"{station.id}-S{n}" for n in range(1, count + 1))
    return staff


@dataclass
class IdFactory:
    """Readable business ids (``ACT-<tag>-000012``); ``tag`` keeps different runs apart."""

    tag: str
    counters: dict[str, int] = field(default_factory=dict)

    def next(self, kind: str) -> str:
        """The next id of a kind (``ACT``, ``REG``, ``VIS``, ``BKG``, ``DEM``)."""
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return f"{kind}-{self.tag}-{n:06d}"


@dataclass
class World:
    """Everything a run shares: reference data, state, the emitter and the agenda."""

    network: Network
    taxonomy: Taxonomy
    config: SimulationConfig
    rng: random.Random
    book: OpeningBook
    timing: Timing
    population: Population
    calendar: VenueCalendar
    demands: DemandBoard
    emitter: Emitter
    ids: IdFactory
    staff: dict[str, tuple[str, ...]]
    now: datetime
    #: Memo of (station, program, audience) -> how well the venue hours suit the audience.
    fits: dict[tuple[str, str, str], float] = field(default_factory=dict)
    _agenda: list[tuple[datetime, int, Action]] = field(default_factory=list)
    _seq: int = 0

    def at(self, when: datetime, action: Action) -> None:
        """Schedule ``action`` at ``when`` (not in the past)."""
        if when < self.now:
            raise ValueError(f"cannot schedule at {when}, before now ({self.now})")
        self._seq += 1
        heapq.heappush(self._agenda, (when, self._seq, action))

    def run_until(self, until: datetime) -> None:
        """Execute every action scheduled before ``until``, in time order."""
        agenda = self._agenda
        while agenda and agenda[0][0] < until:
            when, _, action = heapq.heappop(agenda)
            self.now = self.emitter.now = when
            action()
        self.now = self.emitter.now = max(self.now, until)

    def staff_member(self, station_id: str) -> str:
        """One of the station's staff, at random."""
        return self.rng.choice(self.staff[station_id])
