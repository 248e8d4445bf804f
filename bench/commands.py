"""Commands: round trip through the API and the deciders, and decisions/s at saturation.

- Round trip (request -> decision -> answer) of ``POST /v1/commands`` at a steady 200
  commands/s, p50 and p99, after five seconds of warm-up at the same rate; beside it, plain
  ingest (``POST /v1/events``, one event a request) at the same rate, on the same API and
  broker: a kiosk's check-in, since devices may no longer send the demands the commands ask
  for.
- The same round trip without HTTP: commands written to the command topic at 200/s and their
  answers read from the replies topic (the deciders' part of the round trip).
- Decisions/s at saturation: commands written straight to the command topic, timed from the
  first answer to the last on the replies topic (the deciders alone, no HTTP).

The API (no warehouse sink) and one deciders worker run as processes of their own, as in the
production stack.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
from aiokafka import TopicPartition

from api.access.tokens import TokenIssuer
from api.access.users import UserStore, connect
from api.commandbus import CommandBus
from api.keys import KeyStore
from api.services import auth_key, key_store_path, staff_db_path
from bench.report import Figure, Report
from sanjiang.commands.model import COMMAND, Command
from sanjiang.events import encode_event, new_event
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7
from sanjiang.kafka.client import make_consumer, make_producer
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.network import load_network
from sanjiang.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
STATIONS = [s.id for s in load_network().stations]
RATE = 200
#: requests sent at the rate before the timed ones, not counted (five seconds' worth: the
#: deciders settle after their first decisions — a snapshot, Faust's first commits)
WARM_UP = 1000


def _start(settings: Settings, command: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": settings.topic_prefix,
        "SANJIANG_VAR_DIR": str(settings.var_dir),
        "SANJIANG_API_PORT": str(port),
        "SANJIANG_API_HOSTS_SINK": "false",
        "SANJIANG_INGEST_RATE_PER_KEY": "1000000000",
        "SANJIANG_INGEST_BURST_PER_KEY": "1000000000",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "sanjiang", command],
        cwd=ROOT,
        env=env,
        stdout=(settings.var_dir / f"{command}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def _admin_token(settings: Settings) -> str:
    store = UserStore(connect(staff_db_path(settings)))
    try:
        store.add("bench", "admin", "bench password 1234", None)
        user = store.get("bench")
    finally:
        store.close()
    assert user is not None
    token, _ = TokenIssuer(auth_key(settings)).issue("bench", user.token_version, "access", 3600)
    return token


def _submit(i: int, tag: str) -> dict[str, Any]:
    return {
        "station_id": STATIONS[i % len(STATIONS)],
        "command": {
            "kind": "demand.submit",
            "demand_id": f"{tag}-{i}",
            "category": "handcraft",
            "resident": f"{i + 1:032x}",
        },
    }


async def _paced(n: int, send: Any) -> list[float]:
    """Send ``n`` requests at RATE a second; the latency of each, in ms."""
    latencies: list[float] = []
    start = time.perf_counter()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i / RATE - time.perf_counter()))
        began = time.perf_counter()
        await send(i)
        latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def _command(i: int, tag: str) -> Command:
    """A command as the API writes it."""
    body = _submit(i, tag)
    return COMMAND.validate_python(
        {
            "command_id": uuid7(),
            "station_id": body["station_id"],
            "issued_at": datetime.now(UTC),
            "actor": "bench",
            "role": "admin",
            "source": "console:bench",
            "body": body["command"],
        }
    )


async def _direct(settings: Settings, n: int) -> list[float]:
    """The round trip without HTTP: the API's own command bus (command topic, acknowledged,
    then the answer from the replies topic) at RATE a second; ms each."""
    bus = CommandBus(settings)
    await bus.start()
    try:
        return await _paced(n, lambda i: bus.ask(_command(i, "direct")))
    finally:
        await bus.stop()


async def _saturation(settings: Settings, topics: Topics, n: int) -> float:
    """Decisions/s: ``n`` commands written to the command topic, first to last answer."""
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    tp = TopicPartition(topics.replies, 0)
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    await consumer.position(tp)
    producer = make_producer(settings)
    await producer.start()
    try:
        for i in range(n):
            command = _command(i, "sat")
            await producer.send(
                topics.commands, command.model_dump_json().encode(), key=command.key
            )
        await producer.flush()
        seen, first = 0, None
        while seen < n:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            got = len(batch.get(tp, []))
            if got and first is None:
                first = time.perf_counter()
            seen += got
        assert first is not None
        return n / (time.perf_counter() - first)
    finally:
        await producer.stop()
        await consumer.stop()


async def _round_trips(url: str, token: str, kiosk: str, n: int) -> tuple[list[float], list[float]]:
    """Commands, then plain ingest, through HTTP at RATE a second (after a warm-up each); ms.

    The load generator is aiohttp (C-accelerated HTTP parsing): on two cores shared with the
    API, the broker and the worker, a heavier client's own CPU shows up as latency."""
    gc.freeze()  # the load generator's own full collections would count as latency too
    headers = {"Authorization": f"Bearer {token}"}
    ingest_headers = {"Authorization": f"Bearer {kiosk}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def command(i: int) -> None:
            async with session.post("/v1/commands", json=_submit(i, "rt"), headers=headers) as r:
                assert r.status == 200, await r.text()

        async def ingest(i: int) -> None:
            event = new_event(  # a fact (devices may no longer send the decision)
                p.CheckinRecorded(visit_id=f"in-{i}", venue_id="WS-R03-ACT"),
                station_id="WS-R03",
                source="kiosk:WS-R03-K1",
                occurred_at=datetime.now(UTC),
                resident=f"{i + 1:032x}",
            )
            body = encode_event(event)
            async with session.post("/v1/events", data=body, headers=ingest_headers) as r:
                assert r.status == 202, await r.text()

        await _paced(WARM_UP, lambda i: command(n + i))  # connections, caches: not timed
        commands = await _paced(n, command)
        await _paced(WARM_UP, lambda i: ingest(n + i))
        plain = await _paced(n, ingest)
    return commands, plain


async def run(settings: Settings, report: Report, n: int, saturation: int) -> None:
    prefix = f"bench-commands-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(
        update={"topic_prefix": prefix, "var_dir": Path(tempfile.mkdtemp(prefix="sj-bench-"))}
    )
    topics = Topics.from_settings(settings)
    await ensure_topics(settings, topics)
    token = _admin_token(settings)
    store = KeyStore(key_store_path(settings))
    kiosk = store.add("WS-R03-K1", "WS-R03")
    store.close()
    port = 18765
    api = _start(settings, "api", port)
    deciders = _start(settings, "deciders", port)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient(base_url=url, timeout=60) as client:
            for _ in range(600):  # until the API answers and the deciders decide
                try:
                    probe = await client.post(
                        "/v1/commands",
                        json={
                            "station_id": "WS-C",
                            "command": {"kind": "demand.close", "demand_id": "probe"},
                        },
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if probe.status_code == 404:
                        break
                except httpx2.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the API or the deciders never answered")
        latencies, plain = await _round_trips(url, token, kiosk, n)
        direct = await _direct(settings, n)
        rate = await _saturation(settings, topics, saturation)
    finally:
        for process in (api, deciders):
            process.terminate()
            process.wait(30)
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    plain_p50, plain_p99 = _percentile(plain, 50), _percentile(plain, 99)
    report.add(
        Figure(
            "command round trip p50",
            p50,
            "ms",
            f"POST /v1/commands at {RATE}/s, {n:,} commands",
            baseline="plain ingest p50 (POST /v1/events, same rate)",
            baseline_value=plain_p50,
        )
    )
    report.add(
        Figure(
            "command round trip p99",
            p99,
            "ms",
            f"POST /v1/commands at {RATE}/s, {n:,} commands",
            baseline="plain ingest p99",
            baseline_value=plain_p99,
            target="<= 150 ms",
            met=p99 <= 150,
        )
    )
    report.add(
        Figure(
            "command round trip p99 without HTTP",
            _percentile(direct, 99),
            "ms",
            f"the API's command bus without HTTP at {RATE}/s (command topic, replies topic), "
            f"{n:,} commands (p50 {_percentile(direct, 50):.1f} ms): the deciders' part",
        )
    )
    report.add(
        Figure(
            "decisions at saturation",
            rate,
            "decisions/s",
            f"{saturation:,} commands on the command topic, one worker",
            target=">= 2,000/s",
            met=rate >= 2000,
        )
    )
