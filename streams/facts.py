"""What the live fold reads of an event: a ``Fact``, decoded by msgspec straight from the JSON.

The live projection reads a few fields of each event: the envelope's identity, clocks, station
and resident, and one to five payload fields. Building the full pydantic model to read them
cost about 7 µs an event (parse, validate, build), more than the fold itself. A ``Fact`` holds
just those fields and is decoded in C by one ``msgspec`` decoder in under 1 µs.

Where facts come from, so the fold counts exactly what the warehouse keeps:

- a record signed by this platform (``sanjiang.kafka.signing``: bytes it encoded from a valid
  event, unchanged since) at its type's current schema version: decoded straight from its bytes;
- anything else (unsigned, badly signed, an older schema version): the full path, decode,
  upcast and validate into the event model (``EventError`` if it is not a valid event), then
  the fact is decoded from that model's canonical JSON by the same decoder.

Either way a fact is the canonical JSON of a valid, current event seen through one decoder, so
both paths give equal facts (``tests/unit/test_facts.py`` checks that for every event type).
Fields a payload type does not have decode as their defaults: ``activity_id`` is on every fact
payload and is ``None`` for the types without one, as heat needs.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, Union

import msgspec

from sanjiang.events import Event, decode_event, encode_event
from sanjiang.events.catalog import EVENT_TYPES


class FactPayload(msgspec.Struct, kw_only=True, gc=False):
    """The payload fields the fold reads (other fields are skipped when decoding)."""

    activity_id: str | None = None


class VisitPayload(FactPayload):
    visit_id: str
    venue_id: str


class RegistrationPayload(FactPayload):
    registration_id: str


class DemandPayload(FactPayload):
    category: str


class EvaluationPayload(FactPayload):
    rating: int


class ActivityPayload(FactPayload, kw_only=True):
    capacity: int | None = None
    venue_id: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    registration_required: bool | None = None


class PublishedPayload(ActivityPayload, kw_only=True):
    category: str


class HeartbeatPayload(FactPayload):
    kiosk_id: str


class BookingPayload(FactPayload):
    booking_id: str


class BookingConfirmedPayload(BookingPayload):
    venue_id: str
    starts_at: datetime
    ends_at: datetime


#: event type -> the payload fields the fold reads of it (types not named: ``activity_id``)
PAYLOADS: dict[str, type[FactPayload]] = {
    "checkin.recorded": VisitPayload,
    "checkout.recorded": VisitPayload,
    "registration.submitted": RegistrationPayload,
    "registration.cancelled": RegistrationPayload,
    "demand.submitted": DemandPayload,
    "demand.voted": DemandPayload,
    "evaluation.submitted": EvaluationPayload,
    "activity.published": PublishedPayload,
    "activity.updated": ActivityPayload,
    "kiosk.heartbeat": HeartbeatPayload,
    "booking.confirmed": BookingConfirmedPayload,
    "booking.cancelled": BookingPayload,
}


class Fact(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """One event as the fold sees it; ``TYPE`` is its event type (the JSON's ``type``)."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]  #: the type's current schema version

    event_id: str  #: canonical (lowercase) text of the UUIDv7
    schema_version: int
    occurred_at: datetime
    received_at: datetime | None = None
    station_id: str
    resident: str | None = None
    late: bool = False
    payload: FactPayload

    @property
    def arrived_at(self) -> datetime:
        """When the platform accepted it (its own clock when the platform has not yet)."""
        return self.received_at or self.occurred_at


def _fact_class(event_type: str) -> type[Fact]:
    name = "".join(part.title() for part in re.split(r"[._]", event_type)) + "Fact"
    cls: type[Fact] = msgspec.defstruct(  # type: ignore[assignment]  # it subclasses Fact
        name,
        [("payload", PAYLOADS.get(event_type, FactPayload))],
        bases=(Fact,),
        tag=event_type,
        kw_only=True,
        gc=False,
        module=__name__,
    )
    cls.TYPE, cls.VERSION = event_type, EVENT_TYPES[event_type].VERSION
    return cls


#: event type -> its fact class (every type of the catalog has one)
FACT_TYPES: dict[str, type[Fact]] = {name: _fact_class(name) for name in EVENT_TYPES}
_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Union[tuple(FACT_TYPES.values())])  # noqa: UP007


def fact_of(event: Event) -> Fact:
    """The fact of a validated event (through its canonical JSON, as a signed record is)."""
    fact: Fact = _DECODER.decode(encode_event(event))
    return fact


def read_fact(value: bytes, verified: bool) -> Fact:
    """The fact of a record's value whose signature was checked (``verified``: it matched;
    ``streams.reader`` checks it), or ``EventError`` when it is not a valid event.

    Signed and current: decoded straight from ``value``. Otherwise (or should a signed record
    not decode, which the platform never writes) the full path, which upcasts and validates."""
    if verified:
        try:
            fact: Fact = _DECODER.decode(value)
        except msgspec.DecodeError:
            pass
        else:
            if fact.schema_version == fact.VERSION:
                return fact
    return fact_of(decode_event(value))
