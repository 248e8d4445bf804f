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
    """Version 2 adds the planned venue and times, the series and the release delay; version 3
    whether it requires registration."""

    TYPE = "activity.designed"
    VERSION = 3
    type: Literal["activity.designed"] = "activity.designed"
    schema_version: Literal[3] = 3
    payload: p.ActivityDesigned


class ActivityPublishedEvent(Event):
    """Version 2 adds whether it requires registration."""

    TYPE = "activity.published"
    VERSION = 2
    type: Literal["activity.published"] = "activity.published"
    schema_version: Literal[2] = 2
    payload: p.ActivityPublished


class ActivityUpdatedEvent(Event):
    """Version 2 may change whether it requires registration."""

    TYPE = "activity.updated"
    VERSION = 2
    type: Literal["activity.updated"] = "activity.updated"
    schema_version: Literal[2] = 2
    payload: p.ActivityUpdated


class ActivityCancelledEvent(Event):
    TYPE = "activity.cancelled"
    VERSION = 1
    type: Literal["activity.cancelled"] = "activity.cancelled"
    schema_version: Literal[1] = 1
    payload: p.ActivityCancelled


class ActivityPlacesReleasedEvent(Event):
    TYPE = "activity.places_released"
    VERSION = 1
    type: Literal["activity.places_released"] = "activity.places_released"
    schema_version: Literal[1] = 1
    payload: p.ActivityPlacesReleased


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


class RegistrationWaitlistedEvent(Event):
    TYPE = "registration.waitlisted"
    VERSION = 1
    RESIDENT_REQUIRED = True
    type: Literal["registration.waitlisted"] = "registration.waitlisted"
    schema_version: Literal[1] = 1
    payload: p.RegistrationWaitlisted


class BookingCheckedInEvent(Event):
    TYPE = "booking.checked_in"
    VERSION = 1
    type: Literal["booking.checked_in"] = "booking.checked_in"
    schema_version: Literal[1] = 1
    payload: p.BookingCheckedIn


class VenueClosureScheduledEvent(Event):
    TYPE = "venue.closure_scheduled"
    VERSION = 1
    type: Literal["venue.closure_scheduled"] = "venue.closure_scheduled"
    schema_version: Literal[1] = 1
    payload: p.VenueClosureScheduled


class VenueClosureLiftedEvent(Event):
    TYPE = "venue.closure_lifted"
    VERSION = 1
    type: Literal["venue.closure_lifted"] = "venue.closure_lifted"
    schema_version: Literal[1] = 1
    payload: p.VenueClosureLifted


class DemandAcceptedEvent(Event):
    TYPE = "demand.accepted"
    VERSION = 1
    type: Literal["demand.accepted"] = "demand.accepted"
    schema_version: Literal[1] = 1
    payload: p.DemandAccepted


class DemandDispatchedEvent(Event):
    TYPE = "demand.dispatched"
    VERSION = 1
    type: Literal["demand.dispatched"] = "demand.dispatched"
    schema_version: Literal[1] = 1
    payload: p.DemandDispatched


class DemandOverdueEvent(Event):
    TYPE = "demand.overdue"
    VERSION = 1
    type: Literal["demand.overdue"] = "demand.overdue"
    schema_version: Literal[1] = 1
    payload: p.DemandOverdue


class DemandAnsweredEvent(Event):
    TYPE = "demand.answered"
    VERSION = 1
    type: Literal["demand.answered"] = "demand.answered"
    schema_version: Literal[1] = 1
    payload: p.DemandAnswered


class DemandLinkedEvent(Event):
    TYPE = "demand.linked"
    VERSION = 1
    type: Literal["demand.linked"] = "demand.linked"
    schema_version: Literal[1] = 1
    payload: p.DemandLinked


class DemandClosedEvent(Event):
    TYPE = "demand.closed"
    VERSION = 1
    type: Literal["demand.closed"] = "demand.closed"
    schema_version: Literal[1] = 1
    payload: p.DemandClosed


class CommandDecidedEvent(Event):
    """The audit record of a command: who asked what, and the answer."""

    TYPE = "command.decided"
    VERSION = 1
    type: Literal["command.decided"] = "command.decided"
    schema_version: Literal[1] = 1
    payload: p.CommandDecided


class LoginAttemptedEvent(Event):
    """The audit record of a staff login, let in or refused."""

    TYPE = "login.attempted"
    VERSION = 1
    type: Literal["login.attempted"] = "login.attempted"
    schema_version: Literal[1] = 1
    payload: p.LoginAttempted


class UserChangedEvent(Event):
    """The audit record of a change of a staff account."""

    TYPE = "user.changed"
    VERSION = 1
    type: Literal["user.changed"] = "user.changed"
    schema_version: Literal[1] = 1
    payload: p.UserChanged


class DeviceKeyChangedEvent(Event):
    """The audit record of a device key issued or revoked."""

    TYPE = "device_key.changed"
    VERSION = 1
    type: Literal["device_key.changed"] = "device_key.changed"
    schema_version: Literal[1] = 1
    payload: p.DeviceKeyChanged


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
    | ActivityPlacesReleasedEvent
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
    | KioskHeartbeatEvent
    | RegistrationWaitlistedEvent
    | BookingCheckedInEvent
    | VenueClosureScheduledEvent
    | VenueClosureLiftedEvent
    | DemandAcceptedEvent
    | DemandDispatchedEvent
    | DemandOverdueEvent
    | DemandAnsweredEvent
    | DemandLinkedEvent
    | DemandClosedEvent
    | CommandDecidedEvent
    | LoginAttemptedEvent
    | UserChangedEvent
    | DeviceKeyChangedEvent,
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


#: Types only the platform's deciders write: no device key may send them (the ingest refuses
#: them). Staff and residents ask for these decisions with commands (``POST /v1/commands``);
#: what devices still send are facts (check-ins and -outs, evaluations, heartbeats).
DECIDED_TYPES: frozenset[str] = frozenset(
    {
        "activity.designed",
        "activity.published",
        "activity.updated",
        "activity.cancelled",
        "registration.submitted",
        "registration.cancelled",
        "booking.requested",
        "booking.confirmed",
        "booking.rejected",
        "booking.cancelled",
        "booking.no_show",
        "demand.submitted",
        "demand.voted",
        "activity.places_released",
        "registration.waitlisted",
        "booking.checked_in",
        "venue.closure_scheduled",
        "venue.closure_lifted",
        "demand.accepted",
        "demand.dispatched",
        "demand.overdue",
        "demand.answered",
        "demand.linked",
        "demand.closed",
        "command.decided",
    }
)

#: The audit of access, written only by the platform itself: staff logins (by the API), changes
#: of staff accounts and of device keys (by ``sanjiang user`` and ``sanjiang kiosk``). No device
#: key may send them (the ingest refuses them, as it refuses ``DECIDED_TYPES``).
AUDIT_TYPES: frozenset[str] = frozenset({"login.attempted", "user.changed", "device_key.changed"})
