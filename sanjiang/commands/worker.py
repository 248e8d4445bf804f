"""The deciders' Faust worker: one writer per station.

Commands arrive on ``<prefix>.commands`` keyed by station, so all of a station's commands go
to one partition, and one worker decides them in order. For each command the agent takes the
station's state (``decider.handle``), writes the decision's events to the event topic, the
records it touched to a Faust table (whose changelog a restarted or rebalanced worker recovers
them from), and the answer to ``<prefix>.replies``, where the API that asked waits for it.

Exactly once: the answer is recorded in the state with the decision (a ``command.decided``
event), and event ids derive from the command id. Offsets are committed only after the
producer has flushed everything sent before (Faust's at-least-once), so a worker that dies
before committing has the command read again: if its records reached the changelog, the
recorded answer is given again; if not, the state is as it was before the command (the
changelog of a partition is written in order), the decision is the same, and its events carry
the same ids, duplicates the sink and the fold drop.

The kiosks' check-ins reach the deciders from the event topic (the same partitioning as the
commands, so a station's facts and commands meet in one worker): the no-show release needs
to know who came.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import faust
import orjson

from sanjiang.commands.context import Reference
from sanjiang.commands.decider import handle
from sanjiang.commands.decision import Answer
from sanjiang.commands.model import COMMAND, Command
from sanjiang.commands.records import records_of, state_from_records, touched
from sanjiang.commands.state import StationState, evolve
from sanjiang.events import Event, EventError, decode_event, encode_event
from sanjiang.kafka.faustapp import faust_app
from sanjiang.kafka.signing import signer_for
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings

log = logging.getLogger("sanjiang.deciders")
#: the facts from the event topic that the deciders fold (the rest they either wrote
#: themselves, and applied when deciding, or do not need)
FACT_TYPES = (b'"type":"checkin.recorded"',)


def deciders_datadir(settings: Settings) -> Path:
    return settings.var_dir / "deciders"


def reply_value(answer: Answer) -> bytes:
    """The answer as the replies topic carries it."""
    return orjson.dumps(answer.document())


class Deciders:
    """The stations' states this worker holds, read from and written to its table."""

    def __init__(self, table: Any, ref: Reference) -> None:
        self.table = table
        self.ref = ref
        self.states: dict[str, StationState] = {}
        self.decided = 0

    def forget(self, *_: Any, **__: Any) -> None:
        """On a rebalance: states are taken from the table again (it may have changed)."""
        self.states.clear()

    def state(self, station_id: str) -> StationState:
        state = self.states.get(station_id)
        if state is None:
            state = self.states[station_id] = state_from_records(station_id, self.table.items())
        return state

    def decide(self, command: Command) -> tuple[Answer, list[Event]]:
        """Decide and record: the events to write (none for a command decided before)."""
        state = self.state(command.station_id)
        answer, events = handle(command, state, self.ref)
        self._store(state, events)
        self.decided += 1
        return answer, events

    def fold_fact(self, event: Event) -> None:
        if event.station_id not in self.ref.network.by_id:
            return
        state = self.state(event.station_id)
        evolve(state, event)
        self._store(state, [event])

    def _store(self, state: StationState, events: list[Event]) -> None:
        for key, value in records_of(state, touched(events)).items():
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value


def create_app(settings: Settings, ref: Reference | None = None) -> faust.App:
    """The deciders' Faust app (``sanjiang deciders`` runs it)."""
    topics = Topics.from_settings(settings)
    app = faust_app(settings, "deciders", deciders_datadir(settings))
    ref = ref or Reference.load()

    def raw(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw")

    commands, events, replies = raw(topics.commands), raw(topics.events), raw(topics.replies)
    table = app.Table("state", partitions=topics.event_partitions, key_type=str)
    deciders = Deciders(table, ref)
    app.on_partitions_revoked.connect(deciders.forget)
    app.on_partitions_assigned.connect(deciders.forget)
    signer = signer_for(settings)

    @app.agent(commands)
    async def decide(stream: Any) -> None:
        async for record in stream.events():
            try:
                command = COMMAND.validate_json(record.value)
            except ValueError as exc:  # only the API writes here; never stop on one
                log.error("unreadable command at offset %s: %s", record.message.offset, exc)
                continue
            answer, written = deciders.decide(command)
            for event in written:
                value = encode_event(event)
                await events.send(
                    key=event.key, value=value, headers=signer.headers(value), force=True
                )
            await replies.send(
                key=answer.command_id.encode(), value=reply_value(answer), force=True
            )

    @app.agent(events)
    async def fold_facts(stream: Any) -> None:
        async for record in stream.events():
            value = record.value
            if not any(marker in value for marker in FACT_TYPES):
                continue
            try:
                deciders.fold_fact(decode_event(value))
            except EventError:
                continue  # the ingest validated it; an old bad record is not the deciders'

    app.deciders = deciders  # type: ignore[attr-defined]  # for tests and introspection
    return app


def run_worker(settings: Settings) -> None:
    """Run the deciders in this process until interrupted (``sanjiang deciders``)."""
    asyncio.run(ensure_topics(settings))  # before Faust subscribes to them
    app = create_app(settings)
    worker = faust.Worker(app, loglevel="WARN")
    worker.execute_from_commandline()
