"""The live projection as a pure fold: ``LiveState.apply(event)``, then read with ``now``.

No I/O, no clock: the same code runs in the stream worker and in a replay, and gives the same
numbers for the same events in any order and with any duplicates (within the grace period).

- Events count in the window (local day, Asia/Shanghai) of their ``occurred_at``. A day's
  window stays open for ``grace`` after it ends, for late uploads from offline kiosks; an event
  that reached the platform (``received_at``) after its window closed is not counted and is
  counted in ``too_late`` instead. Judging by arrival time, not by the order a consumer reads
  partitions in, keeps a replay identical to the live run.
- Duplicates (same ``event_id``) count once.
- Occupancy: a check-in opens a visit at a venue, its check-out (same ``visit_id``) closes it;
  a visit nobody checked out closes automatically at the end of the opening interval it began
  in, so a forgotten check-out does not inflate occupancy forever.
- Satisfaction counts one evaluation per (resident, activity): the latest by
  (occurred_at, event_id), as the KPI does.
- Heat uses ``sanjiang.heat``: Σ weight × 2^(−age / half-life), kept as a sum scaled to a fixed
  reference time so it does not depend on the order events arrive in.
- Kiosks are offline when their last heartbeat is older than ``offline_after``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sanjiang.events import Event
from sanjiang.heat import HALF_LIFE_HOURS, weight
from sanjiang.network import Network

#: Heat sums are scaled to this instant: value(t) = stored × 2^(−(t − REF) / half-life).
HEAT_REFERENCE = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


@dataclass
class DayCounters:
    """What one station (or the network) did on one local day."""

    checkins: int = 0
    residents: set[str] = field(default_factory=set)
    bookings_requested: int = 0
    bookings_confirmed: int = 0
    no_shows: int = 0
    registrations: int = 0
    registration_cancellations: int = 0
    demands: int = 0
    late_events: int = 0
    demand_by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: (resident, activity) -> ((occurred_at, event_id), rating): the latest evaluation
    evaluations: dict[tuple[str, str], tuple[tuple[datetime, UUID], int]] = field(
        default_factory=dict
    )

    def summary(self) -> dict[str, Any]:
        ratings = [rating for _, rating in self.evaluations.values()]
        satisfied = sum(1 for r in ratings if r >= 4)
        return {
            "checkins": self.checkins,
            "residents": len(self.residents),
            "bookings_requested": self.bookings_requested,
            "bookings_confirmed": self.bookings_confirmed,
            "no_shows": self.no_shows,
            "registrations": self.registrations,
            "registration_cancellations": self.registration_cancellations,
            "demands": self.demands,
            "evaluations": len(ratings),
            "satisfied_evaluations": satisfied,
            "satisfaction": satisfied / len(ratings) if ratings else None,
            "late_events": self.late_events,
        }


@dataclass
class Visit:
    venue_id: str
    checkin_at: datetime | None = None
    closes_at: datetime | None = None  #: end of the opening interval the check-in fell in
    checked_out_at: datetime | None = None


@dataclass
class ActivityLive:
    capacity: int = 0
    venue_id: str = ""
    category: str = ""
    station_id: str = ""
    starts_at: datetime | None = None
    cancelled: bool = False
    registrations: set[str] = field(default_factory=set)
    cancelled_registrations: set[str] = field(default_factory=set)
    attendees: set[str] = field(default_factory=set)
    #: field -> (version, value): updates apply by (occurred_at, event_id), in any order
    versions: dict[str, tuple[tuple[datetime, UUID], Any]] = field(default_factory=dict)

    def set(self, name: str, version: tuple[datetime, UUID], value: Any) -> None:
        if value is None:
            return
        current = self.versions.get(name)
        if current is None or current[0] < version:
            self.versions[name] = (version, value)
            setattr(self, name, value)

    def summary(self) -> dict[str, Any]:
        registered = len(self.registrations - self.cancelled_registrations)
        return {
            "capacity": self.capacity,
            "venue_id": self.venue_id,
            "category": self.category,
            "station_id": self.station_id,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "cancelled": self.cancelled,
            "registrations": registered,
            "fill": registered / self.capacity if self.capacity else None,
            "attendance": len(self.attendees),
        }


@dataclass
class LiveState:
    """Everything the live views show, folded from events. Read with an explicit ``now``."""

    network: Network
    grace: timedelta = timedelta(hours=6)
    offline_after: timedelta = timedelta(minutes=15)
    seen: set[UUID] = field(default_factory=set)
    days: dict[tuple[date, str], DayCounters] = field(
        default_factory=lambda: defaultdict(DayCounters)
    )
    visits: dict[str, Visit] = field(default_factory=dict)
    activities: dict[str, ActivityLive] = field(default_factory=lambda: defaultdict(ActivityLive))
    heat: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    kiosks: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    watermark: datetime | None = None  #: the latest occurred_at seen: the stream's clock
    too_late: int = 0
    applied: int = 0

    # --- the fold -----------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Fold one event in; False if it was a duplicate or too late to count."""
        if event.event_id in self.seen:
            return False
        day = self.local_day(event.occurred_at)
        arrived = event.received_at or event.occurred_at
        if self.window_closed(day, arrived):  # judged by arrival, not by reading order
            self.too_late += 1
            return False
        self.seen.add(event.event_id)
        self.applied += 1
        if self.watermark is None or event.occurred_at > self.watermark:
            self.watermark = event.occurred_at
        handler = getattr(self, "_on_" + event.type.replace(".", "_"), None)
        if handler is not None:
            handler(event, day)
        if event.late:
            self._counters(day, event.station_id).late_events += 1
        self._add_heat(event)
        return True

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.network.tz).date()

    def window_closed(self, day: date, now: datetime) -> bool:
        """True once ``day``'s window no longer takes events (its end plus the grace)."""
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.network.tz)
        return now > end + self.grace

    def _counters(self, day: date, station: str) -> DayCounters:
        return self.days[(day, station)]

    def _on_checkin_recorded(self, event: Event, day: date) -> None:
        p: Any = event.payload
        counters = self._counters(day, event.station_id)
        counters.checkins += 1
        if event.resident:
            counters.residents.add(event.resident)
        visit = self.visits.setdefault(p.visit_id, Visit(p.venue_id))
        visit.venue_id = p.venue_id
        visit.checkin_at = event.occurred_at
        visit.closes_at = self._closing_time(p.venue_id, event.occurred_at)
        if p.activity_id and event.resident:
            self.activities[p.activity_id].attendees.add(event.resident)

    def _on_checkout_recorded(self, event: Event, day: date) -> None:
        p: Any = event.payload
        visit = self.visits.setdefault(p.visit_id, Visit(p.venue_id))
        if visit.checked_out_at is None or event.occurred_at < visit.checked_out_at:
            visit.checked_out_at = event.occurred_at

    def _on_booking_requested(self, event: Event, day: date) -> None:
        self._counters(day, event.station_id).bookings_requested += 1

    def _on_booking_confirmed(self, event: Event, day: date) -> None:
        self._counters(day, event.station_id).bookings_confirmed += 1

    def _on_booking_no_show(self, event: Event, day: date) -> None:
        self._counters(day, event.station_id).no_shows += 1

    def _on_registration_submitted(self, event: Event, day: date) -> None:
        p: Any = event.payload
        self._counters(day, event.station_id).registrations += 1
        self.activities[p.activity_id].registrations.add(p.registration_id)

    def _on_registration_cancelled(self, event: Event, day: date) -> None:
        p: Any = event.payload
        self._counters(day, event.station_id).registration_cancellations += 1
        self.activities[p.activity_id].cancelled_registrations.add(p.registration_id)

    def _on_demand_submitted(self, event: Event, day: date) -> None:
        counters = self._counters(day, event.station_id)
        counters.demands += 1
        counters.demand_by_category[event.payload.category] += 1  # type: ignore[attr-defined]

    _on_demand_voted = _on_demand_submitted

    def _on_evaluation_submitted(self, event: Event, day: date) -> None:
        p: Any = event.payload
        key = (event.resident or "", p.activity_id)
        version = (event.occurred_at, event.event_id)
        evaluations = self._counters(day, event.station_id).evaluations
        current = evaluations.get(key)
        if current is None or current[0] < version:
            evaluations[key] = (version, p.rating)

    def _on_activity_published(self, event: Event, day: date) -> None:
        p: Any = event.payload
        activity = self.activities[p.activity_id]
        version = (event.occurred_at, event.event_id)
        for name in ("capacity", "venue_id", "category", "starts_at"):
            activity.set(name, version, getattr(p, name))
        activity.set("station_id", version, event.station_id)

    def _on_activity_updated(self, event: Event, day: date) -> None:
        p: Any = event.payload
        activity = self.activities[p.activity_id]
        version = (event.occurred_at, event.event_id)
        for name in ("capacity", "venue_id", "starts_at"):
            activity.set(name, version, getattr(p, name))

    def _on_activity_cancelled(self, event: Event, day: date) -> None:
        self.activities[event.payload.activity_id].cancelled = True  # type: ignore[attr-defined]

    def _on_kiosk_heartbeat(self, event: Event, day: date) -> None:
        kiosk_id: str = event.payload.kiosk_id  # type: ignore[attr-defined]
        last = self.kiosks.get(kiosk_id)
        if last is None or last[0] < event.occurred_at:
            self.kiosks[kiosk_id] = (event.occurred_at, event.station_id)

    def _add_heat(self, event: Event) -> None:
        rating = getattr(event.payload, "rating", 0)
        w = weight(event.type, rating)
        if w == 0:
            return
        hours = (event.occurred_at - HEAT_REFERENCE).total_seconds() / 3600
        scaled = w * math.pow(2.0, hours / HALF_LIFE_HOURS)
        self.heat[("station", event.station_id)] += scaled
        activity_id = getattr(event.payload, "activity_id", None)
        if activity_id:
            self.heat[("activity", activity_id)] += scaled

    def _closing_time(self, venue_id: str, moment: datetime) -> datetime | None:
        venue = self.network.venues.get(venue_id)
        if venue is None:
            return None
        local = moment.astimezone(self.network.tz)
        for interval in venue.intervals_on(local.date()):
            end = datetime.combine(local.date(), interval.end, self.network.tz)
            start = datetime.combine(local.date(), interval.start, self.network.tz)
            if start <= local < end:
                return end
        return local.replace(hour=23, minute=59, second=59)  # outside hours: closes at midnight

    # --- reading ------------------------------------------------------------------------

    def today(self, now: datetime, station: str | None = None) -> dict[str, Any]:
        """Today's counters (local day of ``now``) for a station, or the network summed."""
        day = self.local_day(now)
        if station is not None:
            return (
                self._counters(day, station).summary()
                if (day, station) in self.days
                else DayCounters().summary()
            )
        total = DayCounters()
        for (d, _), counters in self.days.items():
            if d != day:
                continue
            total.checkins += counters.checkins
            total.residents |= counters.residents
            total.bookings_requested += counters.bookings_requested
            total.bookings_confirmed += counters.bookings_confirmed
            total.no_shows += counters.no_shows
            total.registrations += counters.registrations
            total.registration_cancellations += counters.registration_cancellations
            total.demands += counters.demands
            total.late_events += counters.late_events
            for key, value in counters.evaluations.items():
                if key not in total.evaluations or total.evaluations[key][0] < value[0]:
                    total.evaluations[key] = value
        return total.summary()

    def occupancy(self, now: datetime) -> dict[str, int]:
        """People in each venue now: open visits begun by ``now`` and not auto-closed."""
        counts: dict[str, int] = defaultdict(int)
        for visit in self.visits.values():
            if visit.checkin_at is None or visit.checkin_at > now:
                continue
            if visit.checked_out_at is not None and visit.checked_out_at <= now:
                continue
            if visit.closes_at is not None and visit.closes_at <= now:
                continue
            counts[visit.venue_id] += 1
        return dict(counts)

    def heat_at(self, level: str, key: str, now: datetime) -> float:
        hours = (now - HEAT_REFERENCE).total_seconds() / 3600
        return self.heat.get((level, key), 0.0) * math.pow(2.0, -hours / HALF_LIFE_HOURS)

    def offline_kiosks(self, now: datetime) -> list[str]:
        return sorted(k for k, (last, _) in self.kiosks.items() if now - last > self.offline_after)
