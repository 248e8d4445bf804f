"""Daily and weekly rhythms: when each group of residents comes to the stations.

A curve gives a relative weight to each 15-minute slot of a weekday and of a weekend day.
Curves of the resident groups (figures chosen to match what community stations report):

- elderly: mornings, peak 08:00-11:00 (weight 2.6-3.0), a smaller afternoon bump 14-16h;
- children (under 14, with guardians): nothing on weekdays before 15:30 (school), peak
  16:00-17:00; weekends 09:00-11:30 and 13:30-17:00;
- teens: after 16:30 on weekdays, broad on weekends;
- youth (18-34): weekday evenings 18:00-21:00 (peak 19h), little during office hours;
  weekends 09:00-21:00;
- new-employment workers (delivery riders, couriers): the lull between lunch and dinner rushes
  (14:00-16:30) and after 20:00, every day;
- adults (35-59): weekday lunchtime and evenings, weekend daytime.

Two audience curves serve staff choosing activity times: ``families`` (weekend daytime,
weekday evenings) and ``all`` (mid-morning and afternoon).

``Timing`` multiplies a curve by a station's open slots to sample when someone is there.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Literal

from producers.simulator.clock import (
    SLOT,
    SLOTS_PER_DAY,
    OpeningBook,
    day_start,
    is_weekend,
    jitter,
)

Curve = Literal[
    "elderly", "children", "teens", "youth", "new_employment", "adults", "families", "all"
]

Segments = tuple[tuple[str, str, float], ...]


def _slots(segments: Segments) -> tuple[float, ...]:
    weights = [0.0] * SLOTS_PER_DAY
    for start, end, weight in segments:
        h0, m0 = map(int, start.split(":"))
        h1, m1 = map(int, end.split(":"))
        for slot in range((h0 * 60 + m0) // 15, (h1 * 60 + m1) // 15):
            weights[slot] = weight
    return tuple(weights)


_NEW_EMPLOYMENT: Segments = (
    ("09:00", "10:30", 0.5),
    ("10:30", "11:00", 0.3),
    ("11:00", "13:30", 0.1),
    ("13:30", "14:00", 1.0),
    ("14:00", "16:30", 2.5),
    ("16:30", "17:00", 1.0),
    ("17:00", "19:30", 0.1),
    ("19:30", "20:00", 0.6),
    ("20:00", "21:00", 1.6),
)

#: curve -> (weekday weights, weekend weights), one weight per 15-minute slot.
CURVES: dict[Curve, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "elderly": (
        _slots(
            (
                ("06:00", "07:00", 0.3),
                ("07:00", "08:00", 1.0),
                ("08:00", "09:00", 2.6),
                ("09:00", "10:00", 3.0),
                ("10:00", "11:00", 2.8),
                ("11:00", "12:00", 1.2),
                ("12:00", "13:00", 0.2),
                ("13:00", "14:00", 0.5),
                ("14:00", "16:00", 0.9),
                ("16:00", "17:00", 0.4),
                ("17:00", "19:00", 0.15),
                ("19:00", "20:00", 0.25),
                ("20:00", "21:00", 0.1),
            )
        ),
        _slots(
            (
                ("06:00", "07:00", 0.3),
                ("07:00", "08:00", 0.8),
                ("08:00", "11:00", 2.3),
                ("11:00", "12:00", 1.0),
                ("12:00", "13:00", 0.2),
                ("13:00", "14:00", 0.5),
                ("14:00", "16:00", 0.9),
                ("16:00", "17:00", 0.4),
                ("17:00", "21:00", 0.15),
            )
        ),
    ),
    "children": (
        _slots(
            (
                ("15:30", "16:00", 2.0),
                ("16:00", "17:00", 3.0),
                ("17:00", "18:00", 2.2),
                ("18:00", "19:00", 0.6),
                ("19:00", "20:00", 0.3),
            )
        ),
        _slots(
            (
                ("08:30", "09:00", 0.8),
                ("09:00", "11:30", 2.5),
                ("11:30", "13:30", 0.6),
                ("13:30", "17:00", 2.8),
                ("17:00", "18:00", 1.2),
                ("18:00", "20:00", 0.4),
            )
        ),
    ),
    "teens": (
        _slots(
            (
                ("16:30", "17:00", 0.6),
                ("17:00", "18:00", 1.2),
                ("18:00", "20:30", 2.0),
                ("20:30", "21:00", 0.5),
            )
        ),
        _slots((("09:00", "12:00", 1.5), ("13:00", "18:00", 2.0), ("18:00", "21:00", 1.5))),
    ),
    "youth": (
        _slots(
            (
                ("07:00", "08:30", 0.3),
                ("08:30", "11:30", 0.1),
                ("11:30", "13:30", 0.5),
                ("13:30", "17:30", 0.12),
                ("17:30", "18:00", 0.8),
                ("18:00", "19:00", 2.5),
                ("19:00", "20:00", 3.0),
                ("20:00", "21:00", 2.4),
            )
        ),
        _slots(
            (
                ("08:00", "09:00", 0.5),
                ("09:00", "12:00", 1.8),
                ("12:00", "13:00", 1.0),
                ("13:00", "18:00", 2.2),
                ("18:00", "21:00", 2.0),
            )
        ),
    ),
    "new_employment": (_slots(_NEW_EMPLOYMENT), _slots(_NEW_EMPLOYMENT)),
    "adults": (
        _slots(
            (
                ("07:00", "08:30", 0.3),
                ("08:30", "11:30", 0.4),
                ("11:30", "13:00", 0.7),
                ("13:00", "17:00", 0.4),
                ("17:00", "18:00", 0.8),
                ("18:00", "20:30", 1.8),
                ("20:30", "21:00", 0.6),
            )
        ),
        _slots(
            (
                ("08:00", "09:00", 0.6),
                ("09:00", "12:00", 2.0),
                ("12:00", "13:00", 0.8),
                ("13:00", "18:00", 2.0),
                ("18:00", "21:00", 1.2),
            )
        ),
    ),
    "families": (
        _slots((("16:00", "18:00", 0.5), ("18:00", "20:00", 1.0))),
        _slots((("09:00", "11:30", 2.5), ("13:30", "17:00", 2.5), ("18:00", "19:30", 0.5))),
    ),
    "all": (
        _slots((("09:00", "11:30", 1.5), ("14:00", "17:00", 1.5), ("18:00", "20:00", 1.0))),
        _slots((("09:00", "17:00", 1.5), ("18:00", "20:00", 0.6))),
    ),
}


def weight(curve: Curve, day: date, slot: int) -> float:
    """Relative weight of ``slot`` of ``day`` for ``curve``."""
    return CURVES[curve][is_weekend(day)][slot]


class Timing:
    """Samples when someone following a curve is at a station (open slots x curve weight)."""

    def __init__(self, book: OpeningBook) -> None:
        self.book = book
        self._day: dict[tuple[str, date, Curve], tuple[tuple[int, ...], tuple[float, ...]]] = {}

    def _table(
        self, station_id: str, day: date, curve: Curve
    ) -> tuple[tuple[int, ...], tuple[float, ...]]:
        key = (station_id, day, curve)
        found = self._day.get(key)
        if found is None:
            weights = CURVES[curve][is_weekend(day)]
            slots = tuple(s for s in self.book.station_slots(station_id, day) if weights[s] > 0)
            found = (slots, tuple(accumulate(weights[s] for s in slots)))
            self._day[key] = found
        return found

    def day_mass(self, station_id: str, day: date, curve: Curve) -> float:
        """Total weight of the station's open slots on ``day`` (0 when nobody would come)."""
        cum = self._table(station_id, day, curve)[1]
        return cum[-1] if cum else 0.0

    def sample_day(
        self, rng: random.Random, station_id: str, day: date, curve: Curve
    ) -> datetime | None:
        """An instant of ``day`` when the station is open, weighted by the curve."""
        slots, cum = self._table(station_id, day, curve)
        if not cum:
            return None
        slot = slots[bisect_right(cum, rng.random() * cum[-1])]
        return day_start(day, self.book.tz) + slot * SLOT + jitter(rng, SLOT)

    def sample(
        self, rng: random.Random, station_id: str, curve: Curve, lo: datetime, hi: datetime
    ) -> datetime | None:
        """An instant in ``[lo, hi)`` when the station is open, weighted by the curve."""
        if hi <= lo:
            return None
        tz = self.book.tz
        pieces: list[tuple[float, datetime, datetime, float]] = []  # (cum, start, end, w)
        total = 0.0
        day = lo.date()
        while day <= hi.date():
            midnight = day_start(day, tz)
            slots, cum = self._table(station_id, day, curve)
            if cum and midnight >= lo and midnight + timedelta(days=1) <= hi:
                total += cum[-1]
                pieces.append((total, midnight, midnight, -1.0))  # whole day, resolved below
            else:
                weights = CURVES[curve][is_weekend(day)]
                for slot in slots:
                    s0 = max(midnight + slot * SLOT, lo)
                    s1 = min(midnight + (slot + 1) * SLOT, hi)
                    if s1 > s0:
                        total += weights[slot] * ((s1 - s0) / SLOT)
                        pieces.append((total, s0, s1, weights[slot]))
            day += timedelta(days=1)
        if total <= 0:
            return None
        pick = rng.random() * total
        index = bisect_right([p[0] for p in pieces], pick)
        _, s0, s1, w = pieces[min(index, len(pieces) - 1)]
        if w < 0:  # a whole day
            return self.sample_day(rng, station_id, s0.date(), curve)
        return s0 + jitter(rng, s1 - s0)

    def forget_before(self, day: date) -> None:
        """Drop cached days before ``day``."""
        for key in [k for k in self._day if k[1] < day]:
            del self._day[key]
