"""Through the real broker: every event type comes back identical; station keys keep order."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sanjiang.events import EVENT_TYPES, Event, decode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.ids import uuid7
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from tests.integration.kafka_helpers import consume, run
from tests.strategies import events

pytestmark = pytest.mark.integration


def test_every_event_type_roundtrips_through_kafka(
    kafka_settings: Settings, topics: Topics, group_id: str
) -> None:
    sample: list[Event] = []

    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        for name in sorted(EVENT_TYPES):
            # fresh ids: hypothesis may draw the same id twice, the log would hold both
            sample.append(data.draw(events(name)).model_copy(update={"event_id": uuid7()}))

    collect()
    assert {e.type for e in sample} == set(EVENT_TYPES)

    async def scenario() -> tuple[list[object], list[object]]:
        async with EventPublisher(kafka_settings, topics) as publisher:
            await publisher.publish_many(sample)
        domain = [e for e in sample if e.type != "kiosk.heartbeat"]
        got_events = await consume(kafka_settings, topics.events, group_id, len(domain))
        got_telemetry = await consume(
            kafka_settings, topics.telemetry, group_id + "-t", len(sample) - len(domain)
        )
        return got_events, got_telemetry

    records_events, records_telemetry = run(scenario())
    decoded = {
        e.event_id: e for e in (decode_event(r.value) for r in records_events + records_telemetry)
    }
    assert len(records_events) + len(records_telemetry) == len(sample)
    for original in sample:
        assert decoded[original.event_id] == original
    for record in records_events + records_telemetry:
        assert record.key == decode_event(record.value).station_id.encode()
    assert all(decode_event(r.value).type == "kiosk.heartbeat" for r in records_telemetry)


def test_station_keys_keep_per_station_order(
    kafka_settings: Settings, topics: Topics, group_id: str
) -> None:
    stations = [f"WS-R{n:02d}" for n in range(1, 13)]
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    sent: list[Event] = []
    for i in range(600):
        station = stations[(i * 7) % len(stations)]
        sent.append(
            new_event(
                p.CheckinRecorded(visit_id=f"v{i}", venue_id=f"{station}-ROOM"),
                station_id=station,
                source="kiosk:k1",
                occurred_at=start + timedelta(seconds=i),
                resident=f"{i:032x}",
            )
        )

    async def scenario() -> list[object]:
        async with EventPublisher(kafka_settings, topics) as publisher:
            await publisher.publish_many(sent)
        return await consume(kafka_settings, topics.events, group_id, len(sent))

    records = run(scenario())
    assert len(records) == len(sent)
    partitions: dict[str, set[int]] = defaultdict(set)
    received: dict[str, list[str]] = defaultdict(list)
    for record in records:
        event = decode_event(record.value)
        partitions[event.station_id].add(record.partition)
        received[event.station_id].append(str(event.event_id))
    for station in stations:
        assert len(partitions[station]) == 1, f"{station} spread over {partitions[station]}"
        expected = [str(e.event_id) for e in sent if e.station_id == station]
        assert received[station] == expected
    assert len({next(iter(s)) for s in partitions.values()}) > 1  # stations do spread out


def test_dead_letter_keeps_the_shape_and_reason(
    kafka_settings: Settings, topics: Topics, group_id: str
) -> None:
    async def scenario() -> list[object]:
        async with EventPublisher(kafka_settings, topics) as publisher:
            await publisher.dead_letter(
                b'{"type": "nope", "note": "Zhang San"}', "unknown_type", "type: unknown", "test"
            )
        return await consume(kafka_settings, topics.deadletter, group_id, 1)

    (record,) = run(scenario())
    assert record.value == b'{"type":"nope","note":"<redacted: 9 chars>"}'
    headers = dict(record.headers)
    assert headers["reason"] == b"unknown_type"
    assert headers["origin"] == b"test"
