"""The warehouse sink: the Kafka events topic into the warehouse, with exactly-once effects.

One consumer (group ``sanjiang-warehouse``) reads the events topic in batches — up to
``sink_batch_rows`` records or ``sink_batch_seconds`` after a batch's first record, whichever
comes first, so a busy sink inserts about once a second — and hands each batch to
:class:`~projections.writer.EventWriter`, which drops the event ids the warehouse already
holds. Records that do not decode are sent to the dead-letter topic with the reason.

Decoding has two paths to one row (``projections.rows``). A record the platform signed (a
MAC of its value under the deployment's key, see :mod:`sanjiang.kafka.signing`) is bytes this
platform encoded from a validated event: if it is at its type's current schema version, its row
is built from the JSON directly. Every other record — unsigned, badly signed, or of an older
version (upcast first) — is parsed, upcast and validated into its model as before, and
dead-lettered if that fails. Re-validating with pydantic was most of the sink's time.

Exactly-once effects come from at-least-once delivery plus the writer's idempotence:

- **Commit after the effect.** A batch's offsets (the last offset + 1 of each partition it
  holds, and nothing else) are committed only after the events are in the warehouse and the
  dead letters are acknowledged. A crash in between replays the batch, and the writer drops
  every event of it that is already stored: counts and rollups do not change.
- **Pipelined, bounded.** A batch is written (in a thread: chDB and the HTTP client release the
  GIL) while the next one is fetched and decoded; writes and commits stay in order, one at a
  time, and a batch's dedup lookup runs after the previous batch is in the warehouse. Overlap
  took the sink from ~37% to ~60% of a bulk load: the insert and the lookup alone were about
  half of a serial sink's time.
- **Backpressure.** When the warehouse refuses a write (``WarehouseError``: slow, down, full)
  nothing is committed; the same batch is retried after 1 s, 2 s, 4 s … (at most 30 s). The
  next batch fills meanwhile; once it is full, fetching is paused and the consumer keeps
  polling its paused partitions, so it stays in its group, but no record is fetched: at most
  two batches are ever held in memory.
- **Rebalances.** Chosen: *drop, never flush, on revoke*. A rebalance listener waits for a
  write-and-commit already under way to finish (so two group members never write the same
  batch at once), then drops the batch that was still being collected or retried, without
  committing it. After the rebalance every assigned partition restarts from its committed
  offset, so whichever member gets a partition re-reads those records; the writer's id dedup
  makes re-reading harmless. Flushing on revoke was rejected: a slow warehouse would hold the
  whole group's rebalance hostage to a retry loop. A write that outlasts the rebalance
  timeout (the session timeout, 10 s) gets this member dropped from the group; its commit
  then fails, which is reported and harmless (the data is written, the offsets are
  re-delivered and de-duplicated). In embedded mode (chDB, one owning process) there is one
  sink, hence one group member; with a ClickHouse server several sinks may share the group.
- Dead letters are at-least-once: a crash after a poison record was dead-lettered but before
  the commit dead-letters it again on replay.

``sink_progress`` gets one row per partition per batch: ``offset`` is the next offset to
read (the Kafka commit convention, last written offset + 1), for reconciliation against the
topic's end offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from projections.rows import event_row, signed_row
from projections.warehouse import Warehouse, WarehouseError
from projections.writer import EventWriter, WriteResult
from sanjiang import metrics
from sanjiang.events.codec import EventError, decode_event, from_raw, is_current, parse_raw
from sanjiang.kafka.client import make_consumer
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.security import WAREHOUSE_GROUP
from sanjiang.kafka.signing import EventSigner, signer_for
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings

ORIGIN = "warehouse-sink"
#: Longest single wait for records (bounds how late ``stop`` is noticed).
POLL_S = 0.5
#: Seconds between the throughput lines sent to ``report``.
REPORT_EVERY_S = 10.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0


@dataclass
class SinkStats:
    """What a sink has done since it was created."""

    batches: int = 0  #: batches written (events inserted and dead letters acknowledged)
    events_written: int = 0  #: events new to the warehouse
    duplicates: int = 0  #: events dropped because their id was stored already (or repeated)
    dead_lettered: int = 0  #: records sent to the dead-letter topic
    last_write_at: datetime | None = None  #: when the last batch was written (UTC)
    records: int = 0  #: records taken from Kafka into batches (replays included)
    first_record_at: datetime | None = None  #: when the first record was taken (UTC)
    write_failures: int = 0  #: write attempts that failed and were retried
    commit_failures: int = 0  #: commits refused (rebalance); the batch is re-delivered
    dropped_on_rebalance: int = 0  #: uncommitted records dropped when partitions were revoked
    signed: int = 0  #: records whose row was built from their signed JSON (the fast path)


@dataclass(frozen=True)
class Poison:
    """A record that is not a valid event, waiting for its dead letter."""

    raw: bytes
    reason: str
    detail: str


@dataclass
class Decoded:
    """What a run of records decoded to: rows, poison, and how many took the signed path."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    poison: list[Poison] = field(default_factory=list)
    signed: int = 0


@dataclass
class SinkBatch:
    """Records taken from Kafka and not committed yet (a sink holds at most two: one being
    written, one being collected)."""

    topic: str
    generation: int = 0  #: the sink's rebalance generation when the batch was begun
    rows: list[dict[str, Any]] = field(default_factory=list)  #: ``events`` rows, in order
    poison: list[Poison] = field(default_factory=list)
    #: partition -> (first offset, last offset) of the records in the batch
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    records: int = 0
    started: float = 0.0  #: monotonic time of the first record
    result: WriteResult | None = None  #: set once the warehouse holds the batch's events
    progress_recorded: bool = False
    counted: bool = False

    def add(self, parts: list[list[Any]], decoded: Decoded) -> None:
        """Add records (one list per partition, as fetched) and what they decoded to."""
        if not self.records:
            self.started = time.monotonic()
        for part in parts:
            if not part:
                continue
            self.records += len(part)
            partition = int(part[0].partition)
            low = min(int(r.offset) for r in part)
            high = max(int(r.offset) for r in part)
            first, last = self.spans.get(partition, (low, high))
            self.spans[partition] = (min(first, low), max(last, high))
        self.rows.extend(decoded.rows)
        self.poison.extend(decoded.poison)

    @property
    def token(self) -> str:
        """The insert deduplication token: the batch's Kafka offsets."""
        return ",".join(
            f"{self.topic}:{p}:{first}-{last}" for p, (first, last) in sorted(self.spans.items())
        )

    def commit_offsets(self) -> dict[TopicPartition, int]:
        """What to commit once the batch is written: next offset of each of its partitions."""
        return {TopicPartition(self.topic, p): last + 1 for p, (_, last) in self.spans.items()}


def decode_record(record: Any, signer: EventSigner) -> tuple[dict[str, Any] | Poison, bool]:
    """One record's ``events`` row, or why it is poison; and whether the signed path made it.

    Signed and current: the row straight from the JSON. Signed but older: upcast and validated
    (the signature never skips upcasting). Unsigned or badly signed: the full path.
    """
    value = bytes(record.value or b"")
    partition, offset = int(record.partition), int(record.offset)
    try:
        if signer.verify(value, record.headers):
            raw = parse_raw(value)
            if is_current(raw):
                try:
                    return signed_row(raw, partition, offset), True
                except (KeyError, TypeError, ValueError):
                    pass  # cannot happen for what the platform signs; the full path says why
            event = from_raw(raw)
        else:
            event = decode_event(value)
        return event_row(event, partition, offset), False
    except EventError as exc:
        return Poison(value, exc.reason, exc.detail), False
    except Exception as exc:  # a record no event model accepts, whatever the reason
        return Poison(value, "undecodable", f"{type(exc).__name__}: {exc}"), False


def decode_records(records: list[Any], signer: EventSigner) -> Decoded:
    """Rows and poison of the records, in order (runs in a worker thread)."""
    decoded = Decoded()
    for record in records:
        item, signed = decode_record(record, signer)
        if isinstance(item, Poison):
            decoded.poison.append(item)
        else:
            decoded.rows.append(item)
            decoded.signed += signed
    return decoded


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, sink: WarehouseSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._sink._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._sink._report(f"warehouse sink: assigned {len(assigned)} partition(s)")


def backlog_sampler(settings: Settings, group_id: str, topic: str) -> metrics.GroupLag:
    """The sampler of the warehouse sink's backlog (its group's lag on the event topic)."""
    return metrics.GroupLag(
        settings, "warehouse-sink", group_id, [topic], on_sample=metrics.sink_backlog
    )


class WarehouseSink:
    """Kafka events topic -> warehouse, exactly-once effects."""

    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        topics: Topics | None = None,
        group_id: str = WAREHOUSE_GROUP,
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.topics = topics or Topics.from_settings(settings)
        self.group_id = group_id
        self._report = report
        self.stats = SinkStats()
        self._writer = EventWriter(warehouse)
        self._signer = signer_for(settings)
        #: Held while a batch is written and committed; a revoke waits for it (made per run:
        #: an asyncio lock belongs to one event loop).
        self._flush_lock = asyncio.Lock()
        #: The batch being collected (for reports; validity is by generation, ``_valid``).
        self._batch: SinkBatch | None = None
        #: Writing and committing the previous batch, while the next one is collected.
        self._pending: asyncio.Task[None] | None = None
        self._writing: SinkBatch | None = None  #: the batch ``_pending`` writes
        #: Records fetched while a batch waited for a retry (only after a rebalance), one list
        #: per fetched partition.
        self._carry: list[list[Any]] = []
        #: Incremented by every revoke: records fetched and batches begun before it are stale.
        self._generation = 0
        self._idle_s: float | None = None
        self._last_record = time.monotonic()
        self._last_report = time.monotonic()
        self._reported_written = 0

    # -- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; always closes the consumer and the publisher."""
        consumer: AIOKafkaConsumer | None = None
        publisher: EventPublisher | None = None
        self._flush_lock = asyncio.Lock()
        try:
            consumer = make_consumer(self.settings, group_id=self.group_id)
            consumer.subscribe([self.topics.events], listener=_Rebalance(self))
            publisher = EventPublisher(self.settings, self.topics, self._signer)
            # Starting is never cancelled half-way: aiokafka leaves connections open when a
            # start is cancelled, so a stop that arrives meanwhile waits for it to finish.
            await publisher.start()
            if stop.is_set():
                return
            await consumer.start()  # joins the group
            if stop.is_set():
                return
            self._report(f"warehouse sink: consuming {self.topics.events} as group {self.group_id}")
            self._last_record = self._last_report = time.monotonic()
            await self._consume(consumer, publisher, stop)
        finally:
            self._batch = None
            self._carry = []
            try:
                if consumer is not None:
                    await consumer.stop()
            finally:
                if publisher is not None:
                    await publisher.stop()
            self._report_progress(final=True)

    async def run_until_idle(self, idle_s: float = 2.0, timeout_s: float = 120.0) -> SinkStats:
        """Consume until no record arrived for ``idle_s`` (or ``timeout_s`` passed); for loads
        and tests. Returns the stats."""
        stop = asyncio.Event()
        timer = asyncio.get_running_loop().call_later(timeout_s, stop.set)
        self._idle_s = idle_s
        try:
            await self.run(stop)
        finally:
            timer.cancel()
            self._idle_s = None
        return self.stats

    # -- the loop ---------------------------------------------------------------------------

    async def _consume(
        self, consumer: AIOKafkaConsumer, publisher: EventPublisher, stop: asyncio.Event
    ) -> None:
        try:
            while True:
                batch = await self._collect(consumer, stop)  # while the previous one is written
                if self._pending is not None:
                    await self._finish(consumer, self._pending, stop)
                    self._pending = None
                self._batch = None  # collected: from here on it is the writer's
                if batch is not None:
                    self._pending = asyncio.create_task(
                        self._flush(consumer, publisher, batch, stop)
                    )
                self._report_progress()
                if stop.is_set():
                    break
            if self._pending is not None:
                await self._finish(consumer, self._pending, stop)
        finally:
            pending, self._pending = self._pending, None
            if pending is not None and not pending.done():
                pending.cancel()  # left uncommitted: re-delivered on the next start
                await asyncio.wait([pending])

    async def _finish(
        self, consumer: AIOKafkaConsumer, pending: asyncio.Task[None], stop: asyncio.Event
    ) -> None:
        """Wait for the previous batch's write and commit with fetching paused (the next batch
        is full), polling the paused consumer so it stays a live group member.

        Paused partitions return nothing; records can only come from partitions a rebalance
        assigned meanwhile (the batches in hand were then dropped), kept for the next batch.
        """
        if pending.done():
            await pending
            return
        paused = set(consumer.assignment())
        consumer.pause(*paused)
        try:
            # Woken by the write's end, not by a poll's timeout; polled (without waiting) at
            # least every POLL_S meanwhile.
            while not (await asyncio.wait([pending], timeout=POLL_S))[0]:
                fetched = await consumer.getmany(timeout_ms=0)
                self._carry.extend(part for part in fetched.values() if part)
        finally:
            still = paused & set(consumer.assignment())
            if still:
                consumer.resume(*still)
        await pending

    def _valid(self, batch: SinkBatch) -> bool:
        """False once a revoke dropped the batch (its records are read again)."""
        return batch.generation == self._generation

    async def _collect(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> SinkBatch | None:
        """Take records until the batch is full or old enough; None if none came (or the
        batch was dropped by a rebalance)."""
        rows, seconds = self.settings.sink_batch_rows, self.settings.sink_batch_seconds
        batch = self._new_batch()
        while not stop.is_set() and batch.records < rows:
            now = time.monotonic()
            if batch.records:
                wait = batch.started + seconds - now
                if wait <= 0:
                    break
            else:
                writing = self._pending is not None and not self._pending.done()
                if (
                    self._idle_s is not None
                    and not writing
                    and now - self._last_record >= self._idle_s
                ):
                    stop.set()  # run_until_idle: nothing arrived for idle_s
                    break
                wait = POLL_S
            if self._carry:
                parts, self._carry = self._carry, []
            else:
                fetched = await consumer.getmany(
                    timeout_ms=int(min(wait, POLL_S) * 1000), max_records=rows - batch.records
                )
                parts = [part for part in fetched.values() if part]
                if not parts:
                    continue
            if not self._valid(batch):
                # A revoke dropped the batch while we waited; these records came after it.
                batch = self._new_batch()
            generation = self._generation
            records = [r for part in parts for r in part]
            decoded = await asyncio.to_thread(decode_records, records, self._signer)
            if generation != self._generation:
                # Revoked while decoding: the records predate the rebalance and every
                # partition restarts from its committed offset, so they are read again.
                batch = self._new_batch()
                continue
            batch.add(parts, decoded)
            self._last_record = time.monotonic()
            self.stats.records += len(records)
            self.stats.signed += decoded.signed
            if self.stats.first_record_at is None:
                self.stats.first_record_at = datetime.now(UTC)
        return batch if batch.records and self._valid(batch) else None

    def _new_batch(self) -> SinkBatch:
        self._batch = SinkBatch(self.topics.events, generation=self._generation)
        return self._batch

    async def _flush(
        self,
        consumer: AIOKafkaConsumer,
        publisher: EventPublisher,
        batch: SinkBatch,
        stop: asyncio.Event,
    ) -> None:
        """Write, dead-letter and commit one batch; retry with backoff while it fails (the
        next batch keeps filling meanwhile, then fetching pauses: ``_finish``)."""
        delay = BACKOFF_FIRST_S
        self._writing = batch
        started = time.monotonic()
        while self._valid(batch):
            try:
                async with self._flush_lock:
                    if not self._valid(batch):
                        return  # dropped by a revoke while we waited for the lock
                    await self._write(publisher, batch)
                    self._after_write(batch)
                    await self._commit(consumer, batch)
                    self._last_record = time.monotonic()  # idleness counts from here
                    metrics.SINK_BATCH_RECORDS.observe(batch.records)
                    metrics.SINK_WRITE_SECONDS.observe(self._last_record - started)
                    return
            except (WarehouseError, KafkaError) as exc:
                self.stats.write_failures += 1
                metrics.SINK_WRITE_FAILURES.inc()
                self._report(
                    f"warehouse sink: writing {batch.records} record(s) failed "
                    f"({type(exc).__name__}: {str(exc)[:200]}); nothing committed, "
                    f"retrying in {delay:g} s"
                )
            if stop.is_set():
                return  # left uncommitted: re-delivered on the next start
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _write(self, publisher: EventPublisher, batch: SinkBatch) -> None:
        """Events into the warehouse (in a thread: the loop keeps heartbeating), then the
        dead letters; each step is skipped on a retry once it has succeeded."""
        try:
            await asyncio.to_thread(self._write_blocking, batch)
        finally:
            if batch.result is not None and not batch.counted:
                batch.counted = True
                self.stats.events_written += batch.result.written
                self.stats.duplicates += batch.result.duplicates
                metrics.SINK_EVENTS.labels("written").inc(batch.result.written)
                metrics.SINK_EVENTS.labels("duplicate").inc(batch.result.duplicates)
        while batch.poison:
            poison = batch.poison[0]
            await publisher.dead_letter(poison.raw, poison.reason, poison.detail, origin=ORIGIN)
            batch.poison.pop(0)
            self.stats.dead_lettered += 1
            metrics.SINK_EVENTS.labels("dead_lettered").inc()
        self.stats.batches += 1
        self.stats.last_write_at = datetime.now(UTC)

    def _write_blocking(self, batch: SinkBatch) -> None:
        if batch.result is None:
            if batch.rows:
                batch.result = self._writer.write_rows(batch.rows, token=batch.token)
            else:
                batch.result = WriteResult(0, 0)
        if not batch.progress_recorded:
            rows = [
                {"topic": batch.topic, "partition": p, "offset": last + 1}
                for p, (_, last) in sorted(batch.spans.items())
            ]
            self.warehouse.insert_json_rows(
                f"{self.warehouse.database}.sink_progress",
                b"\n".join(orjson.dumps(row) for row in rows),
            )
            batch.progress_recorded = True

    def _after_write(self, batch: SinkBatch) -> None:
        """Test seam: runs after the batch is written and its dead letters acknowledged, just
        before its offsets are committed. Does nothing here; crash tests override it to kill
        the process exactly between write and commit."""

    async def _commit(self, consumer: AIOKafkaConsumer, batch: SinkBatch) -> None:
        """Commit exactly the batch's records (partitions still assigned to this member)."""
        assigned = set(consumer.assignment())
        offsets = {tp: o for tp, o in batch.commit_offsets().items() if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # The group rebalanced under us: the partitions may be someone else's now. The
            # batch is written; whoever reads it again drops it as already stored.
            self.stats.commit_failures += 1
            self._report(f"warehouse sink: commit refused ({type(exc).__name__}); re-delivery")

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Rebalance: let a write under way finish, then drop the uncommitted batches."""
        async with self._flush_lock:
            self._generation += 1
            carried = sum(len(part) for part in self._carry)
            unwritten = [b for b in (self._batch, self._writing) if b and b.result is None]
            dropped = sum(b.records for b in unwritten) + carried
            self._batch = None
            self._carry = []
        if dropped:
            self.stats.dropped_on_rebalance += dropped
            self._report(
                f"warehouse sink: {len(revoked)} partition(s) revoked; {dropped} uncommitted "
                "record(s) dropped, to be read again from the committed offsets"
            )

    # -- reporting --------------------------------------------------------------------------

    def _report_progress(self, final: bool = False) -> None:
        """About every 10 s while events flow: events written per second and totals."""
        now = time.monotonic()
        span = now - self._last_report
        if span < REPORT_EVERY_S and not final:
            return
        written = self.stats.events_written - self._reported_written
        if written or final:
            self._report(
                f"warehouse sink: {written / max(span, 1e-9):.0f} events/s over {span:.0f} s; "
                f"totals: {self.stats.events_written} written, {self.stats.duplicates} "
                f"duplicates, {self.stats.dead_lettered} dead-lettered, "
                f"{self.stats.batches} batches; {self.stats.signed} of {self.stats.records} "
                "records signed (the rest validated in full)"
            )
        self._last_report = now
        self._reported_written = self.stats.events_written
