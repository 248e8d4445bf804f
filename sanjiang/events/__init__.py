"""The event catalog: envelope, payloads, registry, codec and upcasters."""

from sanjiang.events.catalog import ANY_EVENT, EVENT_TYPES, AnyEvent, event_class_for
from sanjiang.events.codec import (
    EventError,
    decode_event,
    encode_event,
    from_raw,
    new_event,
    parse_raw,
)
from sanjiang.events.envelope import Event

__all__ = [
    "ANY_EVENT",
    "EVENT_TYPES",
    "AnyEvent",
    "Event",
    "EventError",
    "decode_event",
    "encode_event",
    "event_class_for",
    "from_raw",
    "new_event",
    "parse_raw",
]
