"""Typed payloads, one per event type. Pure data with invariant checks; no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from sanjiang.events.types import (
    MINOR_AGE_BANDS,
    AgeBand,
    Capacity,
    ClientAddress,
    Count,
    DeviceId,
    Flag,
    Ident,
    Instant,
    Note,
    Rating,
    StaffName,
    TargetGroups,
    TaxonomyId,
    Title,
)


class Payload(BaseModel):
    """Base of all payloads: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_interval(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if (ends_at - starts_at).total_seconds() > 7 * 24 * 3600:
        raise ValueError("an interval may last at most 7 days")


class ResidentFacts(Payload):
    """What a kiosk may say of a resident besides the pseudonym: age band and minor flag."""

    age_band: AgeBand | None = None
    minor: Flag = False

    @model_validator(mode="after")
    def _minor_matches_band(self) -> Self:
        if self.age_band is not None and self.minor != (self.age_band in MINOR_AGE_BANDS):
            raise ValueError(f"minor must be {not self.minor} for age band {self.age_band}")
        return self


# --- service loop: demand -------------------------------------------------------------


class DemandSubmitted(ResidentFacts):
    demand_id: Ident
    category: TaxonomyId
    summary: Note = ""


class DemandVoted(ResidentFacts):
    demand_id: Ident
    category: TaxonomyId


# --- management loop: activities ------------------------------------------------------


class ActivityDesigned(Payload):
    """A draft. Version 2 adds where and when it is planned (optional: a draft may leave them
    open), the weekly series it belongs to, and when unclaimed places go to the waitlist;
    version 3 whether coming takes a registration (``registration_required``)."""

    activity_id: Ident
    title: Title
    category: TaxonomyId
    program: TaxonomyId
    target_groups: TargetGroups
    planned_capacity: Capacity
    demand_ids: list[Ident] = []
    venue_id: Ident | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    series_id: Ident | None = None
    #: minutes after the start at which places of registered residents not checked in are
    #: released to the waitlist
    release_after_min: Annotated[StrictInt, Field(ge=0, le=240)] = 15
    #: only residents who hold a place (a registration, not waitlisted nor cancelled) may come:
    #: a check-in of anyone else is a conflict (``sanjiang.conflicts``, ``no_registration``)
    registration_required: Flag = False

    @model_validator(mode="after")
    def _valid_interval(self) -> Self:
        if (self.starts_at is None) != (self.ends_at is None):
            raise ValueError("starts_at and ends_at are given together")
        if self.starts_at is not None and self.ends_at is not None:
            _check_interval(self.starts_at, self.ends_at)
        return self


class ActivityPublished(Payload):
    """The activity as published. Version 2 adds ``registration_required`` (a version 1
    event reads as not requiring one: there was no such rule then)."""

    activity_id: Ident
    title: Title
    category: TaxonomyId
    program: TaxonomyId
    venue_id: Ident
    starts_at: Instant
    ends_at: Instant
    capacity: Capacity
    target_groups: TargetGroups
    registration_required: Flag = False

    @model_validator(mode="after")
    def _valid_interval(self) -> Self:
        _check_interval(self.starts_at, self.ends_at)
        return self


class ActivityUpdated(Payload):
    """A change to a draft or a published activity; only the fields given change. Version 2
    may change ``registration_required``."""

    activity_id: Ident
    title: Title | None = None
    venue_id: Ident | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    capacity: Capacity | None = None
    registration_required: Flag | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        changed = self.model_fields_set - {"activity_id"}
        if not changed:
            raise ValueError("an update must change at least one field")
        if (self.starts_at is None) != (self.ends_at is None):
            raise ValueError("starts_at and ends_at change together")
        if self.starts_at is not None and self.ends_at is not None:
            _check_interval(self.starts_at, self.ends_at)
        return self


class ActivityCancelled(Payload):
    activity_id: Ident
    reason: Note = ""


class ActivityPlacesReleased(Payload):
    """At start + N minutes the places of registered residents not checked in were released
    (each also a ``registration.cancelled``) and given to the waitlist; done once."""

    activity_id: Ident
    registration_ids: Annotated[list[Ident], Field(max_length=5000)] = []


# --- service loop: registration, participation, evaluation ------------------------------


class RegistrationSubmitted(ResidentFacts):
    registration_id: Ident
    activity_id: Ident


class RegistrationWaitlisted(ResidentFacts):
    """The activity was full: the resident waits at ``position`` (1 = next). A place given
    later is a ``registration.submitted`` of the same ``registration_id``."""

    registration_id: Ident
    activity_id: Ident
    position: Annotated[StrictInt, Field(ge=1, le=100_000)]


class RegistrationCancelled(Payload):
    registration_id: Ident
    activity_id: Ident
    reason: Note = ""


class CheckinRecorded(ResidentFacts):
    """A resident entered a venue; ``visit_id`` pairs it with the check-out."""

    visit_id: Ident
    venue_id: Ident
    activity_id: Ident | None = None
    booking_id: Ident | None = None


class CheckoutRecorded(Payload):
    visit_id: Ident
    venue_id: Ident


class EvaluationSubmitted(Payload):
    activity_id: Ident
    rating: Rating
    comment: Note = ""


# --- venue bookings ---------------------------------------------------------------------


class BookingRequested(Payload):
    booking_id: Ident
    venue_id: Ident
    starts_at: Instant
    ends_at: Instant
    attendees: Capacity
    purpose: Note = ""

    @model_validator(mode="after")
    def _valid_interval(self) -> Self:
        _check_interval(self.starts_at, self.ends_at)
        return self


class BookingConfirmed(Payload):
    booking_id: Ident
    venue_id: Ident
    starts_at: Instant
    ends_at: Instant

    @model_validator(mode="after")
    def _valid_interval(self) -> Self:
        _check_interval(self.starts_at, self.ends_at)
        return self


class BookingRejected(Payload):
    booking_id: Ident
    reason: Note


class BookingCancelled(Payload):
    booking_id: Ident
    reason: Note = ""


class BookingNoShow(Payload):
    booking_id: Ident


class BookingCheckedIn(Payload):
    """Staff let the booking's party in."""

    booking_id: Ident


class VenueClosureScheduled(Payload):
    """The venue is closed in ``[starts_at, ends_at)`` (a holiday, maintenance)."""

    closure_id: Ident
    venue_id: Ident
    starts_at: Instant
    ends_at: Instant
    reason: Note = ""
    #: bookings and activities it collides with, flagged when it was scheduled
    collides_with: list[Ident] = []

    @model_validator(mode="after")
    def _valid_interval(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > 92 * 24 * 3600:
            raise ValueError("a closure may last at most 92 days")
        return self


class VenueClosureLifted(Payload):
    closure_id: Ident
    venue_id: Ident


# --- demands: handling (受理, 派单, 答复) -----------------------------------------------


class DemandAccepted(Payload):
    """Staff took the demand on (受理)."""

    demand_id: Ident


class DemandDispatched(Payload):
    """Sent to a department or partner unit, to be done by ``due_at`` (派单)."""

    demand_id: Ident
    dispatch_id: Ident
    unit: Title
    due_at: Instant


class DemandOverdue(Payload):
    """A dispatch passed its due date unanswered."""

    demand_id: Ident
    dispatch_id: Ident


class DemandAnswered(Payload):
    """The official answer (答复)."""

    demand_id: Ident
    answer: Annotated[
        str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=500)
    ]


class DemandLinked(Payload):
    """Activities that serve the demand."""

    demand_id: Ident
    activity_ids: Annotated[list[Ident], Field(min_length=1, max_length=50)]


class DemandClosed(Payload):
    demand_id: Ident
    reason: Note = ""


# --- audit ------------------------------------------------------------------------------


class CommandDecided(Payload):
    """The platform's answer to a command, accepted or rejected, with who asked."""

    command_id: Ident
    kind: Ident
    accepted: Flag
    #: when accepted, what became of it if not simply done (``waitlisted``, ``pending``)
    outcome: Ident | None = None
    position: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    #: when rejected: the typed reason, in words, and the id of what was in the way
    reason: Ident | None = None
    detail: Note = ""
    cause: Ident | None = None
    actor: Ident
    role: Ident
    event_ids: Annotated[list[Ident], Field(max_length=1000)] = []
    version: Annotated[StrictInt, Field(ge=0)] = 0


#: Why a login was refused: no such account, a wrong password, a disabled account (the right
#: password of an account that may no longer log in), or too many failed logins (429).
LoginRefusal = Literal["unknown_user", "wrong_password", "disabled", "throttled"]
#: Where a login came in: ``token``, ``POST /v1/auth/token``; ``page``, the login page.
LoginVia = Literal["token", "page"]
#: What became of a staff account; of a device key.
UserChange = Literal["created", "password_changed", "disabled", "enabled"]
KeyChange = Literal["issued", "revoked"]


class LoginAttempted(Payload):
    """A staff login through ``POST /v1/auth/token`` or the login page, let in or refused.

    Never the password, nor any part of it. ``actor`` is the username tried, as the login reads
    it (stripped, lower case), when it has a username's shape (``api.access.users.USERNAME``);
    anything else (spaces, symbols, non-ASCII, over 40 characters: most often a password typed
    into the wrong field) is left out, ``actor`` empty, and only its length is said in
    ``detail``. A password that looks like a username cannot be told from one: that much the
    audit of failed logins risks in order to name the account tried.
    """

    actor: Annotated[str, StringConstraints(strict=True, pattern=r"^([a-z][a-z0-9._-]{1,39})?$")]
    #: the account's role, when the name tried is an account's
    role: Ident | None = None
    accepted: Flag
    #: when refused (``accepted`` false), why
    reason: LoginRefusal | None = None
    via: LoginVia
    #: the client's address as the API saw it
    address: ClientAddress
    detail: Note = ""
    #: throttled logins only: refusals for being throttled from this address since the one
    #: recorded before (they are recorded one per address a minute, see ``api.access.audit``)
    repeated: Count = 0

    @model_validator(mode="after")
    def _reason_when_refused(self) -> Self:
        if self.accepted != (self.reason is None):
            raise ValueError("reason: required when refused, and only then")
        return self


class UserChanged(Payload):
    """A staff account created, given a new password, disabled or enabled (``sanjiang user``).

    Never the password. ``actor`` made the change (``cli:<OS user>`` from the command line),
    with ``role`` where it is known: the command line has none, its user holds the deployment's
    secrets. ``account_role`` and ``stations`` are the account's after the change.
    """

    actor: Ident
    role: Ident | None = None
    username: StaffName
    change: UserChange
    account_role: Ident
    #: the stations the account works at; None: the whole network
    stations: Annotated[list[Ident], Field(max_length=100)] | None = None
    #: why, in the words of who made the change (``--reason``)
    note: Note = ""


class DeviceKeyChanged(Payload):
    """A device key issued or revoked (``sanjiang kiosk add|revoke``); never the key, nor its
    hint. The envelope's station is the device's."""

    actor: Ident
    role: Ident | None = None
    device_id: DeviceId
    kind: Literal["kiosk", "console", "analyst"]
    change: KeyChange
    note: Note = ""


# --- operations -------------------------------------------------------------------------


class KioskHeartbeat(Payload):
    """A kiosk's periodic sign of life, with the depth of its outbox."""

    kiosk_id: Ident
    app_version: Ident
    outbox_pending: Count = 0
    uptime_s: Count = 0
