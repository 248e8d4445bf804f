"""The ingest decision for each event a device sends: accept, report a duplicate, or reject.

Pure checks (``IngestPolicy.check``) are kept apart from the I/O (``Ingestor.ingest``), which
publishes the accepted events to Kafka and waits for the acknowledgement, and sends every
rejected item with its reason to the dead-letter topic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from api.dedup import RecentIds
from api.keys import Principal
from sanjiang import metrics
from sanjiang.events import Event, EventError, from_raw
from sanjiang.events.catalog import AUDIT_TYPES, DECIDED_TYPES
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.settings import Settings

log = logging.getLogger("sanjiang.ingest")
ItemStatus = Literal["accepted", "duplicate", "rejected"]

#: What a kiosk may emit: the facts it records and its own heartbeat. Decisions, of residents
#: and staff alike, are commands (``DECIDED_TYPES`` are refused from every key).
KIOSK_TYPES = frozenset(
    {
        "checkin.recorded",
        "checkout.recorded",
        "evaluation.submitted",
        "kiosk.heartbeat",
    }
)
#: Rejection reasons that mean "not yours to send" (HTTP 403 for a single event).
FORBIDDEN_REASONS = frozenset({"forbidden_station", "forbidden_source", "forbidden_type"})


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a request, by its position in the request."""

    index: int
    status: ItemStatus
    event_id: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class IngestPolicy:
    """Everything the checks need: known stations and the time bounds."""

    stations: frozenset[str]
    clock_skew: timedelta
    late_after: timedelta
    late_window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings, stations: frozenset[str]) -> IngestPolicy:
        return cls(
            stations=stations,
            clock_skew=timedelta(seconds=settings.clock_skew_s),
            late_after=timedelta(seconds=settings.late_after_s),
            late_window=timedelta(hours=settings.late_window_h),
        )

    def check(self, principal: Principal, item: Any, now: datetime) -> Event | Rejection:
        """Validate one item for this principal at platform time ``now``."""
        if isinstance(item, EventError):
            return Rejection(item.reason, item.detail)
        if not isinstance(item, dict):
            return Rejection(
                "not_an_object", f"an event must be a JSON object, got {type(item).__name__}"
            )
        try:
            # stamped as it is read: the platform's clock, never the device's (a copy of the
            # validated model afterwards cost ~12% of the ingest's time)
            event = from_raw({**item, "received_at": now, "late": False})
        except EventError as exc:
            return Rejection(exc.reason, exc.detail)
        if event.station_id not in self.stations:
            return Rejection("unknown_station", f"station_id: unknown station {event.station_id!r}")
        if event.station_id != principal.station_id:
            return Rejection(
                "forbidden_station",
                f"station_id: this key may only emit for {principal.station_id}, "
                f"not {event.station_id}",
            )
        if event.source != principal.source:
            return Rejection(
                "forbidden_source",
                f"source: this key emits as {principal.source!r}, not {event.source!r}",
            )
        if event.type in DECIDED_TYPES:
            return Rejection(
                "forbidden_type",
                f"type: {event.type} is decided by the platform; send a command instead",
            )
        if event.type in AUDIT_TYPES:
            return Rejection(
                "forbidden_type", f"type: {event.type} is the platform's own audit record"
            )
        if principal.kind == "kiosk" and event.type not in KIOSK_TYPES:
            return Rejection("forbidden_type", f"type: a kiosk may not emit {event.type}")
        if event.occurred_at > now + self.clock_skew:
            return Rejection(
                "from_future",
                f"occurred_at: {event.occurred_at.isoformat()} is more than "
                f"{self.clock_skew.total_seconds():.0f}s ahead of the platform clock; "
                "check the device clock",
            )
        if event.occurred_at < now - self.late_window:
            return Rejection(
                "too_old",
                f"occurred_at: {event.occurred_at.isoformat()} is older than the "
                f"late-upload window of {self.late_window.total_seconds() / 3600:.0f}h",
            )
        if now - event.occurred_at > self.late_after:
            return event.model_copy(update={"late": True})  # the rare late upload
        return event


class Ingestor:
    """Accepts events for Kafka: checks, dedup, publish (acks=all), dead-letter the rejected."""

    def __init__(
        self,
        policy: IngestPolicy,
        publisher: EventPublisher,
        recent: RecentIds,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.publisher = publisher
        self.recent = recent
        self.clock = clock

    async def ingest(self, principal: Principal, items: Sequence[Any]) -> list[ItemResult]:
        """Decide on every item; returns once accepted events are acknowledged by Kafka."""
        now = self.clock()
        results: list[ItemResult] = []
        accepted: list[Event] = []
        rejected: list[tuple[Any, Rejection]] = []
        in_request: set[int] = set()
        for index, item in enumerate(items):
            outcome = self.policy.check(principal, item, now)
            if isinstance(outcome, Rejection):
                rejected.append((item, outcome))
                event_id = item.get("event_id") if isinstance(item, dict) else None
                results.append(
                    ItemResult(
                        index,
                        "rejected",
                        event_id if isinstance(event_id, str) else None,
                        outcome.reason,
                        outcome.detail,
                    )
                )
                continue
            key = outcome.event_id.int
            if outcome.event_id in self.recent or key in in_request:
                results.append(ItemResult(index, "duplicate", str(outcome.event_id)))
                continue
            in_request.add(key)
            accepted.append(outcome)
            results.append(ItemResult(index, "accepted", str(outcome.event_id)))
        if accepted:
            outcomes = await self.publisher.try_publish_many(accepted)
            stored = [e for e, outcome in zip(accepted, outcomes, strict=True) if outcome is None]
            for event in stored:  # a retry of the request answers these as duplicates
                self.recent.add(event.event_id)
            if len(stored) < len(accepted):
                error = next(outcome for outcome in outcomes if outcome is not None)
                raise PartlyStoredError(len(stored), len(accepted), error)
        if rejected:
            try:
                await self.publisher.dead_letter_many(
                    [(_raw_bytes(item), r.reason, r.detail) for item, r in rejected],
                    principal.source,
                )
            except Exception:  # each rejected item is answered with its reason all the same
                log.exception("dead letters of %d rejected items not written", len(rejected))
        metrics.count_ingest((r.status, r.reason) for r in results)
        return results


class PartlyStoredError(Exception):
    """Kafka did not acknowledge every accepted event of a request."""

    def __init__(self, stored: int, accepted: int, error: Exception) -> None:
        super().__init__(f"{stored} of {accepted} events stored ({type(error).__name__})")
        self.stored = stored
        self.accepted = accepted
        self.error = error


def _raw_bytes(item: Any) -> bytes:
    if isinstance(item, EventError):
        return item.raw or b""
    try:
        return orjson.dumps(item)
    except TypeError:
        return repr(item).encode()
