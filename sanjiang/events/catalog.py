"""The event catalog: one class per event type and the registry of stable type names."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, TypeAdapter

from sanjiang.events import payloads as p
from sanjiang.events.envelope import Event


class DemandSubmittedEvent(Event):
    TYPE = "demand.submitted"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["demand.submitted"] = "demand.submitted"
    schema_version: Literal[1] = 1
    payload: p.DemandSubmitted


class DemandVotedEvent(Event):
    TYPE = "demand.voted"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["demand.voted"] = "demand.voted"
    schema_version: Literal[1] = 1
    payload: p.DemandVoted


class ActivityDesignedEvent(Event):
    TYPE = "activity.designed"
    VERSION = 1
    type: Literal["activity.designed"] = "activity.designed"
    schema_version: Literal[1] = 1
    payload: p.ActivityDesigned


class ActivityPublishedEvent(Event):
    TYPE = "activity.published"
    VERSION = 1
    type: Literal["activity.published"] = "activity.published"
    schema_version: Literal[1] = 1
    payload: p.ActivityPublished


class ActivityUpdatedEvent(Event):
    TYPE = "activity.updated"
    VERSION = 1
    type: Literal["activity.updated"] = "activity.updated"
    schema_version: Literal[1] = 1
    payload: p.ActivityUpdated


class ActivityCancelledEvent(Event):
    TYPE = "activity.cancelled"
    VERSION = 1
    type: Literal["activity.cancelled"] = "activity.cancelled"
    schema_version: Literal[1] = 1
    payload: p.ActivityCancelled


class RegistrationSubmittedEvent(Event):
    TYPE = "registration.submitted"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["registration.submitted"] = "registration.submitted"
    schema_version: Literal[1] = 1
    payload: p.RegistrationSubmitted


class RegistrationCancelledEvent(Event):
    TYPE = "registration.cancelled"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["registration.cancelled"] = "registration.cancelled"
    schema_version: Literal[1] = 1
    payload: p.RegistrationCancelled


class BookingRequestedEvent(Event):
    TYPE = "booking.requested"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["booking.requested"] = "booking.requested"
    schema_version: Literal[1] = 1
    payload: p.BookingRequested


class BookingConfirmedEvent(Event):
    TYPE = "booking.confirmed"
    VERSION = 1
    type: Literal["booking.confirmed"] = "booking.confirmed"
    schema_version: Literal[1] = 1
    payload: p.BookingConfirmed


class BookingRejectedEvent(Event):
    TYPE = "booking.rejected"
    VERSION = 1
    type: Literal["booking.rejected"] = "booking.rejected"
    schema_version: Literal[1] = 1
    payload: p.BookingRejected


class BookingCancelledEvent(Event):
    TYPE = "booking.cancelled"
    VERSION = 1
    type: Literal["booking.cancelled"] = "booking.cancelled"
    schema_version: Literal[1] = 1
    payload: p.BookingCancelled


class BookingNoShowEvent(Event):
    TYPE = "booking.no_show"
    VERSION = 1
    type: Literal["booking.no_show"] = "booking.no_show"
    schema_version: Literal[1] = 1
    payload: p.BookingNoShow


class CheckinRecordedEvent(Event):
    TYPE = "checkin.recorded"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["checkin.recorded"] = "checkin.recorded"
    schema_version: Literal[1] = 1
    payload: p.CheckinRecorded


class CheckoutRecordedEvent(Event):
    TYPE = "checkout.recorded"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["checkout.recorded"] = "checkout.recorded"
    schema_version: Literal[1] = 1
    payload: p.CheckoutRecorded


class EvaluationSubmittedEvent(Event):
    """Version 2 rates 1..5; version 1 (early kiosk firmware) scored 0..10, see ``upcasting``."""

    TYPE = "evaluation.submitted"
    VERSION = 2
    RESIDENT_REQUIRED = True
    type: Literal["evaluation.submitted"] = "evaluation.submitted"
    schema_version: Literal[2] = 2
    payload: p.EvaluationSubmitted


class KioskHeartbeatEvent(Event):
    TYPE = "kiosk.heartbeat"
    VERSION = 1
    type: Literal["kiosk.heartbeat"] = "kiosk.heartbeat"
    schema_version: Literal[1] = 1
    payload: p.KioskHeartbeat


AnyEvent = Annotated[
    DemandSubmittedEvent
    | DemandVotedEvent
    | ActivityDesignedEvent
    | ActivityPublishedEvent
    | ActivityUpdatedEvent
    | ActivityCancelledEvent
    | RegistrationSubmittedEvent
    | RegistrationCancelledEvent
    | BookingRequestedEvent
    | BookingConfirmedEvent
    | BookingRejectedEvent
    | BookingCancelledEvent
    | BookingNoShowEvent
    | CheckinRecordedEvent
    | CheckoutRecordedEvent
    | EvaluationSubmittedEvent
    | KioskHeartbeatEvent,
    Field(discriminator="type"),
]
"""Any event of the catalog, discriminated by its ``type``."""

ANY_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def _build_registry() -> dict[str, type[Event]]:
    registry: dict[str, type[Event]] = {}
    for cls in Event.__subclasses__():
        if cls.TYPE in registry:
            raise RuntimeError(f"event type {cls.TYPE!r} registered twice")
        if cls.model_fields["type"].default != cls.TYPE:
            raise RuntimeError(f"{cls.__name__}: type default differs from TYPE")
        if cls.model_fields["schema_version"].default != cls.VERSION:
            raise RuntimeError(f"{cls.__name__}: schema_version default differs from VERSION")
        registry[cls.TYPE] = cls
    return dict(sorted(registry.items()))


#: Stable type name -> event class.
EVENT_TYPES: dict[str, type[Event]] = _build_registry()
_BY_PAYLOAD: dict[type[Any], type[Event]] = {
    cls.model_fields["payload"].annotation: cls  # type: ignore[misc]
    for cls in EVENT_TYPES.values()
}

E = TypeVar("E", bound=Event)


def event_class_for(payload: p.Payload) -> type[Event]:
    """The event class that carries this payload type."""
    try:
        return _BY_PAYLOAD[type(payload)]
    except KeyError:
        raise TypeError(f"{type(payload).__name__} is not a registered payload") from None
