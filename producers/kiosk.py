"""The kiosk SDK: one method per fact a kiosk records, each written to the outbox first.

Resident identifiers (card or phone numbers) are pseudonymized here, at the edge; the raw
identifier never leaves the kiosk. Every method returns the event it stored; delivery happens
in the background (:class:`producers.delivery.Deliverer`) and survives restarts, because the
outbox is on disk: a check-in recorded offline is a fact, accepted later with its own time.

What a resident asks for — a place at an activity, a venue booking, a demand or a vote — is
the platform's to decide: the kiosk sends it as a command (``POST /v1/commands`` with its
key) and shows the answer; the ingest refuses such events from devices.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

from producers.outbox import Outbox
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.events.types import MINOR_AGE_BANDS, AgeBand
from sanjiang.pseudonym import Pseudonymizer

Clock = Callable[[], datetime]


def _short_id(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:16]}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Kiosk:
    """A kiosk of one station. ``source`` is ``kiosk:<kiosk_id>``."""

    def __init__(
        self,
        *,
        station_id: str,
        kiosk_id: str,
        outbox: Outbox,
        pseudonymize: Pseudonymizer,
        clock: Clock = _utc_now,
    ) -> None:
        self.station_id = station_id
        self.kiosk_id = kiosk_id
        self.outbox = outbox
        self._pseudonymize = pseudonymize
        self._clock = clock

    @property
    def source(self) -> str:
        return f"kiosk:{self.kiosk_id}"

    def emit(self, payload: p.Payload, resident_id: str | None = None) -> Event:
        """Wrap a payload in an event, store it durably, and return it."""
        event = new_event(
            payload,
            station_id=self.station_id,
            source=self.source,
            occurred_at=self._clock(),
            resident=self._pseudonymize(resident_id) if resident_id is not None else None,
        )
        self.outbox.put(event)
        return event

    # --- participation -------------------------------------------------------------

    def check_in(
        self,
        resident_id: str,
        venue_id: str,
        *,
        activity_id: str | None = None,
        booking_id: str | None = None,
        age_band: AgeBand | None = None,
        visit_id: str | None = None,
    ) -> Event:
        """A resident enters a venue (for an activity, a booking, or a drop-in visit)."""
        return self.emit(
            p.CheckinRecorded(
                visit_id=visit_id or _short_id("visit"),
                venue_id=venue_id,
                activity_id=activity_id,
                booking_id=booking_id,
                **_facts(age_band),
            ),
            resident_id,
        )

    def check_out(self, resident_id: str, visit_id: str, venue_id: str) -> Event:
        return self.emit(p.CheckoutRecorded(visit_id=visit_id, venue_id=venue_id), resident_id)

    # --- evaluations ---------------------------------------------------------------

    def evaluate(self, resident_id: str, activity_id: str, rating: int, comment: str = "") -> Event:
        """Rate an activity 1..5 (a later evaluation by the same resident replaces it)."""
        return self.emit(
            p.EvaluationSubmitted(activity_id=activity_id, rating=rating, comment=comment),
            resident_id,
        )

    # --- operations ----------------------------------------------------------------

    def heartbeat(self, app_version: str, uptime_s: int) -> Event:
        pending = self.outbox.counts().pending
        return self.emit(
            p.KioskHeartbeat(
                kiosk_id=self.kiosk_id,
                app_version=app_version,
                outbox_pending=pending,
                uptime_s=uptime_s,
            )
        )


def _facts(age_band: AgeBand | None) -> dict[str, object]:
    if age_band is None:
        return {}
    return {"age_band": age_band, "minor": age_band in MINOR_AGE_BANDS}
