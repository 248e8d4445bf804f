"""Producer throughput to the broker: the project's publisher beside a bare aiokafka loop.

Three loops over the same events in the same run, each to its own fresh topic:
- ``publisher``: ``EventPublisher.publish_many`` — pydantic encoding, acks=all, idempotence, lz4;
- ``project settings, raw``: the same producer settings on pre-encoded bytes (no encoding cost);
- ``bare aiokafka``: a default ``AIOKafkaProducer`` (acks=1, no compression) on the same bytes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from bench.report import Figure, Report
from sanjiang.events import Event, encode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings

ROUNDS = 2


def sample_events(n: int) -> list[Event]:
    """A check-in heavy mix like a busy afternoon, spread over the 28 residential stations."""
    start = datetime(2026, 11, 20, 14, tzinfo=UTC)
    events: list[Event] = []
    for i in range(n):
        station = f"WS-R{i % 28 + 1:02d}"
        when = start + timedelta(milliseconds=i * 10)
        payload: p.Payload
        if i % 10 < 7:
            payload = p.CheckinRecorded(
                visit_id=f"v{i}",
                venue_id=f"{station}-ROOM",
                activity_id=f"a{i % 300}",
                age_band="60-69",
            )
        elif i % 10 < 9:
            payload = p.RegistrationSubmitted(registration_id=f"r{i}", activity_id=f"a{i % 300}")
        else:
            payload = p.EvaluationSubmitted(activity_id=f"a{i % 300}", rating=i % 5 + 1)
        resident = uuid.UUID(int=i).hex
        events.append(
            new_event(
                payload,
                station_id=station,
                source="kiosk:bench",
                occurred_at=when,
                resident=resident,
            )
        )
    return events


async def _timed_send(
    producer: AIOKafkaProducer, topic: str, messages: list[tuple[bytes, bytes]]
) -> float:
    """Seconds to send every message pipelined and have all acknowledged; stops the producer."""
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def _bare_loop(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """A default aiokafka producer (acks=1, no compression)."""
    return await _timed_send(
        AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers), topic, messages
    )


async def _project_raw(
    settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]
) -> float:
    """The project's producer settings on pre-encoded bytes."""
    return await _timed_send(make_producer(settings), topic, messages)


async def _publisher(settings: Settings, topics: Topics, events: list[Event]) -> float:
    async with EventPublisher(settings, topics) as publisher:
        started = time.perf_counter()
        await publisher.publish_many(events)
        return time.perf_counter() - started


async def run(settings: Settings, report: Report, n: int) -> None:
    """Measure the three loops on ``n`` events and add the figures to ``report``."""
    events = sample_events(n)
    messages = [(e.key, encode_event(e)) for e in events]
    size = sum(len(v) for _, v in messages) / len(messages)
    # warm-up so connection set-up, metadata and the broker's JIT are not in the timings
    warm = Topics(f"bench-warm-{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings, warm)
    await _bare_loop(settings, warm.events, messages[: min(n, 20_000)])

    best: dict[str, float] = {}
    for _ in range(ROUNDS):  # interleaved rounds, best of each, so drift hits all loops alike
        topics = {
            name: Topics(f"bench-{name}-{uuid.uuid4().hex[:8]}") for name in ("pub", "raw", "bare")
        }
        for t in topics.values():
            await ensure_topics(settings, t)
        timings = {
            "bare": await _bare_loop(settings, topics["bare"].events, messages),
            "raw": await _project_raw(settings, topics["raw"].events, messages),
            "pub": await _publisher(settings, topics["pub"], events),
        }
        for name, seconds in timings.items():
            best[name] = min(best.get(name, seconds), seconds)
    bare, raw, published = best["bare"], best["raw"], best["pub"]

    detail = f"{n:,} events of {size:.0f} B, best of {ROUNDS}"
    report.add(
        Figure("bare aiokafka producer", n / bare, "events/s", detail + ", acks=1, no compression")
    )
    report.add(
        Figure(
            "project producer settings",
            n / raw,
            "events/s",
            detail + ", pre-encoded, acks=all, idempotent, lz4",
            baseline="bare aiokafka",
            baseline_value=n / bare,
        )
    )
    report.add(
        Figure(
            "EventPublisher (encode + produce)",
            n / published,
            "events/s",
            detail + ", pydantic encoding included",
            baseline="bare aiokafka",
            baseline_value=n / bare,
        )
    )
