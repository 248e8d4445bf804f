"""The ops sink against the real broker and chDB: live views, alerts, dead letters and
heartbeats land in their tables, re-delivery adds nothing, and offsets are sampled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from projections.migrate import migrate
from projections.ops_sink import OpsSink
from projections.warehouse import ChdbWarehouse
from sanjiang.events import payloads as p
from sanjiang.events.codec import encode_event, new_event, stamp_received
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def heartbeat(kiosk: str, minutes: int) -> bytes:
    when = NOW - timedelta(minutes=minutes)
    event = new_event(
        p.KioskHeartbeat(kiosk_id=kiosk, app_version="2.4.1", outbox_pending=minutes),
        station_id="WS-R03",
        source=f"kiosk:{kiosk}",
        occurred_at=when,
    )
    return encode_event(stamp_received(event, when, timedelta(minutes=10)))


async def produce(settings: Settings, topics: Topics) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for as_of, people in ((NOW - timedelta(seconds=1), 3), (NOW, 5)):
            view = {"view": "venues", "as_of": as_of.isoformat(), "occupancy": {"WS-C-GYM": people}}
            await producer.send_and_wait(topics.live, orjson.dumps(view), key=b"venues")
        alert = {
            "key": "kiosk_offline:K9",
            "kind": "kiosk_offline",
            "severity": "medium",
            "scope": "kiosk:K9",
            "reason": "silent",
            "started_at": NOW.isoformat(),
            "ended_at": None,
        }
        await producer.send_and_wait(topics.alerts, orjson.dumps(alert), key=b"kiosk_offline:K9")
        closed = {**alert, "ended_at": (NOW + timedelta(minutes=5)).isoformat()}
        await producer.send_and_wait(topics.alerts, orjson.dumps(closed), key=b"kiosk_offline:K9")
        await producer.send_and_wait(topics.live, b"not json", key=b"broken")
        for minutes in (0, 1, 2):
            await producer.send_and_wait(topics.telemetry, heartbeat("WS-R03-K1", minutes))
    finally:
        await producer.stop()
    async with EventPublisher(settings, topics) as publisher:
        await publisher.dead_letter(b"{oops", "invalid_json", "line 1: expected value", "api")


async def run_until(sink: OpsSink, done: object, timeout_s: float = 30.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline and not done():  # type: ignore[operator]
        await asyncio.sleep(0.2)
    stop.set()
    await task


def test_ops_topics_land_in_their_tables_once(
    kafka_settings: Settings, topics: Topics, group_id: str, tmp_path: Path
) -> None:
    settings = kafka_settings.model_copy(update={"topic_prefix": topics.prefix})
    warehouse = ChdbWarehouse(tmp_path / "wh")
    try:
        migrate(warehouse)
        asyncio.run(produce(settings, topics))
        sink = OpsSink(settings, warehouse, topics, group_id=group_id, offsets_every_s=0.5)
        expected = {"live_views": 2, "alerts": 2, "kiosk_heartbeats": 3, "dead_letters": 1}
        asyncio.run(
            run_until(
                sink, lambda: dict(sink.stats.written) == expected and sink.stats.offset_samples
            )
        )
        assert dict(sink.stats.written) == expected
        assert sink.stats.bad_records == 1  # the broken live record: counted, not written

        def one(sql: str) -> list[object]:
            return warehouse.query(sql).rows[0]

        db = warehouse.database
        latest = one(f"SELECT argMax(document, as_of) FROM {db}.live_views WHERE view = 'venues'")
        assert '"WS-C-GYM":5' in str(latest[0])  # the latest document wins
        assert one(f"SELECT count(), countIf(ended_at IS NOT NULL) FROM {db}.alerts FINAL") == [
            1,
            1,
        ]
        reason, detail, body = one(f"SELECT reason, detail, body FROM {db}.dead_letters")
        assert (reason, detail) == ("invalid_json", "line 1: expected value")
        assert orjson.loads(str(body))["redacted"] == "not JSON"  # its bytes are not kept
        assert one(f"SELECT count(), max(outbox_pending) FROM {db}.kiosk_heartbeats") == [3, 2]
        partitions = one(f"SELECT uniqExact(partition) FROM {db}.topic_offsets")[0]
        assert partitions == settings.event_partitions

        # a second group re-reads everything: the copies collapse to the same rows
        again = OpsSink(settings, warehouse, topics, group_id=group_id + "-again")
        asyncio.run(run_until(again, lambda: dict(again.stats.written) == expected))
        assert one(f"SELECT count() FROM {db}.alerts FINAL") == [1]
        assert one(f"SELECT count() FROM {db}.kiosk_heartbeats FINAL") == [3]
        assert one(f"SELECT count() FROM {db}.dead_letters FINAL") == [1]
        assert one(f"SELECT count() FROM {db}.live_views FINAL") == [1]
    finally:
        warehouse.close()
