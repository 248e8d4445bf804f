"""The one event envelope shared by every event type."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from sanjiang.events.payloads import Payload
from sanjiang.events.types import Ident, Instant, Pseudonym, Source


def _require_v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError(f"event_id must be a UUIDv7, got version {value.version}")
    return value


EventId = Annotated[UUID, AfterValidator(_require_v7)]


def _on_the_wire(schema: dict[str, Any]) -> None:
    """What a sender must put in every event: ``type`` and ``schema_version`` are defaults in
    code (each class pins them) but the platform refuses an event without them, so the schema
    (JSON Schema export, OpenAPI) says they are required and gives no default."""
    properties = schema.get("properties", {})
    for name in ("type", "schema_version"):
        if name in properties:
            properties[name].pop("default", None)
            required = schema.setdefault("required", [])
            if name not in required:
                required.insert(0, name)


class Event(BaseModel):
    """Envelope: identity, type and version, two clocks, where it came from, and a typed payload.

    ``occurred_at`` is the emitting device's clock; ``received_at`` the platform's, stamped when
    the platform accepts the event (absent only before that), which also sets ``late``.
    Subclasses pin ``type`` and ``schema_version`` and narrow ``payload``; the registry in
    ``catalog`` maps names to them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_on_the_wire)

    #: Stable type name (never the class path); set by each subclass.
    TYPE: ClassVar[str]
    #: Current schema version of this type; older versions are upcast on read.
    VERSION: ClassVar[int]
    #: Whether the event is a resident's action and must name the resident (by pseudonym):
    #: participation and satisfaction count distinct residents.
    RESIDENT_REQUIRED: ClassVar[bool] = False

    event_id: EventId
    type: str
    schema_version: Annotated[StrictInt, Field(ge=1)]
    occurred_at: Instant
    received_at: Instant | None = None
    station_id: Ident
    source: Source
    resident: Pseudonym | None = None
    #: Set by the platform when the event arrived long after it occurred (an offline kiosk).
    late: StrictBool = False
    payload: Payload

    @model_validator(mode="after")
    def _resident_when_required(self) -> Self:
        if self.RESIDENT_REQUIRED and self.resident is None:
            raise ValueError(f"resident: required for {self.TYPE} (the resident's pseudonym)")
        return self

    @property
    def key(self) -> bytes:
        """Kafka message key: the station, so each station's events stay in order."""
        return self.station_id.encode()
