"""The fold loop of the stream worker: folds batches of the event and telemetry topics into a
``LiveState``, and checkpoints the state with the offsets it reflects.

Why not a Faust agent: Faust's per-message stream machinery costs about 120 µs an event here
(measured: 6-9k events/s whatever the fold did), while decoding and folding one takes about 3 µs
(``streams.facts``: signed records are decoded straight into what the fold reads; the fold is
compiled, ``streams.compiled``). The records are read, and their signatures checked, by a
reader process (``streams.reader``) on the other core; this loop runs inside the Faust app,
which still runs the timers, the producers and the worker's life cycle.

Offsets are the loop's own: partitions are assigned (no consumer group), and each start reads
from the offsets of the checkpoint it restored (``streams.checkpoint``) or from the beginning.
A checkpoint is cut between two batches, so the state and its offsets always agree: after a
crash the worker re-reads only what came after its last checkpoint, and the fold's dedup on
``event_id`` is not even needed for that. One worker per deployment: the state is not
partitioned.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from sanjiang import metrics
from sanjiang.events import EventError
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.topics import Topics, partition_counts
from sanjiang.settings import Settings
from streams import forked, snapshot
from streams import state as state_module
from streams.checkpoint import CheckpointStore
from streams.compiled import is_compiled
from streams.facts import Fact, read_fact
from streams.reader import Batch, ReaderProcess
from streams.state import LiveState

log = logging.getLogger(__name__)
#: Records per batch at most; under load batches fill at once, at low rates a batch is what
#: arrived within FOLD_WAIT_MS (an event waits at most that long before it is folded).
FOLD_BATCH, FOLD_WAIT_MS = 5000, 20
#: How long the broker may hold a fetch that finds no new records. aiokafka keeps one fetch in
#: flight per broker and leaves out partitions whose fetched records are not consumed yet, so
#: a fetch for idle partitions (telemetry, or events read to their end) held for the default
#: 500 ms delays every other partition's next fetch as long: 0.4 s stalls during catch-up and
#: up to 0.5 s more latency when live. 50 ms bounds that; idle, it is 20 cheap fetches a second.
FETCH_MAX_WAIT_MS = 50
#: A checkpoint waits at least this many times as long as cutting the last one took.
CHECKPOINT_PACE = 20
#: A checkpoint's child that has not written it in this long is killed (it is cut in-process)
DUMP_TIMEOUT_S = 120.0


def fold_batch(state: LiveState, batch: Batch) -> tuple[int, Fact | None]:
    """Fold a reader's batch into ``state`` (``streams.facts`` decodes each value, as its
    verified flag allows); returns how many were not valid events (the ingest path refuses
    those: here they are only counted) and the last fact folded."""
    fold, invalid, fact = state.fold, 0, None
    for value, verified in zip(batch.values, batch.verified, strict=True):
        try:
            fact = read_fact(value, verified == 1)
        except EventError:
            invalid += 1
            continue
        fold(fact)
    return invalid, fact


@dataclass
class WorkerStatus:
    """What the worker reports beside the state, in the ``pipeline`` view."""

    invalid: int = 0  #: records that did not decode as events (the ingest path rejects them)
    restored_generation: int | None = None  #: the checkpoint the worker started from
    restored_applied: int = 0  #: events the state had applied at that checkpoint
    checkpoint_generation: int | None = None  #: the last checkpoint written
    checkpoint_at: str | None = None  #: the instant the last checkpoint's state is of
    lag: int | None = None  #: records not read yet, over all partitions
    #: the fold's own clock: from the start of its first batch to the end of its latest one,
    #: and the events those batches applied (for throughput, measured by the worker itself)
    fold_started: float | None = None
    fold_seconds: float = 0.0
    fold_applied: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "invalid": self.invalid,
            "restored_from_checkpoint": self.restored_generation,
            "restored_applied": self.restored_applied,
            "checkpoint": self.checkpoint_generation,
            "checkpoint_at": self.checkpoint_at,
            "lag": self.lag,
            "fold": {"applied": self.fold_applied, "seconds": round(self.fold_seconds, 4)},
        }


@dataclass
class LiveWorker:
    """Owns the state and the offsets; ``run`` folds until cancelled."""

    settings: Settings
    make_state: Callable[[], LiveState]
    #: what else to keep in checkpoints (JSON-ready), and what to do with it on restore
    extra: Callable[[], dict[str, Any]] = dict
    on_restore: Callable[[dict[str, Any]], None] = lambda _: None
    state: LiveState = field(init=False)
    status: WorkerStatus = field(default_factory=WorkerStatus)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    offsets: dict[str, int] = field(default_factory=dict)
    _last_arrival: dict[str, datetime] = field(default_factory=dict)
    #: the highwater of every partition read, as the reader last saw them
    _highwaters: dict[str, int] = field(default_factory=dict)
    _partitions: list[str] = field(default_factory=list)  #: offset keys of every partition read
    _producer: AIOKafkaProducer | None = None
    _saved: tuple[Any, ...] | None = None
    _not_before: float = 0.0  #: monotonic time before which no checkpoint is cut
    _meter: metrics.FoldMeter = field(default_factory=metrics.FoldMeter)

    def __post_init__(self) -> None:
        self.state = self.make_state()
        topics = Topics.from_settings(self.settings)
        self.topics = topics
        self.store = CheckpointStore(self.settings, topics.streams_changelog)

    async def restore(self) -> None:
        """Load the latest checkpoint, if any (else the state starts empty at offset 0). The
        topics exist already (``streams.app.run_worker`` ensures them before Faust starts)."""
        checkpoint = await self.store.load()
        restored = None if checkpoint is None else snapshot.load(checkpoint.data, self.make_state)
        if checkpoint is not None and restored is not None:
            self.state, self.offsets = restored.state, restored.offsets
            self.on_restore(restored.extra)
            self.status.restored_generation = checkpoint.generation
            self.status.restored_applied = self.state.applied
            self._saved = self._fingerprint()
            log.info(
                "restored checkpoint %s: %s events applied, offsets %s",
                checkpoint.generation,
                self.state.applied,
                self.offsets,
            )
        gc.freeze()  # the restored state is long-lived: keep it out of every full collection

    async def run(self) -> None:
        """Restore, then fold batches until cancelled."""
        if is_compiled(state_module):
            log.info("live fold: compiled (mypyc)")
        else:
            log.warning("live fold: runs as Python, slower (no build: sanjiang build-fold)")
        await self.restore()
        # Checkpoints only: not compressed, as lz4 in the producer runs on this loop and held
        # the fold for as long as cutting the checkpoint did (the topic keeps two copies).
        producer = make_producer(
            self.settings, max_request_size=2 * 1024 * 1024, compression_type=None
        )
        sources = [self.topics.events, self.topics.telemetry]
        counts = await partition_counts(self.settings, sources)
        partitions = [(topic, p) for topic in sources for p in range(counts[topic])]
        reader = ReaderProcess(
            self.settings,
            partitions,
            self.offsets,
            batch=FOLD_BATCH,
            wait_ms=FOLD_WAIT_MS,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await producer.start()
        try:
            start = await reader.start()
            self._producer = producer
            self._partitions = list(start.positions)  # every partition the reader reads
            for key, position in start.positions.items():
                self.offsets.setdefault(key, position)
            self._highwaters = start.highwaters
            self.ready.set()
            while True:
                frame = await reader.next()
                self._highwaters = frame.highwaters or self._highwaters
                if not isinstance(frame, Batch):
                    continue
                started, applied = time.perf_counter(), self.state.applied
                invalid = self._fold(frame)
                status, ended = self.status, time.perf_counter()
                if status.fold_started is None:
                    status.fold_started = started
                status.fold_seconds = ended - status.fold_started
                status.fold_applied += self.state.applied - applied
                self._meter.batch(
                    frame.key,
                    len(frame.values),
                    self.state.applied - applied,
                    invalid,
                    ended - started,
                )
                # reading a frame already buffered does not suspend: yield, or the publish
                # and checkpoint timers would starve until the fold caught up
                await asyncio.sleep(0)
        finally:
            self.ready.clear()
            self._producer = None
            await reader.stop()
            await producer.stop()

    def _fold(self, batch: Batch) -> int:
        invalid, fact = fold_batch(self.state, batch)
        self.status.invalid += invalid
        self.offsets[batch.key] = batch.next_offset
        if fact is not None:
            self._last_arrival[batch.key] = fact.arrived_at
        return invalid

    def partition_lag(self) -> metrics.LagValues:
        """Records not read yet, per partition (for the metrics, read at each scrape)."""
        if not self.ready.is_set():
            return {}
        return metrics.partition_lag(self._highwaters, self.offsets)

    def horizon(self) -> datetime | None:
        """An arrival time every unread record comes after (within ``PRUNE_MARGIN``): the
        least last-read arrival of the partitions still behind, or the latest arrival seen
        when all are caught up (new records are stamped as they arrive). ``None`` while a
        partition behind has not been read from yet."""
        clock = self.state.arrival_clock
        if not self.ready.is_set() or clock is None:
            return None
        lag = 0
        behind: list[datetime] = []
        for key in self._partitions:
            highwater = self._highwaters.get(key)
            position = self.offsets.get(key, 0)
            if highwater is None:
                return None
            if position >= highwater:
                continue
            lag += highwater - position
            last = self._last_arrival.get(key)
            if last is None:
                return None
            behind.append(last)
        self.status.lag = lag
        return min([*behind, clock])

    def _fingerprint(self, extra: dict[str, Any] | None = None) -> tuple[Any, ...]:
        state = self.state
        return (
            state.applied,
            state.too_late,
            tuple(sorted(self.offsets.items())),
            orjson.dumps(extra if extra is not None else self.extra(), option=orjson.OPT_SORT_KEYS),
        )

    async def _dump(self, offsets: dict[str, int], extra: dict[str, Any]) -> bytes:
        """The state and ``offsets`` as bytes, as they are now. In a forked child where the
        system forks (``streams.forked``: the fold goes on meanwhile), else here, between two
        batches (the fold waits: ~0.15 s for 100k events of state)."""
        if forked.can_fork():
            try:
                return await forked.in_child(
                    lambda: snapshot.dump(self.state, offsets, extra), DUMP_TIMEOUT_S
                )
            except forked.ForkedError as e:
                log.warning("checkpoint in a child failed (%s): cutting it here", e)
        gc.disable()  # dumping makes many short-lived objects: no full collection meanwhile
        try:
            return snapshot.dump(self.state, offsets, extra)
        finally:
            gc.enable()

    async def checkpoint(self) -> int | None:
        """Prune what the state no longer needs, then write a checkpoint if anything changed
        since the last one; returns its generation."""
        producer = self._producer
        if not self.ready.is_set() or producer is None or time.monotonic() < self._not_before:
            return None
        horizon = self.horizon()
        if horizon is not None:
            self.state.prune(horizon)
        extra = self.extra()
        fingerprint = self._fingerprint(extra)
        if fingerprint == self._saved:
            return None
        started, cut_at = time.monotonic(), datetime.now(UTC)
        offsets = dict(self.offsets)
        data = await self._dump(offsets, extra)
        metrics.CHECKPOINT_CUT.observe(time.monotonic() - started)
        metrics.CHECKPOINT_BYTES.set(len(data))
        # The state is long-lived: keep what exists now out of every later collection, else
        # each full collection walks it all (~0.2 s pauses at 100k events of state).
        gc.freeze()
        # at most CHECKPOINT_PACE times as often as a dump lasts: off the fold's path, it
        # still costs a core that long
        self._not_before = started + CHECKPOINT_PACE * (time.monotonic() - started)
        with metrics.CHECKPOINT_WRITE.time():
            generation = await self.store.save(producer, data)
        self._saved = fingerprint
        self.status.checkpoint_generation = generation
        self.status.checkpoint_at = cut_at.isoformat()  # the instant the state is of
        return generation
