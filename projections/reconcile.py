"""Reconciliation: the live counters of closed windows against the warehouse's counts.

For a closed window (a local day whose grace period has passed) the stream worker publishes
its final counters per station (``day:<date>:<station>`` views). The warehouse counts the same
things with the same rules — events of that station occurring that day that reached the
platform before the window closed, once per ``event_id``; residents at venues the network
knows; evaluations once per (resident, activity), the latest, from residents who attended —
and any difference is reported. Conflicts too, by kind (``conflicts.<kind>``): the facts of
the day are judged with the events the live fold saw, each admitted if it reached the platform
within its own day's window (``projections.conflicts.ADMIT_IN_WINDOW``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from projections.conflicts import (
    ADMIT_IN_WINDOW,
    CHECKIN_CONFLICTS_BY_DAY,
    EVALUATIONS_BY_DAY,
    FIRSTS_ADMITTED,
)
from projections.kpi import KpiSql
from projections.warehouse import Warehouse, ch_datetime
from sanjiang.conflicts import KINDS, NOT_ATTENDED
from sanjiang.network import Network

COMPARED = (
    "checkins",
    "residents",
    "registrations",
    "registration_cancellations",
    "bookings_requested",
    "bookings_confirmed",
    "no_shows",
    "demands",
    "evaluations",
    "satisfied_evaluations",
    *(f"conflicts.{kind}" for kind in KINDS),
)

WAREHOUSE_COUNTS = """
SELECT
    station_id,
    countIf(type = 'checkin.recorded') AS checkins,
    uniqExactIf(resident, type = 'checkin.recorded' AND resident != ''
                AND venue_id IN (SELECT venue_id FROM {db}.venues)) AS residents,
    countIf(type = 'registration.submitted') AS registrations,
    countIf(type = 'registration.cancelled') AS registration_cancellations,
    countIf(type = 'booking.requested') AS bookings_requested,
    countIf(type = 'booking.confirmed') AS bookings_confirmed,
    countIf(type = 'booking.no_show') AS no_shows,
    countIf(type IN ('demand.submitted', 'demand.voted')) AS demands
FROM {db}.events
WHERE occurred_at >= {start:DateTime64(3,'UTC')} AND occurred_at < {end:DateTime64(3,'UTC')}
  AND received_at < {closes:DateTime64(3,'UTC')}
GROUP BY station_id
"""

#: The conflict statements' placeholders for one day of the whole network, judged with the
#: events the live fold saw.
_JUDGED = KpiSql(
    db="{db}",
    start="{start:DateTime64(3,'UTC')}",
    end="{end:DateTime64(3,'UTC')}",
    stations="{stations:Array(String)}",
    venues="{venues:Array(String)}",
    venue_scope="0",
    admit=ADMIT_IN_WINDOW,
    firsts=FIRSTS_ADMITTED,
)
WAREHOUSE_CHECKIN_CONFLICTS = _JUDGED.render(CHECKIN_CONFLICTS_BY_DAY)
WAREHOUSE_EVALUATIONS = _JUDGED.render(EVALUATIONS_BY_DAY)


@dataclass(frozen=True)
class Difference:
    day: str
    station_id: str
    counter: str
    live: int
    warehouse: int


def closes_at(day: date, network: Network, grace: timedelta) -> datetime:
    """When a local day's window closes: its end plus the lateness grace."""
    return datetime.combine(day + timedelta(days=1), time(), network.tz) + grace


def split_closed(
    days: list[date], now: datetime, network: Network, grace: timedelta
) -> tuple[list[date], list[date]]:
    """(closed, still open) days at ``now``: only a closed window can be reconciled — an open
    one still takes late events, so its differences would mean nothing."""
    closed = [d for d in days if closes_at(d, network, grace) <= now]
    return closed, [d for d in days if d not in closed]


def warehouse_counts(
    warehouse: Warehouse, network: Network, day: date, grace: timedelta
) -> dict[str, dict[str, int]]:
    """Per station, the counters of one local day as the live fold defines them."""
    start = datetime.combine(day, time(), network.tz)
    end = start + timedelta(days=1)
    params: dict[str, Any] = {
        "start": ch_datetime(start),
        "end": ch_datetime(end),
        "closes": ch_datetime(end + grace),
    }
    judged: dict[str, Any] = {
        "start": params["start"],
        "end": params["end"],
        "stations": [s.id for s in network.stations],
        "venues": [],
        "grace_s": int(grace.total_seconds()),
    }
    db = warehouse.database
    counts: dict[str, dict[str, int]] = {}
    for row in warehouse.query(WAREHOUSE_COUNTS.replace("{db}", db), params).dicts():
        station = row.pop("station_id")
        counts[station] = {k: int(v) for k, v in row.items()}
    for row in warehouse.query(WAREHOUSE_EVALUATIONS.replace("{db}", db), judged).dicts():
        mine = counts.setdefault(row["station_id"], {})
        mine["evaluations"] = int(row["evaluations"])
        mine["satisfied_evaluations"] = int(row["satisfied_evaluations"])
        mine[f"conflicts.{NOT_ATTENDED}"] = int(row["not_attended"])
    for row in warehouse.query(WAREHOUSE_CHECKIN_CONFLICTS.replace("{db}", db), judged).dicts():
        mine = counts.setdefault(row["station_id"], {})
        mine[f"conflicts.{row['kind']}"] = int(row["conflicts"])
    return counts


def live_counter(document: dict[str, Any], counter: str) -> int:
    """A counter of a live ``day:`` view; ``conflicts.<kind>`` reads its ``conflicts``."""
    if counter.startswith("conflicts."):
        return int(document.get("conflicts", {}).get(counter.removeprefix("conflicts."), 0))
    return int(document.get(counter, 0))


def reconcile(
    warehouse: Warehouse,
    network: Network,
    live_views: dict[str, dict[str, Any]],
    days: list[date],
    grace: timedelta,
) -> tuple[int, list[Difference]]:
    """Compare every station's closed-window counters; returns (windows checked, differences)."""
    differences: list[Difference] = []
    checked = 0
    for day in days:
        stored = warehouse_counts(warehouse, network, day, grace)
        live = {
            doc["station_id"]: doc
            for name, doc in live_views.items()
            if name.startswith(f"day:{day.isoformat()}:")
        }
        for station in sorted(set(stored) | set(live)):
            checked += 1
            for counter in COMPARED:
                a = live_counter(live.get(station, {}), counter)
                b = int(stored.get(station, {}).get(counter, 0))
                if a != b:
                    differences.append(Difference(day.isoformat(), station, counter, a, b))
    return checked, differences
