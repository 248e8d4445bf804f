"""Events as warehouse rows: the typed columns queries filter on, plus the full payload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from projections.warehouse import ch_datetime
from sanjiang.events import Event

_TEXT_FIELDS = (
    "venue_id",
    "activity_id",
    "booking_id",
    "registration_id",
    "visit_id",
    "demand_id",
    "category",
    "program",
    "age_band",
)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else ch_datetime(value)


def event_row(event: Event, partition: int = -1, offset: int = -1) -> dict[str, Any]:
    """The ``events`` row of one event (``partition``/``offset`` -1 when not from Kafka)."""
    payload = event.payload
    fields = payload.__dict__
    row: dict[str, Any] = {
        "event_id": str(event.event_id),
        "type": event.type,
        "schema_version": event.schema_version,
        "occurred_at": _ts(event.occurred_at),
        "received_at": _ts(event.received_at or event.occurred_at),
        "station_id": event.station_id,
        "source": event.source,
        "resident": event.resident or "",
        "late": event.late,
        "rating": fields.get("rating") or 0,
        "capacity": fields.get("capacity") or 0,
        "starts_at": _ts(fields.get("starts_at")),
        "ends_at": _ts(fields.get("ends_at")),
        "minor": bool(fields.get("minor", False)),
        "payload": payload.model_dump_json(),
        "kafka_partition": partition,
        "kafka_offset": offset,
    }
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        row[name] = value if isinstance(value, str) else ""
    return row


def encode_rows(rows: list[dict[str, Any]]) -> bytes:
    """JSONEachRow body for ``Warehouse.insert_json_rows``."""
    return b"\n".join(orjson.dumps(r) for r in rows)
