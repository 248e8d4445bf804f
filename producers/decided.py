"""A simulated history decided by the platform's own deciders, in process.

``Decided`` passes the simulator's facts through and replaces each simulated decision by what
the deciders write for the command that asks for it (``asks``), asked when the device or
console handed it over: the events of the decision and its ``command.decided`` audit. So a
backfill or a first run's history holds decisions the platform made — a registration beyond
the capacity is waitlisted, a booking of a taken room refused — and the live deciders rebuild
their states from it like from any log of theirs. The scheduler's decisions (a no-show's
place released at the start, an overdue dispatch marked) are made too, every ten simulated
minutes, against the kiosks' check-ins folded as they arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from producers.asks import Asks
from producers.simulator import Emission
from sanjiang.commands.context import Reference
from sanjiang.commands.decider import handle
from sanjiang.commands.model import Command
from sanjiang.commands.schedule import due_commands
from sanjiang.commands.state import FACT_TYPES, StationState, evolve
from sanjiang.ids import uuid7_derived

#: how often (simulated time) the scheduler looks for what is due, as the worker's timer does
SCHEDULE_EVERY = timedelta(minutes=10)


class Decided:
    """Iterates the emissions with the decisions made by the deciders; counts the answers."""

    def __init__(self, emissions: Iterable[Emission], ref: Reference | None = None) -> None:
        self._emissions = emissions
        self._ref = ref or Reference.load()
        self._asks = Asks()
        self._states: dict[str, StationState] = {}
        #: answers by outcome: ``accepted`` or the rejection's reason
        self.answers: Counter[str] = Counter()

    def _state(self, station_id: str) -> StationState:
        state = self._states.get(station_id)
        if state is None:
            state = self._states[station_id] = StationState(station_id)
        return state

    def _decide(self, command: Command, at: datetime) -> Iterator[Emission]:
        answer, events = handle(command, self._state(command.station_id), self._ref)
        if events:  # a command read again (a re-sent emission) writes nothing
            self.answers["accepted" if answer.accepted else str(answer.reason)] += 1
        for decided in events:
            yield Emission(at, decided)

    def _scheduled(self, emission: Emission) -> Iterator[Command]:
        """The scheduler's commands due at the emission's time (ids derived from its)."""
        at, index = emission.emit_at, 1000
        for station_id, state in self._states.items():
            for body in due_commands(state, at):
                yield Command(
                    command_id=uuid7_derived(emission.event.event_id, index),
                    station_id=station_id,
                    issued_at=at,
                    actor="scheduler",
                    role="scheduler",
                    source="api",
                    body=body,
                )
                index += 1

    def __iter__(self) -> Iterator[Emission]:
        next_schedule: datetime | None = None
        for emission in self._emissions:
            event, at = emission.event, emission.emit_at
            if next_schedule is None or at >= next_schedule:
                next_schedule = at + SCHEDULE_EVERY
                for command in list(self._scheduled(emission)):
                    yield from self._decide(command, at)
            asks = self._asks.of(event)
            due = self._asks.due(at)  # the managers' answers, when they are due
            if asks is None:
                if event.type in FACT_TYPES and event.station_id in self._ref.network.by_id:
                    evolve(self._state(event.station_id), event)  # who came, for no-shows
                yield emission
            for ask in [*due, *(asks or [])]:
                yield from self._decide(ask.command(at), at)
