"""The deciders' Faust worker: one writer per station.

Commands arrive on ``<prefix>.commands`` keyed by station, so all of a station's commands go
to one partition, and one worker decides them in order. For each command the agent takes the
station's state (``decider.handle``), writes the decision's events to the event topic and,
once they are in the log, the answer to ``<prefix>.replies``, where the API that asked waits
for it.

**The log is the deciders' truth.** A station's state is the replay of its event partition
(``replay``: a decision counts once its ``command.decided`` audit is in the log). A worker
that takes a partition over (at start, or from a worker that died or left) rebuilds the
states of its stations from their latest snapshot in a Faust table (``records``; its
changelog topic is how the snapshots reach the next worker) and the log after it. Snapshots
are written every few seconds, between batches, never on the path of a decision.

Exactly once: a batch's events are written and acknowledged *before* its answers are sent,
so nothing is answered that is not in the log; event ids derive from the command id; a
command whose audit is in the log gets its recorded answer. A worker taking a partition over
reads its commands again from the snapshot's last decided offset, so a command decided but
not answered (its worker died between the two) is answered then, and one not decided is
decided. A rebalance in the middle of a batch stops it: what it wrote is in the log, and the
states are rebuilt from there.

Every command of a partition is decided, in order, even if the stream skips some: Faust's
consumer was seen here to drop buffered records on a rebalance and resume after them (its
committed offset moves past them too), and, after a takeover, to deliver nothing until a
newer record came. A record that comes after a gap has the gap read from the log
(``LogReader``) and decided first, and a timer reads what waits undelivered.

Time-driven decisions (places of no-shows released at start + N, overdue dispatches) are
found every few seconds in the states of the stations this worker decides for
(``schedule``) and sent as commands from the ``scheduler``: they are decided like any other.

The kiosks' check-ins reach the deciders from the event topic (the same partitioning as the
commands, so a station's facts and commands meet in one worker): the no-show release needs
to know who came.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2

from sanjiang import metrics
from sanjiang.commands.context import Reference
from sanjiang.commands.decider import handle
from sanjiang.commands.decision import Answer
from sanjiang.commands.model import COMMAND, Command
from sanjiang.commands.records import MAX_RECORD_BYTES, read_record, station_record
from sanjiang.commands.replay import Replay, Through
from sanjiang.commands.schedule import due_commands
from sanjiang.commands.state import FACT_TYPES, StationState, evolve, folds
from sanjiang.events import EventError, decode_event, encode_event
from sanjiang.ids import uuid7
from sanjiang.kafka.client import make_consumer
from sanjiang.kafka.faustapp import faust_app
from sanjiang.kafka.signing import signer_for
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings

log = logging.getLogger("sanjiang.deciders")
#: how often the worker looks for time-driven decisions that are due
SCHEDULE_INTERVAL_S = 5.0
#: how often it checks that no partition's commands wait undelivered
CATCH_UP_INTERVAL_S = 2.0
#: how often the states that changed are written to the table
SNAPSHOT_INTERVAL_S = 10.0
_FACT_MARKERS = tuple(f'"type":"{t}"'.encode() for t in FACT_TYPES)


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


class LogReader:
    """Reads ranges of a partition straight from the log, one range at a time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = make_consumer(self._settings, group_id=None)
            await self._consumer.start()
        return self._consumer

    async def scan(
        self, topic: str, partition: int, start: int, end: int, each: Callable[[Any], None]
    ) -> int:
        """Give each record of ``[start, end)`` of one partition to ``each``, in order; how
        many there were."""
        if end <= start:
            return 0
        async with self._lock:
            consumer = await self._started()
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            seen = 0
            while True:
                batch = await consumer.getmany(tp, timeout_ms=200)
                for record in batch.get(tp, []):
                    if record.offset < end:
                        each(record)
                        seen += 1
                if await consumer.position(tp) >= end:
                    return seen

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Any]:
        """The records of ``[start, end)`` of one partition, in order."""
        records: list[Any] = []
        await self.scan(topic, partition, start, end, records.append)
        return records

    async def end(self, topic: str, partition: int) -> int:
        """The offset the partition's next record will have."""
        tp = TopicPartition(topic, partition)
        async with self._lock:
            ends: dict[TopicPartition, int] = await (await self._started()).end_offsets([tp])
        return ends[tp]

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


class Deciders:
    """The states of the stations of the partitions this worker decides for.

    Everything that reads or changes them holds ``mutex`` (a batch of decisions until its
    events are in the log). A rebalance (``forget``) makes them all stale: the next holder of
    the mutex drops them, and each partition is rebuilt (``prepare``) when next needed.
    """

    def __init__(
        self, table: Any, ref: Reference, reader: LogReader, events_topic: str, partitions: int
    ) -> None:
        self.table = table
        self.ref = ref
        self.reader = reader
        self.events_topic = events_topic
        self.stations: dict[int, list[str]] = {}
        for station in ref.network.stations:
            self.stations.setdefault(station_partition(station.id, partitions), []).append(
                station.id
            )
        self.states: dict[str, StationState] = {}
        #: per partition held: up to where its stations' states hold the log
        self.through: dict[int, Through] = {}
        #: partitions whose states changed since their last snapshot
        self.dirty: set[int] = set()
        self.mutex = asyncio.Lock()
        self.generation = 0
        self._stale = False

    def forget(self, *_: Any, **__: Any) -> None:
        """On a rebalance: every state is rebuilt from its snapshot and the log when next
        needed (another worker may have decided for its station in the meantime)."""
        self.generation += 1
        self._stale = True

    def drop_stale(self) -> None:
        """Drop the states after a rebalance (with the mutex held)."""
        if self._stale:
            self.states.clear()
            self.through.clear()
            self.dirty.clear()
            self._stale = False

    async def prepare(self, partition: int) -> Through:
        """The partition's offsets, its stations' states rebuilt first if not held (with the
        mutex held)."""
        through = self.through.get(partition)
        if through is None:
            through = await self._rebuild(partition)
        return through

    def state(self, station_id: str) -> StationState:
        """A held station's state (a station of no partition: an empty one, never stored)."""
        state = self.states.get(station_id)
        if state is None:
            state = self.states[station_id] = StationState(station_id)
        return state

    async def _rebuild(self, partition: int) -> Through:
        started = time.monotonic()
        generation = self.generation
        states: dict[str, StationState] = {}
        through: dict[str, Through] = {}
        for station_id in self.stations.get(partition, []):
            try:
                states[station_id], through[station_id] = read_record(
                    station_id, self.table.get(station_id)
                )
            except ValueError as exc:  # a record of an older format: the log has it all
                log.warning(
                    "the snapshot of %s is unreadable (%s); replaying its log", station_id, exc
                )
                states[station_id], through[station_id] = StationState(station_id), Through()
        start = min((t.start for t in through.values()), default=0)
        end = await self.reader.end(self.events_topic, partition)
        replay = Replay(states, through)

        def each(record: Any) -> None:
            if not _may_fold(record.value):
                return
            with contextlib.suppress(EventError):  # the ingest validated it: an old bad
                replay.apply(decode_event(record.value), record.offset)  # record is not ours

        read = await self.reader.scan(self.events_topic, partition, start, end, each)
        held = Through(
            decided=end - 1,
            facts=end - 1,
            commands=max((t.commands for t in through.values()), default=-1),
        )
        if generation == self.generation:
            self.states.update(states)
            self.through[partition] = held
        gc.freeze()  # the rebuilt states are long-lived (as after a snapshot)
        log.info(
            "partition %s: %s stations rebuilt from their snapshots and %s records of the log"
            " (offsets %s..%s; %s events applied, %s missing) in %.2f s",
            partition,
            len(states),
            read,
            start,
            end - 1,
            replay.applied,
            replay.missing,
            time.monotonic() - started,
        )
        return held

    def snapshot(self) -> int:
        """Write the changed partitions' states to the table (with the mutex held, between
        batches); how many records were written."""
        written = 0
        for partition in sorted(self.dirty & set(self.through)):
            through = self.through[partition]
            for station_id in self.stations.get(partition, []):
                encoded = station_record(self.state(station_id), through)
                if len(encoded) > MAX_RECORD_BYTES:  # over the broker's limit: the log holds it
                    log.warning(
                        "the snapshot of %s is %s bytes (over %s): not written; a takeover "
                        "replays its log from the previous one",
                        station_id,
                        len(encoded),
                        MAX_RECORD_BYTES,
                    )
                    continue
                record = encoded.decode()
                self.table.data[station_id] = record
                self.table.send_changelog(partition, station_id, record)
                written += 1
        self.dirty.clear()
        return written


def _may_fold(value: bytes) -> bool:
    """Whether the deciders may need the event (a cheap look before decoding it)."""
    start = value.find(b'"type":"')
    if start < 0:
        return False
    end = value.find(b'"', start + 8)
    return folds(value[start + 8 : end].decode(errors="replace"))


class _Batch:
    """The decisions of one batch of commands: their events on their way to the log, the
    answers to send once they are there, the last offset decided in each partition."""

    def __init__(self) -> None:
        self.sent: dict[int, list[Awaitable[Any]]] = {}
        self.answers: list[Answer] = []
        self.offsets: dict[int, int] = {}


def create_app(settings: Settings, ref: Reference | None = None) -> faust.App:
    """The deciders' Faust app (``sanjiang deciders`` runs it)."""
    topics = Topics.from_settings(settings)
    # No standby replicas: a standby promoted to active was seen here to hang in recovery
    # (faust-streaming 0.15.3); a worker taking stations over reads their snapshots from the
    # changelog instead, which is small, and the log after them.
    app = faust_app(settings, "deciders", deciders_datadir(settings), table_standby_replicas=0)
    ref = ref or Reference.load(settings.network_file)

    def raw(name: str) -> Any:
        return app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw")

    commands, events = raw(topics.commands), raw(topics.events)
    # values: a station's snapshot (JSON text kept as a string: Faust's recovery decodes
    # values with the app's JSON serializer)
    table = app.Table("state", partitions=topics.event_partitions, key_type=str)
    reader = LogReader(settings)
    deciders = Deciders(table, ref, reader, topics.events, topics.event_partitions)
    app.on_partitions_revoked.connect(deciders.forget)
    app.on_partitions_assigned.connect(deciders.forget)
    signer = signer_for(settings)
    # the transport's producer itself (Faust's ``topic.send`` costs a millisecond a record);
    # Faust still flushes it before committing offsets
    producer = app.producer

    async def decide_one(batch: _Batch, value: bytes, partition: int, offset: int) -> None:
        batch.offsets[partition] = offset
        try:
            command = COMMAND.validate_json(value)
        except ValueError as exc:  # only the API writes here; never stop on one
            log.error("unreadable command at %s/%s: %s", partition, offset, exc)
            return
        answer, written = handle(command, deciders.state(command.station_id), deciders.ref)
        batch.answers.append(answer)
        if written:  # a new decision (a recorded one is answered with no events)
            metrics.count_decision(command.kind, answer.accepted, answer.outcome, answer.reason)
        else:
            metrics.REPEATS.inc()
        for event in written:
            encoded = encode_event(event)
            batch.sent.setdefault(partition, []).append(
                await producer.send(
                    topics.events, event.key, encoded, None, None, signer.headers(encoded)
                )
            )

    def assigned() -> set[int]:
        name = commands.get_topic_name()
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == name}

    async def decide_batch(records: list[Any]) -> None:
        with metrics.DECIDE_SECONDS.time():
            await _decide_batch(records)

    async def _decide_batch(records: list[Any]) -> None:
        async with deciders.mutex:
            deciders.drop_stale()
            generation = deciders.generation
            batch = _Batch()
            held = assigned()
            for record in records:
                message = record.message
                partition = message.partition
                if partition not in held:
                    continue  # revoked since it was fetched: its new owner decides it
                through = await deciders.prepare(partition)
                if deciders.generation != generation:
                    break  # rebalanced: the partitions' owners read the rest again
                done = batch.offsets.get(partition, through.commands)
                if message.offset <= done:
                    continue  # decided already (read from the log after a gap)
                if message.offset > done + 1:
                    log.warning(
                        "commands %s..%s of partition %s were not delivered; reading them",
                        done + 1,
                        message.offset - 1,
                        partition,
                    )
                    gap = await reader.read(message.topic, partition, done + 1, message.offset)
                    for missed in gap:
                        await decide_one(batch, missed.value, partition, missed.offset)
                await decide_one(batch, message.value, partition, message.offset)
            # the decisions are in the log before they are answered
            for partition, sent in batch.sent.items():
                written = await asyncio.gather(*sent)
                kept = deciders.through.get(partition)
                if kept is not None and written:
                    kept.decided = max(kept.decided, max(m.offset for m in written))
            if deciders.generation != generation:
                # rebalanced while its events were written: answer nothing; the states are
                # rebuilt from the log, and the partitions' owners read these commands again
                # from their snapshots' offsets and answer them (with the recorded answers)
                log.warning("a rebalance during a batch: %s answers left", len(batch.answers))
                return
            for partition, offset in batch.offsets.items():
                deciders.through[partition].commands = offset
                deciders.dirty.add(partition)
        for answer in batch.answers:
            await producer.send(
                topics.replies, answer.command_id.encode(), reply_value(answer), None, None, None
            )

    @app.agent(commands)
    async def decide(stream: Any) -> None:
        async for records in stream.take_events(1000, within=0.005):
            try:
                await decide_batch(list(records))
            except Exception as exc:
                # a state in memory may hold decisions whose events were not written: stop,
                # and be restarted from the snapshots and the log
                log.exception("a batch of commands failed; the worker stops")
                deciders.forget()
                await app.crash(exc)
                raise

    lag = metrics.GroupLag(settings, "deciders", app.conf.id, [topics.commands, topics.events])

    async def close_reader(sender: Any, *_: Any, signal: Any, **__: Any) -> None:
        await reader.stop()
        await lag.close()

    app.on_before_shutdown.connect(close_reader)  # type: ignore[arg-type]  # mode's stub

    stalled: dict[int, int] = {}

    @app.timer(CATCH_UP_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def catch_up() -> None:
        """Rebuild the states of partitions taken over, and decide commands the stream has
        not delivered: after a worker took partitions over, Faust was seen here to place them
        past records nobody decided and to deliver nothing until a newer command came. A
        partition whose last decided offset stayed put for a whole interval while the log
        holds more has the rest read from the log and decided."""
        if app.in_recovery:
            return
        name = commands.get_topic_name()
        for partition in sorted(assigned()):
            async with deciders.mutex:
                deciders.drop_stale()
                done = (await deciders.prepare(partition)).commands
            before, stalled[partition] = stalled.get(partition), done
            if done != before:
                continue
            end = await reader.end(name, partition)
            if end > done + 1 and partition in assigned():
                missed = await reader.read(name, partition, done + 1, end)
                await decide_batch([_Record(r, partition) for r in missed])

    @app.timer(SNAPSHOT_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def snapshot() -> None:
        """Write the states that changed to the table, between batches."""
        if app.in_recovery:
            return
        async with deciders.mutex:
            deciders.drop_stale()
            written = deciders.snapshot()
            # the states are long-lived: keep what exists now out of every later full
            # collection, else each one walks them all (0.1-0.3 s stalls of the deciding)
            gc.freeze()
        if written:
            log.debug("%s station snapshots written", written)

    @app.timer(metrics.LAG_SAMPLE_S)  # type: ignore[untyped-decorator]
    async def sample_lag() -> None:
        """The group's lag per partition of the commands and events topics, for the metrics
        (only where they are served: ``run_worker``)."""
        if metrics.exposing("deciders"):
            await lag.sample()

    scheduled: set[str] = set()  # what was asked for already (forgotten on a rebalance)
    app.on_partitions_assigned.connect(lambda *_, **__: scheduled.clear())

    @app.timer(SCHEDULE_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def schedule() -> None:
        """Send what is due at the stations this worker decides for (``schedule``)."""
        now = datetime.now(UTC)
        due: list[Command] = []
        async with deciders.mutex:
            deciders.drop_stale()
            for partition in sorted(assigned() & set(deciders.through)):
                for station_id in deciders.stations.get(partition, []):
                    for body in due_commands(deciders.state(station_id), now):
                        what = body.model_dump_json()
                        if what in scheduled:
                            continue
                        scheduled.add(what)
                        due.append(
                            Command(
                                command_id=uuid7(),
                                station_id=station_id,
                                issued_at=now,
                                actor="scheduler",
                                role="scheduler",
                                source="api",
                                body=body,
                            )
                        )
        for command in due:
            await commands.send(
                key=command.key, value=command.model_dump_json().encode(), force=True
            )

    @app.agent(events)
    async def fold_facts(stream: Any) -> None:
        """Fold the kiosks' check-ins into the states (once: the offsets say which a state
        holds)."""
        async for records in stream.take_events(1000, within=0.05):
            async with deciders.mutex:
                deciders.drop_stale()
                generation = deciders.generation
                held = assigned()
                for record in records:
                    message = record.message
                    if message.partition not in held:
                        continue
                    through = await deciders.prepare(message.partition)
                    if deciders.generation != generation:
                        break  # rebalanced: rebuilt from the log when next needed
                    if message.offset <= through.facts:
                        continue
                    through.facts = message.offset
                    deciders.dirty.add(message.partition)
                    if not any(marker in message.value for marker in _FACT_MARKERS):
                        continue
                    try:
                        event = decode_event(message.value)
                    except EventError:
                        continue  # the ingest validated it; an old bad record is not ours
                    if event.station_id in deciders.states:
                        evolve(deciders.states[event.station_id], event)

    app.deciders = deciders  # type: ignore[attr-defined]  # for tests and introspection
    return app


def run_worker(settings: Settings) -> None:
    """Run the deciders in this process until interrupted (``sanjiang deciders``)."""
    asyncio.run(ensure_topics(settings))  # before Faust subscribes to them
    app = create_app(settings)
    metrics.expose("deciders")
    metrics.serve("deciders", settings.metrics_host, settings.deciders_metrics_port)
    worker = faust.Worker(app, loglevel=settings.faust_log_level)
    worker.execute_from_commandline()
