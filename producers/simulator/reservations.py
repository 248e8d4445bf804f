"""Who holds each venue when: published activities and confirmed bookings, as staff see it.

The simulator executes decisions in time order, so the calendar always shows the state at the
moment of a decision: an entry is added when an activity is published or a booking confirmed,
and released when it is cancelled or moved. Active entries of a venue never overlap, and keep
the venue's buffer between them (its booking rules: the platform's deciders refuse less).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class Reservation:
    """A venue held for ``[start, end)`` by an activity or booking (``owner``)."""

    venue_id: str
    start: datetime
    end: datetime
    owner: str
    active: bool = True


class VenueCalendar:
    """Active reservations per venue."""

    def __init__(self, buffers: Mapping[str, timedelta] | None = None) -> None:
        self._by_venue: dict[str, list[Reservation]] = {}
        self._buffers = buffers or {}

    def is_free(
        self, venue_id: str, start: datetime, end: datetime, ignore: Reservation | None = None
    ) -> bool:
        """True if no active reservation of the venue comes within its buffer of
        ``[start, end)``."""
        gap = self._buffers.get(venue_id, timedelta(0))
        return not any(
            r.active and r is not ignore and r.start < end + gap and start < r.end + gap
            for r in self._by_venue.get(venue_id, ())
        )

    def reserve(self, venue_id: str, start: datetime, end: datetime, owner: str) -> Reservation:
        """Hold the venue; the caller has checked ``is_free``."""
        if not self.is_free(venue_id, start, end):
            raise ValueError(f"{venue_id} is already taken in {start}..{end}")
        entry = Reservation(venue_id, start, end, owner)
        self._by_venue.setdefault(venue_id, []).append(entry)
        return entry

    @staticmethod
    def release(entry: Reservation) -> None:
        """Free the venue (cancelled or moved)."""
        entry.active = False

    def forget_before(self, moment: datetime) -> None:
        """Drop entries that ended before ``moment`` or were released."""
        for venue_id, entries in self._by_venue.items():
            self._by_venue[venue_id] = [e for e in entries if e.active and e.end >= moment]
