"""The four KPIs and the fill rate, exactly as DESIGN.md defines them — the one place they live.

Every KPI is computed for a period ``[start, end)`` (tz-aware; local dates are Asia/Shanghai)
and a scope (the network, a station, or a venue). A KPI whose denominator is zero is None.

- 场馆使用率 venue utilization: minutes of the scope's venues that are taken — the union of
  confirmed, not cancelled bookings and published, not cancelled activities held there —
  inside the venues' opening hours within the period, ÷ the opening minutes in the period.
  Overlaps count once (a minute is taken or not), so it never exceeds 1. Time is counted in
  whole minutes: an interval covers every minute it touches. A booking that ended as a no-show
  still held the venue, so it counts as taken.
- 项目精准率 project precision: Σ_c min(d_c, s_c) with d_c category c's share of demand
  (``demand.submitted`` + ``demand.voted`` occurring in the period in the scope) and s_c its share
  of the capacity of published, not cancelled activities starting in the period in the scope.
  Categories of the venue-booking family are left out of both: that demand is answered by
  bookable venue hours and measured by utilization (DESIGN.md, "Categories").
  Fill rate beside it: registrations not cancelled ÷ capacity of those same activities.
- 居民参与率 resident participation: distinct residents with a check-in in the period in the
  scope ÷ the residents the scope serves (a venue takes its station's population).
- 服务满意率 service satisfaction: of the evaluations occurring in the period in the scope, one
  per (resident, activity) — the latest by (occurred_at, event_id) — the share rated 4 or 5.

Activities, bookings and registrations count in their latest state (the ``*_state`` views).
Scope: a station's events are those its kiosks and consoles emitted (``station_id``); its
venues are its own; a venue scope takes the events at that venue (check-ins) or about the
activities held there (evaluations, registrations, capacity).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from projections.warehouse import Warehouse, ch_datetime
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy

ScopeKind = Literal["network", "station", "venue"]
EXCLUDED_FAMILIES = frozenset({"venue_booking"})


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must be tz-aware")
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")

    @classmethod
    def parse(cls, start: str, end: str, tz: tzinfo) -> Period:
        """From text: local dates (``end`` inclusive) or ISO date-times (local if naive).
        Raises ValueError with a readable message."""
        return cls(_moment(start, tz, end=False), _moment(end, tz, end=True))

    def local_days(self, network: Network) -> list[date]:
        """Every local date the period touches."""
        first = self.start.astimezone(network.tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(network.tz).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _moment(text: str, tz: tzinfo, end: bool) -> datetime:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + (timedelta(days=1) if end else timedelta())
            return datetime.combine(day, time(), tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected YYYY-MM-DD or an ISO date-time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    id: str | None = None

    @classmethod
    def network(cls) -> Scope:
        return cls("network")

    def stations(self, network: Network) -> list[str]:
        if self.kind == "network":
            return [s.id for s in network.stations]
        if self.kind == "station":
            network.station(self.id or "")
            return [self.id or ""]
        return [network.venue_station[self._venue(network)]]

    def venues(self, network: Network) -> list[str]:
        if self.kind == "venue":
            return [self._venue(network)]
        return [v.id for s in self.stations(network) for v in network.station(s).venues]

    def population(self, network: Network) -> int:
        if self.kind == "network":
            return network.population()
        return network.population(self.stations(network)[0])

    def _venue(self, network: Network) -> str:
        if self.id not in network.venues:
            raise KeyError(f"unknown venue {self.id!r}")
        return self.id


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of one period and scope, with the counts behind each ratio."""

    scope: str
    scope_id: str | None
    start: str
    end: str
    venue_utilization: float | None
    taken_hours: float
    open_hours: float
    project_precision: float | None
    demand_events: int
    supplied_capacity: int
    fill_rate: float | None
    registrations: int
    resident_participation: float | None
    participants: int
    population: int
    service_satisfaction: float | None
    satisfied_evaluations: int
    evaluations: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator, or None when the denominator is zero (never 0 for "no data")."""
    return None if denominator == 0 else numerator / denominator


UTILIZATION_SQL = """
WITH
    opening AS (
        SELECT h.venue_id AS venue_id,
               toUInt32(intDiv(toUnixTimestamp(toDateTime(d, 'Asia/Shanghai')), 60)) AS midnight,
               arrayJoin(range(midnight + h.open_min, midnight + h.close_min)) AS minute
        FROM {db}.venue_hours AS h
        ARRAY JOIN {days:Array(Date)} AS d
        WHERE h.venue_id IN {venues:Array(String)} AND toDayOfWeek(d) = h.weekday
    ),
    opening_in_period AS (
        SELECT venue_id, minute FROM opening
        WHERE minute >= intDiv(toUnixTimestamp({start:DateTime64(3, 'UTC')}), 60)
          AND minute < intDiv(toUnixTimestamp({end:DateTime64(3, 'UTC')}) + 59, 60)
    ),
    taken AS (
        SELECT venue_id, starts_at, ends_at FROM {db}.booking_state
        WHERE confirmed AND NOT cancelled AND venue_id IN {venues:Array(String)}
          AND starts_at < {end:DateTime64(3, 'UTC')} AND ends_at > {start:DateTime64(3, 'UTC')}
        UNION ALL
        SELECT venue_id, starts_at, ends_at FROM {db}.activity_state
        WHERE published AND NOT cancelled AND venue_id IN {venues:Array(String)}
          AND starts_at < {end:DateTime64(3, 'UTC')} AND ends_at > {start:DateTime64(3, 'UTC')}
    ),
    taken_minutes AS (
        SELECT DISTINCT venue_id,
               arrayJoin(range(
                   toUInt32(intDiv(toUnixTimestamp(starts_at), 60)),
                   toUInt32(intDiv(toUnixTimestamp(ends_at) + 59, 60))
               )) AS minute
        FROM taken
    )
SELECT count() AS open_minutes, countIf(t.venue_id != '') AS taken_minutes
FROM opening_in_period AS o
LEFT JOIN taken_minutes AS t ON o.venue_id = t.venue_id AND o.minute = t.minute
"""

PRECISION_SQL = """
WITH
    demand AS (
        SELECT category, count() AS n
        FROM {db}.events
        WHERE type IN ('demand.submitted', 'demand.voted')
          AND occurred_at >= {start:DateTime64(3, 'UTC')}
          AND occurred_at < {end:DateTime64(3, 'UTC')}
          AND station_id IN {stations:Array(String)}
          AND category NOT IN {excluded:Array(String)}
        GROUP BY category
    ),
    supplied AS (
        SELECT activity_id, category, capacity
        FROM {db}.activity_state
        WHERE published AND NOT cancelled
          AND starts_at >= {start:DateTime64(3, 'UTC')} AND starts_at < {end:DateTime64(3, 'UTC')}
          AND venue_id IN {venues:Array(String)}
          AND category NOT IN {excluded:Array(String)}
    ),
    supply AS (SELECT category, sum(capacity) AS cap FROM supplied GROUP BY category),
    totals AS (
        SELECT (SELECT sum(n) FROM demand) AS d_total, (SELECT sum(cap) FROM supply) AS s_total
    )
SELECT
    (SELECT d_total FROM totals) AS demand_events,
    (SELECT s_total FROM totals) AS capacity,
    (SELECT sum(least(d.n / (SELECT d_total FROM totals), s.cap / (SELECT s_total FROM totals)))
       FROM demand AS d INNER JOIN supply AS s ON d.category = s.category) AS overlap,
    (SELECT count() FROM {db}.registration_state
       WHERE submitted AND NOT cancelled
         AND activity_id IN (SELECT activity_id FROM supplied)) AS registrations
"""

PARTICIPATION_SQL = """
SELECT uniqExact(resident)
FROM {db}.events
WHERE type = 'checkin.recorded'
  AND occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}
  AND station_id IN {stations:Array(String)}
  AND ({venue_scope:UInt8} = 0 OR venue_id IN {venues:Array(String)})
  AND resident != ''
"""

SATISFACTION_SQL = """
SELECT countIf(rating >= 4) AS satisfied, count() AS evaluations
FROM (
    SELECT resident, activity_id, argMax(rating, (occurred_at, event_id)) AS rating
    FROM {db}.events
    WHERE type = 'evaluation.submitted'
      AND occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}
      AND station_id IN {stations:Array(String)}
      AND ({venue_scope:UInt8} = 0 OR activity_id IN (
            SELECT activity_id FROM {db}.activity_state WHERE venue_id IN {venues:Array(String)}))
    GROUP BY resident, activity_id
)
"""


def compute_kpis(
    warehouse: Warehouse, network: Network, taxonomy: Taxonomy, period: Period, scope: Scope
) -> KpiReport:
    """All KPIs for one period and scope, from the warehouse."""
    db = warehouse.database
    stations, venues = scope.stations(network), scope.venues(network)
    excluded = [c.id for c in taxonomy.categories if c.family in EXCLUDED_FAMILIES]
    params: dict[str, Any] = {
        "start": ch_datetime(period.start),
        "end": ch_datetime(period.end),
        "stations": stations,
        "venues": venues,
        "days": [d.isoformat() for d in period.local_days(network)],
        "excluded": excluded,
        "venue_scope": 1 if scope.kind == "venue" else 0,
    }

    def run(sql: str) -> list[Any]:
        used = {k: v for k, v in params.items() if "{" + k + ":" in sql}
        return warehouse.query(sql.replace("{db}", db), used).rows[0]

    open_minutes, taken_minutes = run(UTILIZATION_SQL)
    demand_events, capacity, overlap, registrations = run(PRECISION_SQL)
    (participants,) = run(PARTICIPATION_SQL)
    satisfied, evaluations = run(SATISFACTION_SQL)
    population = scope.population(network)
    demand_events, capacity = int(demand_events or 0), int(capacity or 0)
    return KpiReport(
        scope=scope.kind,
        scope_id=scope.id,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        venue_utilization=ratio(taken_minutes, open_minutes),
        taken_hours=taken_minutes / 60,
        open_hours=open_minutes / 60,
        project_precision=None if demand_events == 0 or capacity == 0 else float(overlap or 0.0),
        demand_events=demand_events,
        supplied_capacity=capacity,
        fill_rate=ratio(int(registrations), capacity),
        registrations=int(registrations),
        resident_participation=ratio(int(participants), population),
        participants=int(participants),
        population=population,
        service_satisfaction=ratio(int(satisfied), int(evaluations)),
        satisfied_evaluations=int(satisfied),
        evaluations=int(evaluations),
    )
