"""The deciders' states rebuilt from the event log: a snapshot, then the log after it.

A partition of the event topic holds the deciders' own events, the kiosks' facts (a
check-in) and events others wrote. **A decision counts if and only if its ``command.decided``
audit is in the log.** ``handle`` writes a decision's events before their audit, so the replay
holds each event of a decided type back until an audit names it, and applies them then, in
the audit's order. What no audit names is never applied: an event a console key asserted, or
the part of a decision whose worker died before its audit was written (the command, read
again, is decided again, to the same event ids). An audit of a command that is decided
already (written twice around a takeover) is dropped with its events. Facts are folded as
they come.

``Through`` says up to which offsets of its event partition a state holds the log: own
events and facts separately (a worker applies its decisions when it makes them and the facts
when its fact stream reaches them), and the last command offset decided, so a worker taking
a partition over knows where its commands are to be read from again. Pure: the worker reads
the log and the snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

from sanjiang.commands.state import FACT_TYPES, StationState, evolve, folds
from sanjiang.events import Event
from sanjiang.events import payloads as p

#: events held back for an audit at most; older ones are forgotten first (a decision's
#: events are followed by its audit within a few records: what waits longer was not the
#: deciders')
HOLD_MAX = 20_000


@dataclass(slots=True)
class Through:
    """The offsets of a station's event partition its state holds, and of its commands."""

    #: the deciders' own events up to this offset (of the event partition)
    decided: int = -1
    #: the facts up to this offset (of the event partition)
    facts: int = -1
    #: the commands decided up to this offset (of the command partition)
    commands: int = -1

    @property
    def start(self) -> int:
        """The first offset of the event partition a replay must read."""
        return min(self.decided, self.facts) + 1


class Replay:
    """Applies a partition's events, in offset order, to the states of its stations."""

    def __init__(self, states: dict[str, StationState], through: dict[str, Through]) -> None:
        self.states = states
        self.through = through
        self._held: dict[str, Event] = {}
        #: events an audit named that were not found (for the log: a torn or trimmed log)
        self.missing = 0
        self.applied = 0

    def apply(self, event: Event, offset: int) -> None:
        """Apply the event at ``offset`` if its station's state does not hold it yet."""
        state = self.states.get(event.station_id)
        if state is None or not folds(event.type):
            return
        through = self.through[event.station_id]
        if event.type in FACT_TYPES:
            if offset > through.facts:
                evolve(state, event)
                self.applied += 1
            return
        if offset <= through.decided:
            return
        if isinstance(event.payload, p.CommandDecided):
            self._decided(state, event, event.payload)
            return
        self._held[str(event.event_id)] = event
        if len(self._held) > HOLD_MAX:
            del self._held[next(iter(self._held))]

    def _decided(self, state: StationState, audit: Event, decided: p.CommandDecided) -> None:
        events = [self._held.pop(event_id, None) for event_id in decided.event_ids]
        if decided.command_id in state.decided:
            return  # decided twice in the log: the first counts
        for event in events:
            if event is None:
                self.missing += 1
            else:
                evolve(state, event)
                self.applied += 1
        evolve(state, audit)
        self.applied += 1
