"""Commands: what people ask the platform to decide, one model per kind, in one envelope.

A command names what it concerns by id; the envelope says who asks (actor, role, source), for
which station, when the platform received it (``issued_at``, the "now" its decision is made
at, so a re-read command is decided the same way), and optionally the version of the thing it
changes that the asker last saw (optimistic concurrency).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, model_validator

from sanjiang.events.types import (
    AgeBand,
    Capacity,
    Flag,
    Ident,
    Instant,
    Note,
    Pseudonym,
    Source,
    TargetGroups,
    TaxonomyId,
    Title,
)

#: the longest activity or booking the deciders accept, as the event catalog does
MAX_SPAN_S = 7 * 24 * 3600
#: sessions of a weekly series, at most half a year
MAX_SERIES_WEEKS = 26


class Body(BaseModel):
    """Base of command bodies: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Interval(Body):
    starts_at: Instant
    ends_at: Instant

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > MAX_SPAN_S:
            raise ValueError("an interval may last at most 7 days")
        return self


class _Resident(Body):
    """The resident a kiosk or staff acts for: pseudonym and what may be said of them."""

    resident: Pseudonym
    age_band: AgeBand | None = None
    minor: Flag = False


# --- activities -------------------------------------------------------------------------


class DesignActivity(_Interval):
    kind: Literal["activity.design"] = "activity.design"
    activity_id: Ident
    title: Title
    category: TaxonomyId
    program: TaxonomyId
    venue_id: Ident
    capacity: Capacity
    target_groups: TargetGroups
    demand_ids: Annotated[list[Ident], Field(max_length=20)] = []
    release_after_min: Annotated[StrictInt, Field(ge=0, le=240)] = 15
    #: only residents holding a place may come: a check-in of anyone else is a conflict
    registration_required: Flag = False


class DesignSeries(DesignActivity):
    """The same slot for ``weeks`` weeks; session k is activity ``<activity_id>-w<k>``."""

    kind: Literal["activity.design_series"] = "activity.design_series"  # type: ignore[assignment]
    activity_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,59}$")]
    weeks: Annotated[StrictInt, Field(ge=1, le=MAX_SERIES_WEEKS)]


class UpdateActivity(Body):
    """Change a draft or a published activity; only the fields given change."""

    kind: Literal["activity.update"] = "activity.update"
    activity_id: Ident
    title: Title | None = None
    venue_id: Ident | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    capacity: Capacity | None = None
    registration_required: Flag | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set - {"activity_id", "kind"}:
            raise ValueError("an update must change at least one field")
        if (self.starts_at is None) != (self.ends_at is None):
            raise ValueError("starts_at and ends_at change together")
        if self.starts_at is not None and self.ends_at is not None:
            _Interval(starts_at=self.starts_at, ends_at=self.ends_at)
        return self


class PublishActivity(Body):
    kind: Literal["activity.publish"] = "activity.publish"
    activity_id: Ident


class CancelActivity(Body):
    kind: Literal["activity.cancel"] = "activity.cancel"
    activity_id: Ident
    reason: Note = ""


class ReleaseNoShows(Body):
    """From the scheduler at start + N minutes: places of residents not checked in go to the
    waitlist."""

    kind: Literal["activity.release_no_shows"] = "activity.release_no_shows"
    activity_id: Ident


# --- registrations ----------------------------------------------------------------------


class Register(_Resident):
    kind: Literal["registration.register"] = "registration.register"
    registration_id: Ident
    activity_id: Ident


class CancelRegistration(Body):
    kind: Literal["registration.cancel"] = "registration.cancel"
    registration_id: Ident
    reason: Note = ""


# --- venue bookings and closures --------------------------------------------------------


class RequestBooking(_Interval, _Resident):
    kind: Literal["booking.request"] = "booking.request"
    booking_id: Ident
    venue_id: Ident
    attendees: Capacity
    purpose: Note = ""


class ApproveBooking(Body):
    kind: Literal["booking.approve"] = "booking.approve"
    booking_id: Ident


class RejectBooking(Body):
    kind: Literal["booking.reject"] = "booking.reject"
    booking_id: Ident
    reason: Annotated[Note, Field(min_length=1)]


class CancelBooking(Body):
    kind: Literal["booking.cancel"] = "booking.cancel"
    booking_id: Ident
    reason: Note = ""


class CheckInBooking(Body):
    kind: Literal["booking.check_in"] = "booking.check_in"
    booking_id: Ident


class MarkNoShow(Body):
    kind: Literal["booking.mark_no_show"] = "booking.mark_no_show"
    booking_id: Ident


class CloseVenue(Body):
    kind: Literal["venue.close"] = "venue.close"
    closure_id: Ident
    venue_id: Ident
    starts_at: Instant
    ends_at: Instant
    reason: Annotated[Note, Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > 92 * 24 * 3600:
            raise ValueError("a closure may last at most 92 days")
        return self


class LiftClosure(Body):
    kind: Literal["venue.lift_closure"] = "venue.lift_closure"
    closure_id: Ident


# --- demands ----------------------------------------------------------------------------


class SubmitDemand(_Resident):
    kind: Literal["demand.submit"] = "demand.submit"
    demand_id: Ident
    category: TaxonomyId
    summary: Note = ""


class VoteDemand(_Resident):
    kind: Literal["demand.vote"] = "demand.vote"
    demand_id: Ident


class AcceptDemand(Body):
    kind: Literal["demand.accept"] = "demand.accept"
    demand_id: Ident


class DispatchDemand(Body):
    kind: Literal["demand.dispatch"] = "demand.dispatch"
    demand_id: Ident
    dispatch_id: Ident
    unit: Title
    due_at: Instant


class AnswerDemand(Body):
    kind: Literal["demand.answer"] = "demand.answer"
    demand_id: Ident
    answer: Annotated[Note, Field(min_length=1)]


class LinkDemand(Body):
    kind: Literal["demand.link"] = "demand.link"
    demand_id: Ident
    activity_ids: Annotated[list[Ident], Field(min_length=1, max_length=50)]


class CloseDemand(Body):
    kind: Literal["demand.close"] = "demand.close"
    demand_id: Ident
    reason: Note = ""


class MarkOverdue(Body):
    """From the scheduler once a dispatch's due date has passed unanswered."""

    kind: Literal["demand.mark_overdue"] = "demand.mark_overdue"
    demand_id: Ident


AnyBody = Annotated[
    DesignActivity
    | DesignSeries
    | UpdateActivity
    | PublishActivity
    | CancelActivity
    | ReleaseNoShows
    | Register
    | CancelRegistration
    | RequestBooking
    | ApproveBooking
    | RejectBooking
    | CancelBooking
    | CheckInBooking
    | MarkNoShow
    | CloseVenue
    | LiftClosure
    | SubmitDemand
    | VoteDemand
    | AcceptDemand
    | DispatchDemand
    | AnswerDemand
    | LinkDemand
    | CloseDemand
    | MarkOverdue,
    Field(discriminator="kind"),
]
"""Any command body, discriminated by its ``kind``."""

#: the kinds of command, as the audit and the API name them
BODY_TYPES: dict[str, type[Body]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(AnyBody)[0])
}

#: who may ask: a staff role, or a device (a kiosk acts for residents), or the scheduler
Role = Literal["viewer", "operator", "manager", "analyst", "admin", "kiosk", "scheduler"]


class Command(BaseModel):
    """A command in its envelope, as it travels on the commands topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: UUID
    station_id: Ident
    issued_at: datetime
    actor: Ident
    role: Role
    source: Source
    expected_version: Annotated[StrictInt, Field(ge=0)] | None = None
    body: AnyBody

    @property
    def kind(self) -> str:
        return self.body.kind

    @property
    def key(self) -> bytes:
        """Kafka key: the station, so one writer decides all of a station's commands in order."""
        return self.station_id.encode()


COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
