"""Reconciliation: the live counters and KPIs of closed windows against the warehouse's.

For a closed window (a local day whose grace period has passed) the stream worker publishes
its final counters and KPIs per station (``day:<date>:<station>`` views, one for every station
of the network) and for the network (``day:<date>``). The warehouse counts the same things with
the same rules — events of that station occurring that day that reached the platform before
the window closed, once per ``event_id``; residents at venues the network knows; evaluations
once per (resident, activity), the latest, from residents who attended — and any difference is
reported. Conflicts too, by kind (``conflicts.<kind>``): the facts of the day are judged with
the events the live fold saw, each admitted if it reached the platform within its own day's
window (``projections.conflicts.ADMIT_IN_WINDOW``). And the four KPIs of the day for each
station and the network (``kpi.<name>``, and the counts behind each, ``kpi.<name>.<count>``),
``compute_kpis`` with those same events admitted: equal values, compared exactly (both sides
divide the same integers once: ``sanjiang.kpis``).

A day still open — its window takes late events — cannot be reconciled yet: callers split the
days first (``split_closed``). A closed day whose live views are missing or not final yet (the
worker has not published them since the window closed) is not compared either: it is listed
in ``not_final``, not reported as differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from projections.conflicts import (
    ADMIT_IN_WINDOW,
    CHECKIN_CONFLICTS_BY_DAY,
    EVALUATIONS_BY_DAY,
    FIRSTS_ADMITTED,
    PLACES_ADMITTED,
    RULES_ADMITTED,
)
from projections.kpi import KpiReport, KpiSql, Period, Scope, compute_kpis
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
    rules=RULES_ADMITTED,
    places=PLACES_ADMITTED,
)
WAREHOUSE_CHECKIN_CONFLICTS = _JUDGED.render(CHECKIN_CONFLICTS_BY_DAY)
WAREHOUSE_EVALUATIONS = _JUDGED.render(EVALUATIONS_BY_DAY)


#: The network's scope in differences (``station_id``) and its live view's name
NETWORK = "network"

#: KPI -> the counts beside it: their name in a live view's ``kpis`` block -> in ``KpiReport``
KPI_COUNTS: dict[str, dict[str, str]] = {
    "venue_utilization": {"taken_hours": "taken_hours", "open_hours": "open_hours"},
    "project_precision": {
        "demand_events": "demand_events",
        "supplied_capacity": "supplied_capacity",
        "fill_rate": "fill_rate",
        "registrations": "registrations",
    },
    "resident_participation": {
        "participants": "participants",
        "population": "population",
        "conflicts": "participation_conflicts",
    },
    "service_satisfaction": {
        "satisfied_evaluations": "satisfied_evaluations",
        "evaluations": "evaluations",
        "conflicts": "satisfaction_conflicts",
    },
}

Number = int | float | None


@dataclass(frozen=True)
class Difference:
    day: str
    station_id: str  #: or ``network``
    counter: str  #: a counter, ``conflicts.<kind>``, ``kpi.<name>`` or ``kpi.<name>.<count>``
    live: Number
    warehouse: Number


@dataclass
class Reconciliation:
    #: (day, scope) windows compared: every station of the network, any other station with
    #: counters, and the network, per closed day with final live views
    windows: int = 0
    differences: list[Difference] = field(default_factory=list)
    #: closed days not compared: the live views of the day are missing or still provisional
    not_final: list[date] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.not_final


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


def final(live_views: dict[str, dict[str, Any]], day: date) -> bool:
    """Whether the live views hold the final figures of ``day`` (its network view, rendered
    after its window closed, with the stations' views of the same tick)."""
    document = live_views.get(f"day:{day.isoformat()}")
    return document is not None and document.get("kpis", {}).get("provisional") is False


def kpi_differences(
    day: date, scope: str, live: dict[str, Any] | None, stored: KpiReport
) -> list[Difference]:
    """The KPIs of one day and scope, live (a view's ``kpis``) against the warehouse's,
    compared exactly; a station without a view compares as one without KPIs (all None)."""
    found: list[Difference] = []
    for kpi, counts in KPI_COUNTS.items():
        block = (live or {}).get(kpi) or {}
        pairs = [(f"kpi.{kpi}", block.get("value"), getattr(stored, kpi))]
        pairs += [
            (f"kpi.{kpi}.{name}", block.get(name), getattr(stored, attribute))
            for name, attribute in counts.items()
        ]
        for counter, a, b in pairs:
            if a != b:  # exactly (None only equals None)
                found.append(Difference(day.isoformat(), scope, counter, a, b))
    return found


def reconcile(
    warehouse: Warehouse,
    network: Network,
    live_views: dict[str, dict[str, Any]],
    days: list[date],
    grace: timedelta,
) -> Reconciliation:
    """Compare every station's and the network's closed-window counters and KPIs (``days``
    must be closed: ``split_closed``)."""
    result = Reconciliation()
    for day in days:
        if not final(live_views, day):
            result.not_final.append(day)
            continue
        stored = warehouse_counts(warehouse, network, day, grace)
        live = {
            doc["station_id"]: doc
            for name, doc in live_views.items()
            if name.startswith(f"day:{day.isoformat()}:")
        }
        start = datetime.combine(day, time(), network.tz)
        period = Period(start, start + timedelta(days=1))
        stations = {s.id for s in network.stations}
        for station in sorted(stations | set(stored) | set(live)):
            result.windows += 1
            for counter in COMPARED:
                a = live_counter(live.get(station, {}), counter)
                b = int(stored.get(station, {}).get(counter, 0))
                if a != b:
                    result.differences.append(Difference(day.isoformat(), station, counter, a, b))
            if station in stations:
                report = compute_kpis(
                    warehouse, network, period, Scope("station", station), admitted_within=grace
                )
                kpis = live.get(station, {}).get("kpis")
                result.differences += kpi_differences(day, station, kpis, report)
        result.windows += 1
        report = compute_kpis(warehouse, network, period, Scope.network(), admitted_within=grace)
        kpis = live_views[f"day:{day.isoformat()}"].get("kpis")
        result.differences += kpi_differences(day, NETWORK, kpis, report)
    return result
