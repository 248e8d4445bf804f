"""The ops sink: copies the operational topics into the warehouse tables the dashboards read
(migration 0010) — the stream worker's live views and alerts, dead letters and kiosk
heartbeats — and samples the events topic's end offsets so the sink's lag can be charted.

Offsets are committed only after the rows are written; every table's sorting key is the
record's identity, so a crash between write and commit writes a row twice and the copy
collapses on merge (queries read with FINAL or argMax). A record that cannot be parsed is
counted and logged with its position; it stays in Kafka, which remains the record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import TopicPartition

from projections.warehouse import Warehouse, ch_datetime
from sanjiang.kafka.client import make_consumer
from sanjiang.kafka.deadletter import Rejection
from sanjiang.kafka.security import OPS_GROUP
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings

log = logging.getLogger(__name__)
BODY_LIMIT = 4000  #: characters of a dead letter's body kept for display


class BadRecordError(ValueError):
    """An operational record that cannot be turned into a row."""


def _moment(text: Any) -> str:
    try:
        return ch_datetime(datetime.fromisoformat(str(text)))
    except ValueError:
        raise BadRecordError(f"not an ISO date-time: {text!r}") from None


def live_view_row(key: bytes | None, value: bytes) -> dict[str, Any]:
    """A ``<prefix>.live`` record: the view's latest document."""
    document = orjson.loads(value)
    if key is None or not isinstance(document, dict) or "as_of" not in document:
        raise BadRecordError("a live view needs a key and an as_of")
    return {"view": key.decode(), "as_of": _moment(document["as_of"]), "document": value.decode()}


def alert_row(value: bytes, offset: int) -> dict[str, Any]:
    """A ``<prefix>.alerts`` record (an alert opening, or closing with ``ended_at``)."""
    alert = orjson.loads(value)
    try:
        return {
            "key": alert["key"],
            "kind": alert["kind"],
            "severity": alert["severity"],
            "scope": alert["scope"],
            "reason": alert["reason"],
            "started_at": _moment(alert["started_at"]),
            "ended_at": None if alert.get("ended_at") is None else _moment(alert["ended_at"]),
            "version": offset,
        }
    except (KeyError, TypeError) as exc:
        raise BadRecordError(f"alert without {exc}") from None


def dead_letter_row(
    value: bytes | None, headers: Iterable[tuple[str, bytes]] | None, partition: int, offset: int
) -> dict[str, Any]:
    """A ``<prefix>.deadletter`` record: why it was rejected is in its headers."""
    rejection = Rejection.from_headers(headers)
    return {
        "rejected_at": ch_datetime(rejection.rejected_at or datetime.now(UTC)),
        "reason": rejection.reason,
        "detail": rejection.detail,
        "origin": rejection.origin,
        "body": (value or b"").decode("utf-8", "replace")[:BODY_LIMIT],
        "kafka_partition": partition,
        "kafka_offset": offset,
    }


def heartbeat_row(value: bytes) -> dict[str, Any]:
    """A ``kiosk.heartbeat`` event from ``<prefix>.telemetry`` (validated on ingest)."""
    event = orjson.loads(value)
    try:
        if event["type"] != "kiosk.heartbeat":
            raise BadRecordError(f"unexpected {event['type']!r} on the telemetry topic")
        payload = event["payload"]
        return {
            "occurred_at": _moment(event["occurred_at"]),
            "received_at": _moment(event.get("received_at") or event["occurred_at"]),
            "kiosk_id": payload["kiosk_id"],
            "station_id": event["station_id"],
            "app_version": payload.get("app_version", ""),
            "outbox_pending": int(payload.get("outbox_pending", 0)),
            "uptime_s": int(payload.get("uptime_s", 0)),
        }
    except (KeyError, TypeError) as exc:
        raise BadRecordError(f"heartbeat without {exc}") from None


@dataclass
class OpsStats:
    written: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bad_records: int = 0
    offset_samples: int = 0


class OpsSink:
    """Live views, alerts, dead letters and heartbeats -> warehouse tables."""

    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        topics: Topics | None = None,
        group_id: str = OPS_GROUP,
        offsets_every_s: float = 15.0,
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.topics = topics or Topics.from_settings(settings)
        self.group_id = group_id
        self.offsets_every_s = offsets_every_s
        self._report = report
        self.stats = OpsStats()

    def rows(self, records: list[Any]) -> dict[str, list[dict[str, Any]]]:
        """Warehouse rows by table for a batch of Kafka records (bad ones counted, skipped)."""
        t = self.topics
        tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            try:
                if r.topic == t.live:
                    tables["live_views"].append(live_view_row(r.key, r.value))
                elif r.topic == t.alerts:
                    tables["alerts"].append(alert_row(r.value, r.offset))
                elif r.topic == t.deadletter:
                    tables["dead_letters"].append(
                        dead_letter_row(r.value, r.headers, r.partition, r.offset)
                    )
                elif r.topic == t.telemetry:
                    tables["kiosk_heartbeats"].append(heartbeat_row(r.value))
            except (BadRecordError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
                self.stats.bad_records += 1
                log.warning("ops sink: skipped %s[%s]@%s: %s", r.topic, r.partition, r.offset, exc)
        return tables

    def write(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        db = self.warehouse.database
        for table, rows in tables.items():
            if rows:
                self.warehouse.insert_json_rows(
                    f"{db}.{table}", b"\n".join(orjson.dumps(row) for row in rows)
                )
                self.stats.written[table] += len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, writing about once a second."""
        t = self.topics
        consumer = make_consumer(
            self.settings, t.live, t.alerts, t.deadletter, t.telemetry, group_id=self.group_id
        )
        await consumer.start()
        self._report(f"ops sink: consuming live, alerts, dead letters, telemetry ({self.group_id})")
        next_sample = 0.0
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                records = [r for part in batch.values() for r in part]
                if records:
                    await asyncio.to_thread(self.write, self.rows(records))
                    await consumer.commit()
                if time.monotonic() >= next_sample:
                    next_sample = time.monotonic() + self.offsets_every_s
                    try:
                        await self._sample_offsets(consumer)
                    except Exception as exc:  # a sample is best effort; the copy goes on
                        log.warning("ops sink: could not sample offsets: %r", exc)
        finally:
            await consumer.stop()

    async def _sample_offsets(self, consumer: Any) -> None:
        topic = self.topics.events
        # the layout is ours (ensure_topics creates it from the same settings)
        partitions = [TopicPartition(topic, p) for p in range(self.topics.event_partitions)]
        ends = await consumer.end_offsets(partitions)
        now = ch_datetime(datetime.now(UTC))
        rows = [
            {"sampled_at": now, "topic": topic, "partition": tp.partition, "end_offset": ends[tp]}
            for tp in partitions
        ]
        await asyncio.to_thread(
            self.warehouse.insert_json_rows,
            f"{self.warehouse.database}.topic_offsets",
            b"\n".join(orjson.dumps(r) for r in rows),
        )
        self.stats.offset_samples += 1
