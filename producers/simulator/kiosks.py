"""The kiosks of the network and when they are offline.

Kiosks per station (sample assumption): the center 4 (3 if it had fewer than 6 venues), each
grid station 2, residential stations 2 when they serve 4,000 residents or more and 1 otherwise,
partner sites 1 - 53 kiosks on the sample network. Ids are ``<station>-K<n>``.

Outages: on a given day a kiosk goes offline with probability ``outage_rate_per_kiosk_day``
(3%), once, for a log-uniform 30 min .. 5 h inside its station's opening span that day. What
happens during an outage is kept in the kiosk's outbox and uploaded on reconnection. Outages
are a pure function of (seed, kiosk, day), so any part of the simulation can ask about any day.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from producers.simulator.clock import OpeningBook
from sanjiang.network import Network

CENTER_KIOSKS_LARGE = 4
CENTER_KIOSKS_SMALL = 3
LARGE_CENTER_VENUES = 6
GRID_KIOSKS = 2
BUSY_RESIDENTIAL_POPULATION = 4000


def kiosks(network: Network) -> list[tuple[str, str]]:
    """``(kiosk_id, station_id)`` of every kiosk, in network order (ids like ``WS-R03-K1``)."""
    result: list[tuple[str, str]] = []
    for station in network.stations:
        if station.kind == "center":
            large = len(station.venues) >= LARGE_CENTER_VENUES
            count = CENTER_KIOSKS_LARGE if large else CENTER_KIOSKS_SMALL
        elif station.kind == "grid":
            count = GRID_KIOSKS
        elif station.kind == "residential":
            count = 2 if (station.population or 0) >= BUSY_RESIDENTIAL_POPULATION else 1
        else:
            count = 1
        result.extend((f"{station.id}-K{n}", station.id) for n in range(1, count + 1))
    return result


@dataclass(frozen=True, slots=True)
class Outage:
    """A kiosk offline during ``[start, end)``."""

    kiosk_id: str
    start: datetime
    end: datetime


class Outages:
    """The outage schedule of every kiosk, and how many events each outage queued."""

    def __init__(
        self,
        book: OpeningBook,
        station_of: dict[str, str],
        *,
        tag: int,
        rate: float,
        min_minutes: int,
        max_minutes: int,
    ) -> None:
        self.book = book
        self.station_of = station_of
        self.tag = tag
        self.rate = rate
        self.min_minutes = min_minutes
        self.max_minutes = max_minutes
        self._cache: dict[tuple[str, date], Outage | None] = {}
        #: (kiosk, day) -> events occurred during that day's outage, waiting in the outbox.
        self.queued: dict[tuple[str, date], int] = {}

    def on(self, kiosk_id: str, day: date) -> Outage | None:
        """The kiosk's outage on ``day``, if it has one."""
        key = (kiosk_id, day)
        if key not in self._cache:
            self._cache[key] = self._draw(kiosk_id, day)
        return self._cache[key]

    def _draw(self, kiosk_id: str, day: date) -> Outage | None:
        rng = random.Random(f"sanjiang-outage:{self.tag}:{kiosk_id}:{day.isoformat()}")
        if rng.random() >= self.rate:
            return None
        windows = self.book.station_windows(self.station_of[kiosk_id], day)
        if not windows:
            return None
        lo, hi = windows[0][0], windows[-1][1]
        span_s = (hi - lo).total_seconds()
        if span_s < self.min_minutes * 60:
            return None
        log_min, log_max = math.log(self.min_minutes * 60), math.log(self.max_minutes * 60)
        duration_s = min(round(math.exp(rng.uniform(log_min, log_max))), int(span_s))
        start = lo + timedelta(seconds=rng.randrange(int(span_s) - duration_s + 1))
        return Outage(kiosk_id, start, start + timedelta(seconds=duration_s))

    def covering(self, kiosk_id: str, at: datetime) -> Outage | None:
        """The outage the kiosk is in at ``at``, if any."""
        outage = self.on(kiosk_id, at.date())
        if outage is not None and outage.start <= at < outage.end:
            return outage
        return None

    def forget_before(self, day: date) -> None:
        """Drop cached days before ``day``."""
        for cache in (self._cache, self.queued):
            for key in [k for k in cache if k[1] < day]:
                del cache[key]
