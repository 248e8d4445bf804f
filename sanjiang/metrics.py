"""The platform's Prometheus metrics: one definition of every metric any process exposes.

Every long-running process exposes the metrics of its own work on its own endpoint (one
registry per process: the default one, which also holds ``process_*`` and ``python_*``):

- the stream worker (``sanjiang streams``) and the deciders (``sanjiang deciders``) on
  ``SANJIANG_METRICS_HOST``:``SANJIANG_STREAMS_METRICS_PORT`` / ``_DECIDERS_METRICS_PORT``
  (``serve``);
- the warehouse sink run alone (``sanjiang sink``) on ``SANJIANG_SINK_METRICS_PORT``;
- the API on its own ``/metrics`` route (``api.routes.health``), the embedded sink's
  metrics included when it hosts it.

Metrics are defined here, unregistered, and grouped by the kind of process that does the work
(``ROLES``); a process registers its kinds (``expose``) and shows those alone. Labels are
bounded sets only — partitions, topics, command kinds, reasons and statuses of this code —
never a station, resident or event id. Hot loops count per batch, not per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sanjiang.settings import Settings

log = logging.getLogger("sanjiang.metrics")

PREFIX = "sanjiang_"

# -- the stream worker ------------------------------------------------------------------------

FOLD_RECORDS = Counter(
    "sanjiang_fold_records",
    "Records the live fold read, by source topic (duplicates and undecodable ones included).",
    ["topic"],
    registry=None,
)
FOLD_APPLIED = Counter(
    "sanjiang_fold_events_applied",
    "Events the live fold applied to its state (each event_id once; late ones counted too).",
    registry=None,
)
FOLD_INVALID = Counter(
    "sanjiang_fold_invalid_records",
    "Records the live fold could not decode as events.",
    registry=None,
)
FOLD_SECONDS = Histogram(
    "sanjiang_fold_batch_seconds",
    "Time the live fold took to fold one batch (at most 5,000 records of one partition).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=None,
)
CHECKPOINT_CUT = Histogram(
    "sanjiang_checkpoint_cut_seconds",
    "Time to cut a checkpoint: the state serialized, as it was between two batches (the fold "
    "waits for it unless it is cut off the fold's path).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=None,
)
CHECKPOINT_WRITE = Histogram(
    "sanjiang_checkpoint_write_seconds",
    "Time a checkpoint took to be written to the changelog topic and acknowledged (the fold "
    "goes on meanwhile).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,
)
CHECKPOINT_BYTES = Gauge(
    "sanjiang_checkpoint_bytes", "Size of the last checkpoint written, in bytes.", registry=None
)

# -- the deciders -----------------------------------------------------------------------------

DECISIONS = Counter(
    "sanjiang_command_decisions",
    "Commands decided, by kind, status (accepted or rejected) and outcome (done, waitlisted or "
    "pending when accepted; the reason when rejected). A command asked again is answered from "
    "its recorded decision and counted in sanjiang_command_repeats_total instead.",
    ["kind", "status", "outcome"],
    registry=None,
)
REPEATS = Counter(
    "sanjiang_command_repeats",
    "Commands answered from their recorded decision (asked again, or read again after a "
    "takeover): nothing new decided.",
    registry=None,
)
DECIDE_SECONDS = Histogram(
    "sanjiang_command_batch_seconds",
    "Time the deciders took for one batch of commands: decided, events acknowledged by Kafka.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=None,
)

# -- the warehouse sink -----------------------------------------------------------------------

SINK_BATCH_RECORDS = Histogram(
    "sanjiang_sink_batch_records",
    "Records in each batch the warehouse sink wrote.",
    buckets=(1, 10, 100, 1000, 5000, 10_000, 20_000, 50_000, 100_000),
    registry=None,
)
SINK_WRITE_SECONDS = Histogram(
    "sanjiang_sink_write_seconds",
    "Time the warehouse sink took to write one batch (events, progress, dead letters), "
    "retries included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=None,
)
SINK_EVENTS = Counter(
    "sanjiang_sink_events",
    "Records the warehouse sink handled, by result: written (new to the warehouse), "
    "duplicate (already stored) or dead_lettered (not a valid event).",
    ["result"],
    registry=None,
)
SINK_WRITE_FAILURES = Counter(
    "sanjiang_sink_write_failures",
    "Batch writes the warehouse refused (retried with backoff; nothing committed meanwhile).",
    registry=None,
)
SINK_BACKLOG = Gauge(
    "sanjiang_sink_backlog_records",
    "Events in the event topic the warehouse sink's group has not committed yet (sampled; "
    "the sum of sanjiang_consumer_lag_records of the warehouse-sink consumer).",
    registry=None,
)

# -- the API ----------------------------------------------------------------------------------

INGEST_EVENTS = Counter(
    "sanjiang_ingest_events",
    "Events devices sent, by the answer each got: accepted, duplicate or rejected (with the "
    "reason), through POST /v1/events, the kiosk page and the console.",
    ["status", "reason"],
    registry=None,
)
INGEST_REQUESTS = Counter(
    "sanjiang_ingest_requests",
    "Answers of POST /v1/events by HTTP status and error code (empty when it took the "
    "request); refusals of the credential (401/403 before the body is read) are not counted.",
    ["code", "error"],
    registry=None,
)
SSE_CLIENTS = Gauge(
    "sanjiang_sse_clients", "Live streams (GET /v1/live/stream) open now.", registry=None
)


# -- consumer lag -----------------------------------------------------------------------------

LagValues = Mapping[tuple[str, int], int]


class LagCollector(Collector):
    """``sanjiang_consumer_lag_records{consumer, topic, partition}``: records not consumed yet,
    per partition, as each consumer knows it — computed at scrape time from a source the
    consumer registered (the stream worker's own positions), or the last sample taken
    (``follow_group_lag``: a group's committed offsets)."""

    name = "sanjiang_consumer_lag_records"

    def __init__(self) -> None:
        self._sources: dict[str, Callable[[], LagValues]] = {}
        self._lock = threading.Lock()

    def watch(self, consumer: str, source: Callable[[], LagValues]) -> None:
        """Report ``consumer``'s lag from ``source`` (called at each scrape, in the scraping
        thread: it must only read)."""
        with self._lock:
            self._sources[consumer] = source

    def set(self, consumer: str, values: LagValues) -> None:
        """Report a sample of ``consumer``'s lag (until the next one)."""
        sample = dict(values)
        self.watch(consumer, lambda: sample)

    def forget(self, consumer: str) -> None:
        with self._lock:
            self._sources.pop(consumer, None)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            self.name,
            "Records of a topic partition a consumer has not consumed yet: the stream worker's "
            "fold (its own positions), the warehouse sink's and the deciders' groups "
            "(committed offsets, sampled).",
            labels=["consumer", "topic", "partition"],
        )
        with self._lock:
            sources = list(self._sources.items())
        for consumer, source in sources:
            try:
                values = dict(source())
            except Exception:  # a scrape never fails for one source
                log.exception("lag of %s could not be read", consumer)
                continue
            for (topic, partition), lag in sorted(values.items()):
                family.add_metric([consumer, topic, str(partition)], max(0, lag))
        yield family

    def describe(self) -> Iterable[Metric]:
        # declared without samples, so the registry knows the name before any source exists
        return [GaugeMetricFamily(self.name, "", labels=["consumer", "topic", "partition"])]


LAG = LagCollector()

#: What each kind of process exposes (``expose``); the consumer lag is everyone's.
ROLES: dict[str, tuple[Collector, ...]] = {
    "streams": (
        FOLD_RECORDS,
        FOLD_APPLIED,
        FOLD_INVALID,
        FOLD_SECONDS,
        CHECKPOINT_CUT,
        CHECKPOINT_WRITE,
        CHECKPOINT_BYTES,
        LAG,
    ),
    "deciders": (DECISIONS, REPEATS, DECIDE_SECONDS, LAG),
    "sink": (
        SINK_BATCH_RECORDS,
        SINK_WRITE_SECONDS,
        SINK_EVENTS,
        SINK_WRITE_FAILURES,
        SINK_BACKLOG,
        LAG,
    ),
    "api": (INGEST_EVENTS, INGEST_REQUESTS, SSE_CLIENTS),
}
#: per registry: the collectors registered in it
_exposed: weakref.WeakKeyDictionary[CollectorRegistry, set[int]] = weakref.WeakKeyDictionary()
_exposing = threading.Lock()


def exposing(role: str, registry: CollectorRegistry = REGISTRY) -> bool:
    """Whether this process exposes ``role``'s metrics (its first one is registered)."""
    with _exposing:
        return id(ROLES[role][0]) in _exposed.get(registry, set())


def expose(*roles: str, registry: CollectorRegistry = REGISTRY) -> None:
    """Register the metrics of these roles (``ROLES``) in ``registry`` (this process's, by
    default), once each: a process shows the metrics of the work it does, and only those."""
    with _exposing:
        done = _exposed.setdefault(registry, set())
        for role in roles:
            for collector in ROLES[role]:
                if id(collector) not in done:
                    registry.register(collector)
                    done.add(id(collector))


# -- recording helpers ------------------------------------------------------------------------


def count_ingest(answers: Iterable[tuple[str, str | None]]) -> None:
    """Count the answers of one request's events: ``(status, reason)`` pairs."""
    for (status, reason), n in Tally(answers).items():
        INGEST_EVENTS.labels(status, reason or "").inc(n)


def count_decision(kind: str, accepted: bool, outcome: str | None, reason: str | None) -> None:
    """Count one new decision."""
    if accepted:
        DECISIONS.labels(kind, "accepted", outcome or "done").inc()
    else:
        DECISIONS.labels(kind, "rejected", reason or "unknown").inc()


class FoldMeter:
    """Counts the fold's batches cheaply: the labelled children are looked up once per
    partition, not per batch."""

    def __init__(self) -> None:
        self._records: dict[str, Any] = {}

    def batch(self, key: str, records: int, applied: int, invalid: int, seconds: float) -> None:
        """One folded batch of the partition ``key`` (``topic:partition``)."""
        child = self._records.get(key)
        if child is None:
            child = self._records[key] = FOLD_RECORDS.labels(key.rpartition(":")[0])
        child.inc(records)
        if applied:
            FOLD_APPLIED.inc(applied)
        if invalid:
            FOLD_INVALID.inc(invalid)
        FOLD_SECONDS.observe(seconds)


def partition_lag(highwaters: Mapping[str, int], positions: Mapping[str, int]) -> LagValues:
    """Lag per partition from ``topic:partition``-keyed highwaters and positions."""
    lag: dict[tuple[str, int], int] = {}
    for key, highwater in list(highwaters.items()):
        topic, _, partition = key.rpartition(":")
        lag[(topic, int(partition))] = max(0, highwater - positions.get(key, 0))
    return lag


def serve(what: str, host: str, port: int) -> WSGIServer | None:
    """Expose this process's metrics on ``host:port`` (a daemon thread); ``port`` 0 = not at
    all. Returns the server, or None when off or when the port is taken: metrics never stop
    the work, but the failure is logged as an error."""
    if not port:
        log.info("%s: metrics off (port 0)", what)
        return None
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        log.error("%s: metrics not served, %s:%s is not free (%s)", what, host, port, exc)
        return None
    log.info("%s: metrics on http://%s:%s/metrics", what, host, server.server_address[1])
    return server


#: How often a group's lag is sampled (it costs two requests to the brokers).
LAG_SAMPLE_S = 15.0


class GroupLag:
    """Samples a consumer group's lag per partition into ``sanjiang_consumer_lag_records``
    (``sample`` from a timer; ``follow`` as a task). Best effort: a failed sample is logged and
    the last one stays."""

    def __init__(
        self,
        settings: Settings,
        consumer: str,
        group_id: str,
        topics: list[str],
        on_sample: Callable[[LagValues], None] = lambda _: None,
    ) -> None:
        from sanjiang.kafka.lag import LagProbe

        self.consumer, self.group_id, self.topics = consumer, group_id, topics
        self._probe = LagProbe(settings)
        self._started = False
        self._on_sample = on_sample

    async def sample(self) -> LagValues | None:
        try:
            if not self._started:
                await self._probe.start()
                self._started = True
            values = await self._probe.lag(self.group_id, self.topics)
        except Exception as exc:
            log.warning("lag of %s not sampled: %r", self.consumer, exc)
            return None
        LAG.set(self.consumer, values)
        self._on_sample(values)
        return values

    async def close(self) -> None:
        LAG.forget(self.consumer)
        if self._started:
            self._started = False
            await self._probe.stop()

    async def follow(self, stop: asyncio.Event, every_s: float = LAG_SAMPLE_S) -> None:
        """Sample every ``every_s`` until ``stop`` is set."""
        try:
            while not stop.is_set():
                await self.sample()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every_s)
        finally:
            await self.close()


def sink_backlog(values: LagValues) -> None:
    """The warehouse sink's backlog from a sample of its group's lag."""
    SINK_BACKLOG.set(sum(values.values()))
