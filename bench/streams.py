"""Stream processing: projection throughput beside a bare aiokafka consume loop on the same
topic, and event-to-SSE latency through the real worker and API at a steady 1,000 events/s.

- bare loop: an aiokafka consumer reading the topic from the start, nothing else;
- live projection: what the worker does, without Faust: its reader process
  (``streams.reader``: an aiokafka consumer with the worker's settings, checking every record's
  signature) hands batches to this process, which decodes and folds them
  (``streams.worker.fold_batch``, the compiled fold when built) and reads the occupancy once per
  batch (the worker's views do, ten times a second; from the first read on, every check-in and
  check-out also updates the occupancy counts). The events are published signed, as the
  platform publishes them. Timed from the reader's first frame (it has connected, as the bare
  loop's clock starts after ``start()``) to the last event folded.
- for context, aiokafka's per-message loop (``async for``) on the same topic, once;
- both batch loops run ``ROUNDS`` times, alternating, and each reports its best round: a round
  sometimes stalls ~0.4 s in one fetch (a fetch request that asks only for partitions already
  read to their end waits ``fetch_max_wait_ms`` at the broker, and others wait behind it), which
  is no cost of either loop and would decide the ratio by chance;
- Faust worker: ``sanjiang streams`` in its own process (with its reader process; checkpoints
  every 10 s), beside ``sanjiang api`` without the warehouse sink, as in the production stack
  (where the sink is a service of its own; hosted by the API, as ``make up`` does, it ingests
  the same events on the same two cores and the worker folds about half as fast); timed by its
  own clock from its first batch to the end of the last, as its ``pipeline`` view reports
  (polling the view from outside missed the start when the worker caught up between two polls);
- latency: events produced at 1,000/s while an SSE client of the API watches the
  ``pipeline`` view; an event's latency is the time from its send to the first SSE message
  whose ``applied`` count includes it (views publish every 0.1 s, ``streams.app``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from bench.report import Figure, Report
from sanjiang.events import Event, encode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event, stamp_received
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.signing import EventSigner
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.network import load_network
from sanjiang.settings import Settings
from streams import state as state_module
from streams.compiled import is_compiled
from streams.reader import Batch, ReaderProcess
from streams.state import LiveState
from streams.worker import FETCH_MAX_WAIT_MS, FOLD_BATCH, FOLD_WAIT_MS, fold_batch

ROOT = Path(__file__).resolve().parents[1]
TARGET_SHARE, TARGET_EPS, TARGET_P99_S = 0.25, 10_000, 1.0
ROUNDS = 3


def today_events(n: int) -> list[Event]:
    now = datetime.now(UTC) - timedelta(seconds=5)
    events = []
    for i in range(n):
        station = f"WS-R{i % 28 + 1:02d}"
        payload: p.Payload
        if i % 4 == 3:
            payload = p.RegistrationSubmitted(registration_id=f"r{i}", activity_id=f"a{i % 300}")
        else:
            payload = p.CheckinRecorded(visit_id=f"v{i}", venue_id=f"{station}-ACT")
        event = new_event(
            payload,
            station_id=station,
            source="console:bench",
            occurred_at=now,
            resident=f"{i % 5000:032x}",
        )
        events.append(stamp_received(event, now, timedelta(minutes=5)))
    return events


#: the deployment key of the run: the bench signs with it, and its worker process verifies
SIGNING_KEY = secrets.token_bytes(32)
SIGNER = EventSigner(SIGNING_KEY)


def _plain_consumer(settings: Settings, topic: str) -> AIOKafkaConsumer:
    """An aiokafka consumer with its defaults, reading ``topic`` from the start, no group."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        max_poll_records=5000,
    )


async def _consume(settings: Settings, topic: str, n: int) -> float:
    """Seconds for a plain consumer to read ``n`` records in batches (``getmany``)."""
    consumer = _plain_consumer(settings, topic)
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += len(records)
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def _project(settings: Settings, topic: str, n: int) -> float:
    """Seconds for the worker's reader process and fold to fold ``n`` signed events."""
    keyed = settings.model_copy(update={"signing_key": SecretStr(SIGNING_KEY.hex())})
    partitions = [(topic, p) for p in range(settings.event_partitions)]
    reader = ReaderProcess(
        keyed,
        partitions,
        {},
        batch=FOLD_BATCH,
        wait_ms=FOLD_WAIT_MS,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    state = LiveState(load_network())
    try:
        await reader.start()
        started = time.perf_counter()
        while state.applied < n:
            frame = await reader.next()
            if isinstance(frame, Batch):
                invalid, _ = fold_batch(state, frame)
                if invalid:
                    raise RuntimeError(f"{invalid} records did not decode")
                # a view read per batch, as the worker's views (10 a second) do: occupancy is
                # then kept up to date event by event, as in the worker
                state.occupancy(datetime.now(UTC))
        return time.perf_counter() - started
    finally:
        await reader.stop()


async def _consume_each(settings: Settings, topic: str, n: int) -> float:
    """Seconds for a plain consumer to read ``n`` records one ``async for`` step at a time."""
    consumer = _plain_consumer(settings, topic)
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        async for _ in consumer:
            seen += 1
            if seen >= n:
                break
    finally:
        await consumer.stop()
    return time.perf_counter() - started


def _env(settings: Settings, prefix: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": prefix,
        "SANJIANG_VAR_DIR": str(var_dir),
        "SANJIANG_SIGNING_KEY": SIGNING_KEY.hex(),
        # as in the production stack: the warehouse sink is not this bench's subject
        "SANJIANG_API_HOSTS_SINK": "false",
    }


def _start(env: dict[str, str], command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sanjiang", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _pipeline(client: httpx2.AsyncClient, url: str) -> dict[str, Any]:
    """The worker's ``pipeline`` view through the API ({} until there is one)."""
    try:
        response = await client.get(url)
    except httpx2.HTTPError:
        return {}
    return dict(response.json()) if response.status_code == 200 else {}


async def run(
    settings: Settings, report: Report, n: int = 300_000, latency_seconds: int = 20
) -> None:
    prefix = f"bench-streams-{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix, settings.event_partitions)
    await ensure_topics(settings, topics)
    async with EventPublisher(settings, topics, SIGNER) as publisher:
        await publisher.publish_many(today_events(n))
    # The harness's own long-lived objects (the modules, the broker's client metadata) are kept
    # out of the collector, as the worker does with what it has after starting (``gc.freeze``):
    # else every full collection in either loop walks them.
    gc.collect()
    gc.freeze()

    rounds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(ROUNDS):
        rounds[False].append(await _consume(settings, topics.events, n))
        rounds[True].append(await _project(settings, topics.events, n))
    bare, folded = min(rounds[False]), min(rounds[True])

    def detail(fold: bool) -> str:
        each = ", ".join(f"{n / seconds:,.0f}" for seconds in rounds[fold])
        return f"{n:,} events, same topic, best of {ROUNDS} rounds ({each} events/s)"

    report.add(Figure("bare aiokafka consume loop", n / bare, "events/s", detail(False)))
    per_message = await _consume_each(settings, topics.events, n)
    report.add(
        Figure(
            "bare aiokafka consume loop, one message at a time",
            n / per_message,
            "events/s",
            f"{n:,} events, same topic, one round: ``async for message in consumer``, the loop "
            "of aiokafka's documentation; for context only, the target is judged against the "
            "batch loop above, the faster one, which the fold itself uses",
        )
    )
    report.add(
        Figure(
            "live projection (reader process + fold)",
            n / folded,
            "events/s",
            detail(True)
            + "; signed events, as the platform publishes them; the fold "
            + ("compiled (mypyc)" if is_compiled(state_module) else "as Python (not built)"),
            baseline="bare aiokafka consume loop",
            baseline_value=n / bare,
            target=f">= {TARGET_SHARE:.0%} of bare and >= {TARGET_EPS:,}/s",
            met=folded <= bare / TARGET_SHARE and n / folded >= TARGET_EPS,
        )
    )

    var_dir = Path(tempfile.mkdtemp(prefix="sj-bench-streams-"))
    port = 18_500 + os.getpid() % 400
    env = {**_env(settings, prefix, var_dir), "SANJIANG_API_PORT": str(port)}
    headers = _viewer(settings.model_copy(update={"var_dir": var_dir}))
    api, worker = _start(env, "api"), _start(env, "streams")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient(timeout=5, headers=headers) as client:
            deadline = time.monotonic() + 300
            pipeline: dict[str, Any] = {}
            while time.monotonic() < deadline:
                pipeline = await _pipeline(client, base + "/v1/live/pipeline")
                if int(pipeline.get("applied", 0)) >= n:
                    break
                await asyncio.sleep(0.05)
            if int(pipeline.get("applied", 0)) < n:
                raise RuntimeError(f"the worker applied {pipeline.get('applied')} of {n} events")
            fold = pipeline["fold"]
            worker_eps = fold["applied"] / max(1e-9, fold["seconds"])
        report.add(
            Figure(
                "Faust worker, end to end",
                worker_eps,
                "events/s",
                f"{fold['applied']:,} events in {fold['seconds']:.2f} s by the worker's own clock, "
                "from the start of its first batch to the end of the last (its reader process "
                "reads and verifies, it decodes and folds; the publish and checkpoint timers share "
                "its loop); the API beside it without the warehouse sink, as in the production "
                "stack",
                baseline="bare aiokafka consume loop",
                baseline_value=n / bare,
                target=f">= {TARGET_EPS:,}/s",
                met=worker_eps >= TARGET_EPS,
            )
        )
        latencies = await _sse_latency(settings, topics, base, n, latency_seconds, headers)
        p50 = statistics.median(latencies)
        p99 = statistics.quantiles(latencies, n=100)[98]
        report.add(
            Figure(
                "event-to-SSE latency p50",
                p50 * 1000,
                "ms",
                f"{len(latencies):,} events at 1,000/s",
            )
        )
        report.add(
            Figure(
                "event-to-SSE latency p99",
                p99 * 1000,
                "ms",
                f"{len(latencies):,} events at 1,000/s",
                target=f"<= {TARGET_P99_S * 1000:.0f} ms",
                met=p99 <= TARGET_P99_S,
            )
        )
    finally:
        for process in (worker, api):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _viewer(settings: Settings) -> dict[str, str]:
    """A viewer's bearer token for the bench's API (its var folder's staff database and key)."""
    from api.access.tokens import TokenIssuer
    from api.access.users import UserStore, connect
    from api.services import auth_key, staff_db_path

    store = UserStore(connect(staff_db_path(settings)))
    try:
        user = store.add("bench", "viewer", secrets.token_urlsafe(16))
    finally:
        store.close()
    token, _ = TokenIssuer(auth_key(settings)).issue(
        user.username, user.token_version, "access", 7200
    )
    return {"Authorization": f"Bearer {token}"}


async def _sse_latency(
    settings: Settings,
    topics: Topics,
    base: str,
    already: int,
    seconds: int,
    headers: dict[str, str],
) -> list[float]:
    rate = 1000
    events = today_events(rate * seconds)
    sent_at: list[float] = []
    done = asyncio.Event()
    arrivals: list[tuple[float, int]] = []

    async def listen() -> None:
        async with (
            httpx2.AsyncClient(timeout=None, headers=headers) as client,
            client.stream("GET", base + "/v1/live/stream") as response,
        ):
            event_name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event_name = line[7:]
                elif line.startswith("data: ") and event_name == "pipeline":
                    arrivals.append(
                        (time.perf_counter(), int(orjson.loads(line[6:])["applied"]) - already)
                    )
                    if arrivals[-1][1] >= len(events):
                        done.set()
                        return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(1.0)
    producer = make_producer(settings, linger_ms=0)
    await producer.start()
    try:
        start = time.perf_counter()
        for i, event in enumerate(events):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at.append(time.perf_counter())
            value = encode_event(event)
            await producer.send(topics.events, value, key=event.key, headers=SIGNER.headers(value))
        await producer.flush()
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await producer.stop()
        listener.cancel()
    latencies = []
    index = 0
    for moment, applied in arrivals:
        while index < min(applied, len(sent_at)):
            latencies.append(moment - sent_at[index])
            index += 1
    return latencies
