"""HTTP ingest throughput beside a no-op endpoint of the same app, and SDK-to-Kafka delivery.

The API runs under uvicorn in its own process (one worker), the client in this process, the
broker in a third: all on the same 2 cores, as they would be on one small server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2

from api.keys import KeyStore
from api.services import key_store_path
from bench.report import Figure, Report
from producers.delivery import Deliverer
from producers.outbox import Outbox
from producers.transport import KafkaTransport
from sanjiang.events import Event, encode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings

STATION, KIOSK = "WS-R03", "WS-R03-K1"
TARGET_BATCH_EPS = 20_000


def kiosk_events(n: int) -> list[Event]:
    now = datetime.now(UTC) - timedelta(minutes=1)
    return [
        new_event(
            p.CheckinRecorded(
                visit_id=f"v{i}",
                venue_id=f"{STATION}-ROOM1",
                activity_id=f"a{i % 50}",
                age_band="60-69",
            ),
            station_id=STATION,
            source=f"kiosk:{KIOSK}",
            occurred_at=now - timedelta(milliseconds=i),  # all in the past: never "from the future"
            resident=uuid.UUID(int=i).hex,
        )
        for i in range(n)
    ]


async def _post_all(
    url: str, key: str, bodies: Sequence[bytes], concurrency: int, content_type: str
) -> float:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures: list[str] = []

    async def worker(client: httpx2.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post(url, content=body, headers=headers)
            if response.status_code != 202:
                failures.append(f"{response.status_code} {response.text[:200]}")

    limits = httpx2.Limits(max_connections=concurrency)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed


def _start_api(settings: Settings, port: int, hosts_sink: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": settings.topic_prefix,
        "SANJIANG_VAR_DIR": str(settings.var_dir),
        "SANJIANG_INGEST_RATE_PER_KEY": "1000000000",
        "SANJIANG_INGEST_BURST_PER_KEY": "1000000000",
        "SANJIANG_API_HOSTS_SINK": "true" if hosts_sink else "false",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.ingest_app:factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )


async def _wait_ready(url: str) -> None:
    async with httpx2.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"API did not come up at {url}")


async def run(settings: Settings, report: Report, batch_events: int, single_requests: int) -> None:
    """HTTP ingest (batch and single) vs the no-op endpoint; then SDK outbox to Kafka."""
    prefix = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(
        update={"topic_prefix": prefix, "var_dir": Path(tempfile.mkdtemp(prefix="sj-bench-"))}
    )
    await ensure_topics(settings, Topics.from_settings(settings))
    store = KeyStore(key_store_path(settings))
    key = store.add(KIOSK, STATION)
    store.close()
    port = 18_000 + os.getpid() % 1000
    server = _start_api(settings, port, hosts_sink=False)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base + "/healthz")
        batch = 1000
        events = kiosk_events(batch_events + single_requests + 20_000)
        warm, events = events[:20_000], events[20_000:]
        bodies = [
            b"\n".join(encode_event(e) for e in warm[i : i + batch])
            for i in range(0, len(warm), batch)
        ]
        await _post_all(base + "/v1/events", key, bodies, 4, "application/x-ndjson")  # warm-up

        batched = events[:batch_events]
        bodies = [
            b"\n".join(encode_event(e) for e in batched[i : i + batch])
            for i in range(0, len(batched), batch)
        ]
        noop_batch = await _post_all(base + "/bench/noop", key, bodies, 4, "application/x-ndjson")
        real_batch = await _post_all(base + "/v1/events", key, bodies, 4, "application/x-ndjson")
        singles = [encode_event(e) for e in events[batch_events:]]
        noop_single = await _post_all(base + "/bench/noop", key, singles, 16, "application/json")
        real_single = await _post_all(base + "/v1/events", key, singles, 16, "application/json")
    finally:
        server.terminate()
        server.wait(30)

    # the embedded one-box profile: the API also runs the warehouse sink (chDB) in its process
    embedded = kiosk_events(batch_events)
    bodies = [
        b"\n".join(encode_event(e) for e in embedded[i : i + batch])
        for i in range(0, len(embedded), batch)
    ]
    server = _start_api(settings, port, hosts_sink=True)
    try:
        await _wait_ready(base + "/healthz")
        with_sink = await _post_all(base + "/v1/events", key, bodies, 4, "application/x-ndjson")
    finally:
        server.terminate()
        server.wait(30)

    n_batch, n_single = len(batched), len(singles)
    report.add(
        Figure(
            "HTTP ingest, batches, API with the warehouse sink in-process (embedded profile)",
            len(embedded) / with_sink,
            "events/s",
            f"{len(embedded):,} events, same batches; the sink writes chDB on the same 2 cores",
        )
    )
    report.add(
        Figure(
            "HTTP ingest, batches",
            n_batch / real_batch,
            "events/s",
            f"{n_batch:,} events in NDJSON batches of {batch}, 4 concurrent, acked by Kafka; "
            "API without the sink (as with a ClickHouse server)",
            baseline="no-op endpoint, same app and bodies",
            baseline_value=n_batch / noop_batch,
            target=f">= {TARGET_BATCH_EPS:,} events/s",
            met=n_batch / real_batch >= TARGET_BATCH_EPS,
        )
    )
    report.add(
        Figure(
            "HTTP ingest, single events",
            n_single / real_single,
            "events/s",
            f"{n_single:,} requests of one event, 16 concurrent",
            baseline="no-op endpoint",
            baseline_value=n_single / noop_single,
        )
    )
    await _sdk_to_kafka(settings, report, 50_000)


async def _sdk_to_kafka(settings: Settings, report: Report, n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sj-outbox-"))
    outbox = Outbox(folder / "kiosk.db")
    events = kiosk_events(n)
    started = time.perf_counter()
    for event in events[:2000]:
        outbox.put(event)  # one durable transaction per event, as a kiosk does
    single_put = time.perf_counter() - started
    outbox.put_many(events[2000:])
    deliverer = Deliverer(outbox, KafkaTransport(settings), batch_size=1000, idle_s=0.0)
    started = time.perf_counter()
    drained = await deliverer.drain(timeout_s=300)
    elapsed = time.perf_counter() - started
    if not drained:
        raise RuntimeError("the outbox did not drain")
    report.add(
        Figure(
            "kiosk outbox put (durable, one event per transaction)",
            2000 / single_put,
            "events/s",
            "SQLite WAL, synchronous=FULL",
        )
    )
    report.add(
        Figure(
            "kiosk SDK to Kafka",
            n / elapsed,
            "events/s",
            f"{n:,} events from the outbox, batches of 1000, KafkaTransport",
        )
    )
