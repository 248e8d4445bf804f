"""What a decider answers: accepted, with the events it wrote, or rejected with a typed reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sanjiang.events import Event


class Reason(StrEnum):
    """Why a command was rejected: stable machine codes (the API and the audit use them)."""

    NOT_FOUND = "not_found"
    DUPLICATE_ID = "duplicate_id"
    VENUE_UNKNOWN = "venue_unknown"
    VENUE_NOT_BOOKABLE = "venue_not_bookable"
    VENUE_CLOSED = "venue_closed"
    VENUE_TAKEN = "venue_taken"
    OVER_VENUE_CAPACITY = "over_venue_capacity"
    OUTSIDE_BOOKING_RULES = "outside_booking_rules"
    IN_THE_PAST = "in_the_past"
    ALREADY_REGISTERED = "already_registered"
    ALREADY_VOTED = "already_voted"
    NOT_PUBLISHED = "not_published"
    ALREADY_PUBLISHED = "already_published"
    ACTIVITY_STARTED = "activity_started"
    ACTIVITY_CANCELLED = "activity_cancelled"
    CAPACITY_BELOW_REGISTERED = "capacity_below_registered"
    INVALID_STATE = "invalid_state"
    TOO_EARLY = "too_early"
    VERSION_CONFLICT = "version_conflict"
    FORBIDDEN = "forbidden"
    UNKNOWN_CATEGORY = "unknown_category"


@dataclass(frozen=True, slots=True)
class Accepted:
    """The command was decided in the asker's favour; ``events`` record it (in log order)."""

    events: tuple[Event, ...]
    #: the new version of what it changed (events applied to it so far)
    version: int = 0
    #: what became of it when not simply done: ``waitlisted``, ``pending`` (awaits approval)
    outcome: str | None = None
    position: int | None = None

    accepted: bool = field(default=True, init=False)


@dataclass(frozen=True, slots=True)
class Rejected(Exception):  # noqa: N818  # a decision, raised by the rules that find it
    """The command was refused: a typed reason, words for people, what was in the way."""

    reason: Reason
    detail: str
    cause: str | None = None
    #: the current version of what it concerns (for a version conflict)
    version: int | None = None

    accepted: bool = field(default=False, init=False)

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


Decision = Accepted | Rejected


@dataclass(frozen=True, slots=True)
class Answer:
    """A decision as the asker gets it and as the audit event records it: the same answer
    every time the command is asked again."""

    command_id: str
    accepted: bool
    event_ids: tuple[str, ...] = ()
    version: int = 0
    outcome: str | None = None
    position: int | None = None
    reason: str | None = None
    detail: str = ""
    cause: str | None = None

    def document(self) -> dict[str, object]:
        """The JSON answer of the API."""
        if self.accepted:
            return {
                "command_id": self.command_id,
                "status": "accepted",
                "event_ids": list(self.event_ids),
                "version": self.version,
                "outcome": self.outcome or "done",
                "position": self.position,
            }
        return {
            "command_id": self.command_id,
            "status": "rejected",
            "reason": self.reason,
            "detail": self.detail,
            "cause": self.cause,
            "version": self.version or None,
        }
