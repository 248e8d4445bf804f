"""Reading and writing events: JSON bytes <-> models, with upcasting and readable errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from sanjiang.events.catalog import EVENT_TYPES, event_class_for
from sanjiang.events.envelope import Event
from sanjiang.events.payloads import Payload
from sanjiang.events.upcasting import UpcastError, upcast
from sanjiang.ids import uuid7


class EventError(ValueError):
    """An event that cannot be accepted; ``reason`` is a short machine code, str() the detail."""

    def __init__(self, reason: str, detail: str, raw: bytes | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        #: The offending bytes, when the error is about text that could not be parsed.
        self.raw = raw


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``payload.rating: Input should be less than or equal to 5``."""
    parts = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in error["loc"] if not _is_union_tag(x))
        parts.append(f"{loc or '(event)'}: {error['msg']}")
    return "; ".join(parts)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in EVENT_TYPES


def parse_raw(data: bytes | str) -> dict[str, Any]:
    """Parse JSON text into the raw dict of one event."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raw_bytes = data.encode() if isinstance(data, str) else bytes(data)
        raise EventError("malformed_json", f"not valid JSON: {exc}", raw_bytes) from None
    if not isinstance(raw, dict):
        raise EventError(
            "not_an_object", f"an event must be a JSON object, got {type(raw).__name__}"
        )
    return raw


def from_raw(raw: dict[str, Any]) -> Event:
    """Validate a raw event dict (upcasting old versions first) into its event class."""
    event_type = raw.get("type")
    if not isinstance(event_type, str):
        raise EventError("missing_type", "type: required string naming the event type")
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise EventError(
            "unknown_type",
            f"type: unknown event type {event_type[:40]!r}; known: {', '.join(EVENT_TYPES)}",
        )
    version = raw.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EventError("bad_version", "schema_version: required positive integer")
    if version > cls.VERSION:
        raise EventError(
            "unknown_version",
            f"schema_version: {event_type} v{version} is newer than this platform knows "
            f"(v{cls.VERSION})",
        )
    if version < cls.VERSION:
        try:
            raw = upcast(raw, event_type, version, cls.VERSION)
        except UpcastError as exc:
            raise EventError("upcast_failed", str(exc)) from None
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise EventError("invalid", describe_validation_error(exc)) from None


def is_current(raw: dict[str, Any]) -> bool:
    """Whether a raw event names a known type at its current schema version (needs no
    upcasting). Says nothing about validity: only for events known to be valid otherwise."""
    event_type = raw.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    version = raw.get("schema_version")
    return cls is not None and type(version) is int and version == cls.VERSION


def decode_event(data: bytes | str) -> Event:
    """JSON text of one event -> the current-version event model, or EventError."""
    return from_raw(parse_raw(data))


def stamp_received(event: Event, received_at: datetime, late_after: timedelta) -> Event:
    """The event as accepted by the platform: ``received_at`` set, ``late`` if it came late."""
    late = received_at - event.occurred_at > late_after
    return event.model_copy(update={"received_at": received_at, "late": late})


def encode_event(event: Event) -> bytes:
    """An event as compact JSON bytes (the Kafka message value)."""
    return event.model_dump_json().encode()


def new_event(
    payload: Payload,
    *,
    station_id: str,
    source: str,
    occurred_at: datetime,
    resident: str | None = None,
    event_id: UUID | None = None,
    received_at: datetime | None = None,
    late: bool = False,
) -> Event:
    """Wrap a payload in the envelope of its event type (validated like any other event)."""
    cls = event_class_for(payload)
    return cls(
        event_id=event_id or uuid7(),
        type=cls.TYPE,
        schema_version=cls.VERSION,
        occurred_at=occurred_at,
        received_at=received_at,
        station_id=station_id,
        source=source,
        resident=resident,
        late=late,
        payload=payload,
    )
