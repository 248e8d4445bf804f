"""Typed payloads, one per event type. Pure data with invariant checks; no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from sanjiang.events.types import (
    MINOR_AGE_BANDS,
    AgeBand,
    Capacity,
    Count,
    Flag,
    Ident,
    Instant,
    Note,
    Rating,
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
    activity_id: Ident
    title: Title
    category: TaxonomyId
    program: TaxonomyId
    target_groups: TargetGroups
    planned_capacity: Capacity
    demand_ids: list[Ident] = []


class ActivityPublished(Payload):
    activity_id: Ident
    title: Title
    category: TaxonomyId
    program: TaxonomyId
    venue_id: Ident
    starts_at: Instant
    ends_at: Instant
    capacity: Capacity
    target_groups: TargetGroups

    @model_validator(mode="after")
    def _valid_interval(self) -> Self:
        _check_interval(self.starts_at, self.ends_at)
        return self


class ActivityUpdated(Payload):
    """A change to a published activity; only the fields given change."""

    activity_id: Ident
    title: Title | None = None
    venue_id: Ident | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    capacity: Capacity | None = None

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


# --- service loop: registration, participation, evaluation ------------------------------


class RegistrationSubmitted(ResidentFacts):
    registration_id: Ident
    activity_id: Ident


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


# --- operations -------------------------------------------------------------------------


class KioskHeartbeat(Payload):
    """A kiosk's periodic sign of life, with the depth of its outbox."""

    kiosk_id: Ident
    app_version: Ident
    outbox_pending: Count = 0
    uptime_s: Count = 0
