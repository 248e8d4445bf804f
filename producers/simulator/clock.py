"""Local time for the simulator: days, 15-minute slots and the opening hours of venues/stations.

All times are tz-aware datetimes in the network's zone (Asia/Shanghai, no DST), so adding a
timedelta to one is local-time arithmetic. A day is cut into 96 slots of 15 minutes; the sample
network's opening hours all start and end on quarter hours, so a slot is either open or not.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sanjiang.network import Network

SLOT = timedelta(minutes=15)
SLOTS_PER_DAY = 96
_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
_MS = timedelta(milliseconds=1)

Window = tuple[datetime, datetime]


def unix_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch, exact (no float rounding)."""
    return (at - _EPOCH) // _MS


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight starting ``day``."""
    return datetime.combine(day, time(0), tz)


def slot_index(at: datetime) -> int:
    """The 15-minute slot of the local day that ``at`` falls in (0..95)."""
    return (at.hour * 60 + at.minute) // 15


def is_weekend(day: date) -> bool:
    """Saturday or Sunday."""
    return day.weekday() >= 5


def jitter(rng: random.Random, span: timedelta) -> timedelta:
    """A uniform offset in ``[0, span)`` with millisecond resolution."""
    ms = span // _MS
    return timedelta(milliseconds=rng.randrange(ms)) if ms > 0 else timedelta(0)


def between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A uniform instant in ``[lo, hi)`` (``lo`` when the range is empty)."""
    return lo + jitter(rng, hi - lo)


def minutes(rng: random.Random, lo: float, hi: float) -> timedelta:
    """A uniform duration of ``lo..hi`` minutes, millisecond resolution."""
    return timedelta(milliseconds=round(rng.uniform(lo, hi) * 60_000))


class OpeningBook:
    """Opening windows and open slots of venues and stations per local date (cached)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.tz = network.tz
        self._venue_windows: dict[tuple[str, date], tuple[Window, ...]] = {}
        self._station_windows: dict[tuple[str, date], tuple[Window, ...]] = {}
        self._station_slots: dict[tuple[str, date], tuple[int, ...]] = {}

    def venue_windows(self, venue_id: str, day: date) -> tuple[Window, ...]:
        """The venue's opening intervals on ``day`` as local datetimes."""
        key = (venue_id, day)
        found = self._venue_windows.get(key)
        if found is None:
            venue = self.network.venues[venue_id]
            found = tuple(
                (datetime.combine(day, i.start, self.tz), datetime.combine(day, i.end, self.tz))
                for i in venue.intervals_on(day)
            )
            self._venue_windows[key] = found
        return found

    def window_containing(self, venue_id: str, start: datetime, end: datetime) -> Window | None:
        """The opening interval of the venue holding all of ``[start, end]``, if any."""
        for lo, hi in self.venue_windows(venue_id, start.date()):
            if lo <= start and end <= hi:
                return lo, hi
        return None

    def venue_open_at(self, venue_id: str, at: datetime) -> Window | None:
        """The opening interval of the venue with ``lo <= at < hi``, if any."""
        for lo, hi in self.venue_windows(venue_id, at.date()):
            if lo <= at < hi:
                return lo, hi
        return None

    def station_windows(self, station_id: str, day: date) -> tuple[Window, ...]:
        """Union of the station's venue intervals on ``day``, merged and sorted."""
        key = (station_id, day)
        found = self._station_windows.get(key)
        if found is None:
            spans = sorted(
                w
                for v in self.network.by_id[station_id].venues
                for w in self.venue_windows(v.id, day)
            )
            merged: list[Window] = []
            for lo, hi in spans:
                if merged and lo <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
                else:
                    merged.append((lo, hi))
            found = tuple(merged)
            self._station_windows[key] = found
        return found

    def station_open_at(self, station_id: str, at: datetime) -> bool:
        """True if any venue of the station is open at ``at``."""
        return any(lo <= at < hi for lo, hi in self.station_windows(station_id, at.date()))

    def station_slots(self, station_id: str, day: date) -> tuple[int, ...]:
        """Indices of the 15-minute slots of ``day`` during which the station is open."""
        key = (station_id, day)
        found = self._station_slots.get(key)
        if found is None:
            slots: list[int] = []
            midnight = day_start(day, self.tz)
            for lo, hi in self.station_windows(station_id, day):
                first = -(-(lo - midnight) // SLOT)  # slots wholly inside [lo, hi)
                last = (hi - midnight) // SLOT
                slots.extend(range(first, last))
            found = tuple(slots)
            self._station_slots[key] = found
        return found

    def forget_before(self, day: date) -> None:
        """Drop cached days before ``day`` (keeps memory flat on long runs)."""
        for cache in (self._venue_windows, self._station_windows, self._station_slots):
            for key in [k for k in cache if k[1] < day]:
                del cache[key]
