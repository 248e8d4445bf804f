"""The deciders' Faust worker: one writer per station.

Commands arrive on ``<prefix>.commands`` keyed by station, so all of a station's commands go
to one partition, and one worker decides them in order. For each command the agent takes the
station's state (``decider.handle``), writes the decision's events to the event topic, the
station's record to a Faust table (whose changelog a restarted or rebalanced worker recovers
it from; ``records``), and the answer to ``<prefix>.replies``, where the API that asked waits
for it.

Exactly once: commands are decided in batches; a batch's events are written and
acknowledged *before* its records reach the table and its answers are sent, so nothing is
recorded or answered that is not in the log. The answer is recorded in the state with the
decision (a ``command.decided`` event), and event ids derive from the command id. Offsets are
committed only after the producer has flushed everything sent before (Faust's
at-least-once), so a worker that dies before committing has the command read again: if its
records reached the changelog, the recorded answer is given again; if not, the state is as it
was before the command (the changelog of a partition is written in order), the decision is
the same, and its events carry the same ids, duplicates the sink and the fold drop.

Every command of a partition is decided, in order, even if the stream skips some: Faust's
consumer was seen here to drop buffered records on a rebalance and resume after them (its
committed offset moves past them too). So the last offset decided in each partition is kept
in the table with the decisions, and a record that comes after a gap has the gap read from
the log (``GapReader``) and decided first.

Time-driven decisions (places of no-shows released at start + N, overdue dispatches) are
found every few seconds in the states of the stations this worker decides for
(``schedule``) and sent as commands from the ``scheduler``: they are decided like any other.

The kiosks' check-ins reach the deciders from the event topic (the same partitioning as the
commands, so a station's facts and commands meet in one worker): the no-show release needs
to know who came.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2

from sanjiang.commands.context import Reference
from sanjiang.commands.decider import handle
from sanjiang.commands.decision import Answer
from sanjiang.commands.model import COMMAND, Command
from sanjiang.commands.records import state_from_record, station_record
from sanjiang.commands.schedule import due_commands
from sanjiang.commands.state import StationState, evolve
from sanjiang.events import Event, EventError, decode_event, encode_event
from sanjiang.ids import uuid7
from sanjiang.kafka.client import make_consumer
from sanjiang.kafka.faustapp import faust_app
from sanjiang.kafka.signing import signer_for
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings

log = logging.getLogger("sanjiang.deciders")
#: the facts from the event topic that the deciders fold (the rest they either wrote
#: themselves, and applied when deciding, or do not need)
FACT_TYPES = (b'"type":"checkin.recorded"',)
#: how often the worker looks for time-driven decisions that are due
SCHEDULE_INTERVAL_S = 5.0
#: how often it checks that no partition's commands wait undelivered
CATCH_UP_INTERVAL_S = 2.0


class _Record:
    """A record read back from the log, shaped like a Faust event (``.message``)."""

    def __init__(self, record: Any, partition: int) -> None:
        self.message = record
        self.partition = partition


def deciders_datadir(settings: Settings) -> Path:
    return settings.var_dir / "deciders"


def reply_value(answer: Answer) -> bytes:
    """The answer as the replies topic carries it."""
    return orjson.dumps(answer.document())


def station_partition(station_id: str, partitions: int) -> int:
    """The partition a station's commands and events go to (the producers' default
    partitioner: murmur2 of the key)."""
    digest: int = murmur2(station_id.encode())
    return (digest & 0x7FFFFFFF) % partitions


def offset_key(partition: int) -> str:
    """The table record of the last command offset decided in a partition (no station's)."""
    return f"~|offset|{partition}"


class GapReader:
    """Reads commands a stream skipped, straight from the log."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = make_consumer(self._settings, group_id=None)
            await self._consumer.start()
        return self._consumer

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Any]:
        """The records of ``[start, end)`` of one partition, in order."""
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        records: list[Any] = []
        while True:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            records.extend(r for r in batch.get(tp, []) if r.offset < end)
            if (records and records[-1].offset >= end - 1) or await consumer.position(tp) >= end:
                return records

    async def end(self, topic: str, partition: int) -> int:
        """The offset the partition's next record will have."""
        tp = TopicPartition(topic, partition)
        ends: dict[TopicPartition, int] = await (await self._started()).end_offsets([tp])
        return ends[tp]

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


class Deciders:
    """The stations' states this worker holds, read from and written to its table: one record
    per station (``records``), written with an explicit partition (the one of the command or
    fact that changed it, which is the station's), never through Faust's "current event"."""

    def __init__(self, table: Any, ref: Reference) -> None:
        self.table = table
        self.ref = ref
        self.states: dict[str, StationState] = {}
        #: stations with decisions whose events are not yet acknowledged: their records wait
        #: (a fact's change to them is stored with those decisions)
        self.pending: set[str] = set()

    def forget(self, *_: Any, **__: Any) -> None:
        """On a rebalance: states are taken from the table again (it may have changed) —
        except those with decisions on their way to the table, which hold what it will say."""
        self.states = {k: v for k, v in self.states.items() if k in self.pending}

    def state(self, station_id: str) -> StationState:
        state = self.states.get(station_id)
        if state is None:
            record = self.table.get(station_id)
            state = self.states[station_id] = state_from_record(station_id, record)
        return state

    def fold_fact(self, event: Event) -> StationState | None:
        """Fold a kiosk's fact into its station's state; the state, to store."""
        if event.station_id not in self.ref.network.by_id:
            return None
        return evolve(self.state(event.station_id), event)

    def last_decided(self, partition: int) -> int | None:
        value = self.table.get(offset_key(partition))
        return None if value is None else int(value)

    def store(self, partition: int, state: StationState) -> None:
        """Write the station's record to the table and its changelog partition."""
        self._write(partition, state.station_id, station_record(state).decode())

    def store_offset(self, partition: int, offset: int) -> None:
        """Record the last command offset decided in ``partition`` (it never goes back)."""
        done = self.last_decided(partition)
        if done is None or offset > done:
            self._write(partition, offset_key(partition), offset)

    def _write(self, partition: int, key: str, value: str | int) -> None:
        self.table.data[key] = value
        self.table.send_changelog(partition, key, value)


class _Batch:
    """The decisions of one batch of commands, written in two steps: events first; once they
    are all in the log, the stations' records, the offsets and the answers."""

    def __init__(self) -> None:
        self.sent: list[asyncio.Future[Any]] = []
        self.answers: list[Answer] = []
        #: partition -> station -> its state, to store; and the last offset decided
        self.changed: dict[int, dict[str, StationState]] = {}
        self.offsets: dict[int, int] = {}


def create_app(settings: Settings, ref: Reference | None = None) -> faust.App:
    """The deciders' Faust app (``sanjiang deciders`` runs it)."""
    topics = Topics.from_settings(settings)
    # No standby replicas: a standby promoted to active was seen here to hang in recovery
    # (faust-streaming 0.15.3); a worker taking stations over reads their records from the
    # changelog instead, which is small.
    app = faust_app(settings, "deciders", deciders_datadir(settings), table_standby_replicas=0)
    ref = ref or Reference.load()

    def raw(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw")

    commands, events, replies = raw(topics.commands), raw(topics.events), raw(topics.replies)
    # values: a station's record (JSON text kept as a string: Faust's recovery decodes values
    # with the app's JSON serializer) or a partition's last offset decided
    table = app.Table("state", partitions=topics.event_partitions, key_type=str)
    deciders = Deciders(table, ref)
    app.on_partitions_revoked.connect(deciders.forget)
    app.on_partitions_assigned.connect(deciders.forget)
    signer = signer_for(settings)
    gaps = GapReader(settings)

    async def decide_one(batch: _Batch, value: bytes, partition: int, offset: int) -> None:
        batch.offsets[partition] = offset
        try:
            command = COMMAND.validate_json(value)
        except ValueError as exc:  # only the API writes here; never stop on one
            log.error("unreadable command at %s/%s: %s", partition, offset, exc)
            return
        state = deciders.state(command.station_id)
        answer, written = handle(command, state, deciders.ref)
        batch.answers.append(answer)
        if written:
            batch.changed.setdefault(partition, {})[command.station_id] = state
            deciders.pending.add(command.station_id)
        for event in written:
            encoded = encode_event(event)
            batch.sent.append(
                await events.send(
                    key=event.key, value=encoded, headers=signer.headers(encoded), force=True
                )
            )

    def assigned() -> set[int]:
        name = commands.get_topic_name()
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == name}

    async def decide_batch(records: list[Any]) -> None:
        batch = _Batch()
        held = assigned()
        for record in records:
            message = record.message
            partition = message.partition
            if partition not in held:
                continue  # revoked since it was fetched: its new owner decides it
            done = batch.offsets.get(partition, deciders.last_decided(partition))
            if done is not None and message.offset > done + 1:
                log.warning(
                    "commands %s..%s of partition %s were skipped by the stream; reading them",
                    done + 1,
                    message.offset - 1,
                    partition,
                )
                for missed in await gaps.read(message.topic, partition, done + 1, message.offset):
                    await decide_one(batch, missed.value, partition, missed.offset)
            await decide_one(batch, message.value, partition, message.offset)
        if batch.sent:  # the decisions are in the log before they are recorded or answered
            await asyncio.gather(*batch.sent)
        lost = set(batch.offsets) - assigned()
        if lost:
            # revoked while its decisions were written: record nothing there (the new owner
            # reads those commands again, Faust not committing for revoked partitions, and
            # decides them the same way, to the same events), and take states afresh
            log.warning("partitions %s were revoked during a batch", sorted(lost))
            for partition in lost:
                for state in batch.changed.pop(partition, {}).values():
                    deciders.pending.discard(state.station_id)
                del batch.offsets[partition]
            deciders.forget()
        for partition, stations in batch.changed.items():
            for state in stations.values():
                deciders.store(partition, state)
                deciders.pending.discard(state.station_id)
        for partition, offset in batch.offsets.items():
            deciders.store_offset(partition, offset)
        for answer in batch.answers:
            await replies.send(
                key=answer.command_id.encode(), value=reply_value(answer), force=True
            )

    @app.agent(commands)
    async def decide(stream: Any) -> None:
        async for records in stream.take_events(1000, within=0.01):
            try:
                await decide_batch(list(records))
            except Exception as exc:
                # states in memory may hold decisions whose events were not written: stop, and
                # be restarted from the committed offsets and the table
                log.exception("a batch of commands failed; the worker stops")
                deciders.pending.clear()
                deciders.forget()
                await app.crash(exc)
                raise

    async def close_gap_reader(sender: Any, *_: Any, signal: Any, **__: Any) -> None:
        await gaps.stop()

    app.on_before_shutdown.connect(close_gap_reader)  # type: ignore[arg-type]  # mode's stub

    stalled: dict[int, int | None] = {}

    @app.timer(CATCH_UP_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def catch_up() -> None:
        """Commands the stream has not delivered: after a worker took partitions over, Faust
        was seen here to place them past records nobody decided and to deliver nothing until
        a newer command came. A partition whose last decided offset stayed put for a whole
        interval while the log holds more has the rest read from the log and decided."""
        name = commands.get_topic_name()
        for partition in sorted(assigned()):
            done = deciders.last_decided(partition)
            before, stalled[partition] = stalled.get(partition), done
            if done is None or done != before:
                continue
            end = await gaps.end(name, partition)
            if end > done + 1 and partition in assigned():
                log.warning(
                    "commands %s..%s of partition %s were not delivered; reading them",
                    done + 1,
                    end - 1,
                    partition,
                )
                missed = await gaps.read(name, partition, done + 1, end)
                await decide_batch([_Record(r, partition) for r in missed])

    scheduled: set[str] = set()  # what was asked for already (forgotten on a rebalance)
    app.on_partitions_assigned.connect(lambda *_, **__: scheduled.clear())

    @app.timer(SCHEDULE_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def schedule() -> None:
        """Send what is due at the stations this worker decides for (``schedule``)."""
        assigned = {
            tp.partition
            for tp in app.consumer.assignment()
            if tp.topic == commands.get_topic_name()
        }
        now = datetime.now(UTC)
        for station in ref.network.stations:
            if station_partition(station.id, topics.event_partitions) not in assigned:
                continue
            for body in due_commands(deciders.state(station.id), now):
                what = body.model_dump_json()
                if what in scheduled:
                    continue
                scheduled.add(what)
                command = Command(
                    command_id=uuid7(),
                    station_id=station.id,
                    issued_at=now,
                    actor="scheduler",
                    role="scheduler",
                    source="api",
                    body=body,
                )
                await commands.send(
                    key=command.key, value=command.model_dump_json().encode(), force=True
                )

    @app.agent(events)
    async def fold_facts(stream: Any) -> None:
        async for records in stream.take_events(1000, within=0.05):
            changed: dict[tuple[int, str], StationState] = {}
            for record in records:
                value = record.message.value
                if not any(marker in value for marker in FACT_TYPES):
                    continue
                try:
                    state = deciders.fold_fact(decode_event(value))
                except EventError:
                    continue  # the ingest validated it; an old bad record is not the deciders'
                if state is not None:
                    changed[(record.message.partition, state.station_id)] = state
            for (partition, station_id), state in changed.items():
                if station_id not in deciders.pending:  # else stored with its decisions
                    deciders.store(partition, state)

    app.deciders = deciders  # type: ignore[attr-defined]  # for tests and introspection
    return app


def run_worker(settings: Settings) -> None:
    """Run the deciders in this process until interrupted (``sanjiang deciders``)."""
    asyncio.run(ensure_topics(settings))  # before Faust subscribes to them
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.faust_log_level)
    worker.execute_from_commandline()
