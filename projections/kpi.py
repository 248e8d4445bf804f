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
  bookable venue hours and measured by utilization (DESIGN.md, "Categories"). Computed as
  Σ_c min(d_c·S, s_c·D) / (D·S) with D the demand events and S the capacity: integers, divided
  once, so the live fold's value (``streams.kpis``, ``sanjiang.kpis``) is the same double.
  Fill rate beside it: registrations not cancelled ÷ capacity of those same activities.
- 居民参与率 resident participation: distinct residents with a check-in in the period in the
  scope at a venue the network knows ÷ the residents the scope serves (a venue takes its
  station's population).
- 服务满意率 service satisfaction: of the evaluations occurring in the period in the scope, one
  per (resident, activity) — the latest by ``projections.order.VERSION`` — from a resident who
  attended (a check-in naming the activity, or one at its venue during it), the share rated 4
  or 5.
- Conflicts beside them (``sanjiang.conflicts``, judged by ``projections.conflicts``): the
  check-ins of the period and scope by kind of conflict (``participation_conflicts`` in all;
  only ``unknown_venue`` ones are left out of participation) and the evaluations left out of
  satisfaction (``satisfaction_conflicts``, the kind ``not_attended``). Utilization and
  precision are computed from decisions alone: they have none.

Activities, bookings and registrations count in their latest state (the ``*_state`` views over
the ``*_states`` tables of migration 0006). The statements never fold all of history: they find
the few activities and bookings a period can involve from the state tables' rows, then fold just
those (a filter on a view's GROUP BY key is pushed into it). The fill rate counts the
registrations submitted under one of the supplied activities and cancelled under none of them
(by the activity each event names; ``activity_places``, migration 0016, keeps each
registration filed under an activity): a registration whose events name different activities
— a cancellation naming another activity than the submission did — is judged from the events
under the supplied ones only, where ``registration_state`` would fold all of them.
Reconciliation reads what the live fold saw (``compute_kpis(admitted_within=…)``): the state
tables are then folded from the admitted events themselves (``ACTIVITIES_ADMITTED``,
``BOOKINGS_ADMITTED``, ``projections.conflicts.PLACES_ADMITTED``).
Scope: a station's events are those its kiosks and consoles emitted (``station_id``); its
venues are its own; a venue scope takes the events at that venue (check-ins) or about the
activities held there (evaluations, registrations, capacity).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any, Literal

from projections.conflicts import (
    ADMIT_IN_WINDOW,
    CHECKINS_JUDGED,
    FIRSTS_ADMITTED,
    FIRSTS_STORED,
    PLACES_ADMITTED,
    PLACES_STORED,
    RULES_ADMITTED,
    RULES_STORED,
    evaluations_judged,
)
from projections.order import NO_VERSION_ITEMS, VERSION_ITEMS
from projections.warehouse import Warehouse, ch_datetime
from sanjiang.conflicts import CHECKIN_KINDS, NOT_ATTENDED
from sanjiang.kpis import EXCLUDED_FAMILIES
from sanjiang.network import Network

ScopeKind = Literal["network", "station", "venue"]
__all__ = ["EXCLUDED_FAMILIES", "KpiReport", "Period", "Scope", "compute_kpis"]


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
    #: check-ins of the period and scope with a conflict (any kind; those at unknown venues
    #: are left out of participation)
    participation_conflicts: int
    #: evaluations left out of satisfaction: their resident did not attend
    satisfaction_conflicts: int
    #: conflicts by kind (``sanjiang.conflicts.KINDS``), every kind present
    conflicts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KpiSql:
    """How a KPI statement names its period and scope. The statements below are templates with
    ``{db}``, ``{start}``, ``{end}`` (DateTime64 expressions), ``{stations}`` and ``{venues}``
    (sets usable after ``IN``) and ``{venue_scope}`` (0 or 1); ``bound()`` fills them with
    server-side query parameters (the API and CLI), ``dashboards`` with Grafana macros — so the
    dashboards show the very numbers ``GET /v1/kpis`` returns. ``{admit}``, ``{firsts}``,
    ``{rules}`` and ``{places}`` say which events judge conflicts (``projections.conflicts``),
    ``{activities}``, ``{bookings}`` and ``{places}`` which decisions utilization and precision
    read: every stored one, unless reconciliation asks for those the live fold saw."""

    db: str
    start: str
    end: str
    stations: str
    venues: str
    venue_scope: str
    admit: str = "1"
    firsts: str = FIRSTS_STORED
    rules: str = RULES_STORED
    places: str = PLACES_STORED
    activities: str = "{db}.activity_states"
    bookings: str = "{db}.booking_states"

    @classmethod
    def bound(cls, db: str, venue_scope: bool) -> KpiSql:
        """Placeholders for ``start``, ``end``, ``stations`` and ``venues`` query parameters."""
        return cls(
            db=db,
            start="{start:DateTime64(3, 'UTC')}",
            end="{end:DateTime64(3, 'UTC')}",
            stations="{stations:Array(String)}",
            venues="{venues:Array(String)}",
            venue_scope="1" if venue_scope else "0",
        )

    def render(self, template: str) -> str:
        text = template
        # firsts, rules, places, activities, bookings and admit first: their text holds {db}
        # and {admit}
        for name in (
            "firsts",
            "rules",
            "places",
            "activities",
            "bookings",
            "admit",
            "db",
            "start",
            "end",
            "stations",
            "venues",
            "venue_scope",
        ):
            text = text.replace("{" + name + "}", getattr(self, name))
        return text


#: Reconciliation: the admitted activity decisions, a row each, as ``activity_states`` keeps
#: them (an event that sets no value gives the smallest tuple, which reads as none).
ACTIVITIES_ADMITTED = f"""(
            SELECT activity_id,
                   if(type = 'activity.published',
                      ({VERSION_ITEMS}, station_id, category, program),
                      ({NO_VERSION_ITEMS}, '', '', '')) AS published_v,
                   if(type IN ('activity.published', 'activity.updated') AND venue_id != '',
                      ({VERSION_ITEMS}, venue_id), ({NO_VERSION_ITEMS}, '')) AS venue_v,
                   if(type IN ('activity.published', 'activity.updated')
                          AND starts_at IS NOT NULL,
                      ({VERSION_ITEMS}, assumeNotNull(starts_at)),
                      ({NO_VERSION_ITEMS}, toDateTime64('1900-01-01', 3, 'UTC'))) AS starts_v,
                   if(type IN ('activity.published', 'activity.updated') AND ends_at IS NOT NULL,
                      ({VERSION_ITEMS}, assumeNotNull(ends_at)),
                      ({NO_VERSION_ITEMS}, toDateTime64('1900-01-01', 3, 'UTC'))) AS ends_v,
                   if(type IN ('activity.published', 'activity.updated') AND capacity > 0,
                      ({VERSION_ITEMS}, capacity),
                      ({NO_VERSION_ITEMS}, toUInt32(0))) AS capacity_v,
                   toUInt8(type = 'activity.published') AS published,
                   toUInt8(type = 'activity.cancelled') AS cancelled
            FROM {{db}}.events
            WHERE type IN ('activity.designed', 'activity.published', 'activity.updated',
                           'activity.cancelled')
              AND {{admit}})"""
#: Reconciliation: the admitted booking decisions, a row each, as ``booking_states`` keeps them.
BOOKINGS_ADMITTED = f"""(
            SELECT booking_id,
                   if(type = 'booking.confirmed',
                      ({VERSION_ITEMS}, venue_id, assumeNotNull(starts_at),
                       assumeNotNull(ends_at)),
                      ({NO_VERSION_ITEMS}, '', toDateTime64('1900-01-01', 3, 'UTC'),
                       toDateTime64('1900-01-01', 3, 'UTC'))) AS confirmed_v,
                   toUInt8(type = 'booking.confirmed') AS confirmed,
                   toUInt8(type = 'booking.cancelled') AS cancelled
            FROM {{db}}.events
            WHERE type IN ('booking.requested', 'booking.confirmed', 'booking.rejected',
                           'booking.cancelled', 'booking.no_show')
              AND {{admit}})"""

#: Local days the period touches (its end is exclusive).
_DAYS = """arrayMap(i -> addDays(toDate({start}, 'Asia/Shanghai'), i), range(toUInt32(
            dateDiff('day', toDate({start}, 'Asia/Shanghai'),
                     toDate(subtractMilliseconds({end}, 1), 'Asia/Shanghai')) + 1)))"""

#: Categories left out of precision: the venue-booking family (see the module docstring).
_EXCLUDED = (
    "(SELECT category FROM {db}.categories WHERE family IN ("
    + ", ".join(f"'{family}'" for family in sorted(EXCLUDED_FAMILIES))
    + "))"
)

#: Ids of activities whose latest end may lie after the period's start. The latest end is one
#: of the values the ``activity_states`` rows hold (a row whose events did not set it holds
#: 1900-01-01, which never passes), so these rows tell which activities can qualify; their
#: latest state is then looked up by id and filtered exactly. (Testing the start as well would
#: cost a second pass over the ids for a few rows less.) The activities starting in the period
#: are found the same way.
_ACTIVITIES_OVERLAPPING = """(
            SELECT activity_id FROM {activities} WHERE ends_v.3 > {start})"""
_ACTIVITIES_STARTING = """(
            SELECT activity_id FROM {activities}
            WHERE starts_v.3 >= {start} AND starts_v.3 < {end})"""
#: Bookings whose latest confirmation may overlap the period (venue, start and end come from
#: one confirmation, so some confirmation overlaps it).
_BOOKINGS_OVERLAPPING = """(
            SELECT booking_id FROM {bookings}
            WHERE confirmed_v.4 < {end} AND confirmed_v.5 > {start})"""

UTILIZATION_SQL = f"""
WITH
    opening AS (
        SELECT h.venue_id AS venue_id,
               toInt64(intDiv(toUnixTimestamp(toDateTime(d, 'Asia/Shanghai')), 60)) AS midnight,
               greatest(midnight + h.open_min, toInt64(intDiv(toUnixTimestamp({{start}}), 60)))
                   AS lo,
               least(midnight + h.close_min,
                     toInt64(intDiv(toUnixTimestamp({{end}}) + 59, 60))) AS hi
        FROM {{db}}.venue_hours AS h
        ARRAY JOIN {_DAYS} AS d
        WHERE h.venue_id IN {{venues}} AND toDayOfWeek(d) = h.weekday
    ),
    -- The latest state of the candidates, folded from the state tables as the *_state views
    -- fold it (read directly: the views' NULL for "never set" cannot occur here, since a
    -- confirmation and a publication set venue, start and end).
    taken AS (
        SELECT max(confirmed_v).3 AS venue_id, max(confirmed_v).4 AS starts_at,
               max(confirmed_v).5 AS ends_at
        FROM {{bookings}}
        WHERE booking_id IN {_BOOKINGS_OVERLAPPING}
        GROUP BY booking_id
        HAVING max(confirmed) = 1 AND max(cancelled) = 0 AND venue_id IN {{venues}}
           AND starts_at < {{end}} AND ends_at > {{start}}
        UNION ALL
        SELECT max(venue_v).3 AS venue_id, max(starts_v).3 AS starts_at,
               max(ends_v).3 AS ends_at
        FROM {{activities}}
        WHERE activity_id IN {_ACTIVITIES_OVERLAPPING}
        GROUP BY activity_id
        HAVING max(published) = 1 AND max(cancelled) = 0 AND venue_id IN {{venues}}
           AND starts_at < {{end}} AND ends_at > {{start}}
    ),
    -- each venue's taken intervals in whole minutes (every minute they touch), by start
    spans AS (
        SELECT venue_id,
               arraySort(groupArray((
                   toInt64(intDiv(toUnixTimestamp(starts_at), 60)),
                   toInt64(intDiv(toUnixTimestamp(ends_at) + 59, 60))))) AS spans
        FROM taken
        GROUP BY venue_id
    ),
    counted AS (
        -- Each opening interval [lo, hi) once, with the minutes of it its venue's spans cover:
        -- a fold over the spans in start order adds what each adds past the reach of those
        -- before it, so overlaps count once. No spans: an empty array, nothing taken.
        SELECT
            toUInt64(sum(greatest(o.hi - o.lo, 0))) AS open_minutes,
            toUInt64(sum(arrayFold(
                (acc, t) -> (acc.1 + greatest(least(t.2, o.hi) - greatest(t.1, acc.2), 0),
                             greatest(acc.2, least(t.2, o.hi))),
                s.spans, (toInt64(0), o.lo)).1)) AS taken_minutes
        FROM opening AS o LEFT JOIN spans AS s ON o.venue_id = s.venue_id
    )
SELECT if(open_minutes = 0, NULL, taken_minutes / open_minutes) AS venue_utilization,
       taken_minutes / 60 AS taken_hours, open_minutes / 60 AS open_hours
FROM counted
"""

PRECISION_SQL = f"""
WITH
    -- the supplied activities, computed once (a scalar subquery) as (id, category, capacity),
    -- folded from activity_states as the activity_state view folds them
    (
        SELECT groupArray((activity_id, category, capacity))
        FROM (
            SELECT activity_id, max(published_v).4 AS category, max(capacity_v).3 AS capacity
            FROM {{activities}}
            WHERE activity_id IN {_ACTIVITIES_STARTING}
            GROUP BY activity_id
            HAVING max(published) = 1 AND max(cancelled) = 0
               AND max(starts_v).3 >= {{start}} AND max(starts_v).3 < {{end}}
               AND max(venue_v).3 IN {{venues}}
               AND category NOT IN {_EXCLUDED}
        )
    ) AS supplied,
    arrayMap(a -> a.1, supplied) AS supplied_ids,
    demand AS (
        SELECT groupArray(category) AS categories, groupArray(n) AS counts, sum(n) AS total
        FROM (
            SELECT category, count() AS n
            FROM {{db}}.events
            WHERE type IN ('demand.submitted', 'demand.voted')
              AND occurred_at >= {{start}} AND occurred_at < {{end}}
              AND station_id IN {{stations}}
              AND category NOT IN {_EXCLUDED}
              AND {{admit}}
            GROUP BY category
        )
    ),
    supply AS (
        SELECT groupArray(category) AS categories, groupArray(cap) AS capacities,
               sum(cap) AS total
        FROM (
            SELECT a.2 AS category, sum(a.3) AS cap
            FROM (SELECT arrayJoin(supplied) AS a)
            GROUP BY category
        )
    ),
    -- Registrations not cancelled of these activities: submitted under one of them (a
    -- resident's place) and cancelled under none (rows: each registration per activity).
    registered AS (
        SELECT toUInt64(count()) AS n
        FROM (
            SELECT registration_id
            FROM {{places}}
            WHERE activity_id IN (SELECT arrayJoin(supplied_ids))
            GROUP BY registration_id
            HAVING notEmpty(groupUniqArrayArray(residents)) AND max(cancelled) = 0
        )
    ),
    -- Σ_c min(d_c / D, s_c / S) = Σ_c min(d_c·S, s_c·D) / (D·S): integers summed, divided
    -- once (sanjiang/kpis.py: the live fold's very arithmetic, equal to the last bit)
    counted AS (
        SELECT
            toUInt64(demand.total) AS demand_events,
            toUInt64(supply.total) AS supplied_capacity,
            arraySum(arrayMap(
                (c, n) -> if(has(supply.categories, c),
                             least(n * supply.total,
                                   supply.capacities[indexOf(supply.categories, c)]
                                   * demand.total),
                             0),
                demand.categories, demand.counts)) AS overlap,
            registered.n AS registrations
        FROM demand CROSS JOIN supply CROSS JOIN registered
    )
SELECT if(demand_events = 0 OR supplied_capacity = 0, NULL,
          overlap / (demand_events * supplied_capacity)) AS project_precision,
       demand_events, supplied_capacity,
       if(supplied_capacity = 0, NULL, registrations / supplied_capacity) AS fill_rate,
       registrations
FROM counted
"""

#: Participation, and beside it the check-ins of the period and scope by kind of conflict (one
#: column per kind; those at unknown venues are the ones left out): one read of the check-ins.
PARTICIPATION_SQL = f"""
WITH {CHECKINS_JUDGED},
    (SELECT toUInt64(sum(population)) FROM {{db}}.stations
     WHERE station_id IN (SELECT served_id FROM {{db}}.station_serves
                          WHERE station_id IN {{stations}})) AS population,
    counted AS (
        SELECT uniqExactIf(resident, owner != '' AND resident != '') AS participants,
               {", ".join(f"countIf(kind = '{kind}') AS {kind}" for kind in CHECKIN_KINDS)},
               countIf(kind != '') AS participation_conflicts
        FROM judged_checkins
    )
SELECT if(population = 0, NULL, participants / population) AS resident_participation,
       participants, population,
       {", ".join(CHECKIN_KINDS)}, participation_conflicts
FROM counted
"""

#: Satisfaction over the evaluations whose resident attended, and beside it those left out.
SATISFACTION_SQL = f"""
WITH {evaluations_judged(by_day=False)}
SELECT if(evaluations = 0, NULL, satisfied_evaluations / evaluations) AS service_satisfaction,
       countIf(came AND rating >= 4) AS satisfied_evaluations,
       countIf(came) AS evaluations, countIf(NOT came) AS satisfaction_conflicts
FROM judged_evaluations
"""

#: The KPI statements ``compute_kpis`` runs (side by side).
KPI_STATEMENTS: dict[str, str] = {
    "utilization": UTILIZATION_SQL,
    "precision": PRECISION_SQL,
    "participation": PARTICIPATION_SQL,
    "satisfaction": SATISFACTION_SQL,
}


@cache
def _statement_threads() -> ThreadPoolExecutor:
    """Threads that run a call's KPI statements side by side, made on first use and kept (a
    server warehouse keeps one HTTP client per thread, so the threads must outlive a call)."""
    return ThreadPoolExecutor(len(KPI_STATEMENTS), thread_name_prefix="kpi-statement")


def compute_kpis(
    warehouse: Warehouse,
    network: Network,
    period: Period,
    scope: Scope,
    admitted_within: timedelta | None = None,
) -> KpiReport:
    """All KPIs for one period and scope, from the warehouse (every ratio computed in SQL).

    ``admitted_within`` (reconciliation, ``projections.reconcile``): count only the events the
    live fold saw, those that reached the platform before their own local day's window closed
    (the day plus this grace; ``projections.conflicts.ADMIT_IN_WINDOW``). Decisions (the
    activities and bookings utilization and precision read from the state tables) are stamped
    received when they are made, so they are always admitted; they are read from the admitted
    events all the same, so any set of events reconciles.

    The four statements are independent and run at once, each from a thread of its own: a
    statement spends much of its time in steps ClickHouse runs on one core (building the sets
    of its ``IN`` subqueries, scalar subqueries, the final merge), so one after another they
    leave the other cores idle, and the call's latency was the sum of the four."""
    sql = KpiSql.bound(warehouse.database, venue_scope=scope.kind == "venue")
    params: dict[str, Any] = {
        "start": ch_datetime(period.start),
        "end": ch_datetime(period.end),
        "stations": scope.stations(network),
        "venues": scope.venues(network),
    }
    if admitted_within is not None:
        sql = replace(
            sql,
            admit=ADMIT_IN_WINDOW,
            firsts=FIRSTS_ADMITTED,
            rules=RULES_ADMITTED,
            places=PLACES_ADMITTED,
            activities=ACTIVITIES_ADMITTED,
            bookings=BOOKINGS_ADMITTED,
        )
        params["grace_s"] = int(admitted_within.total_seconds())

    def run(template: str) -> dict[str, Any]:
        text = sql.render(template)
        used = {k: v for k, v in params.items() if "{" + k + ":" in text}
        return warehouse.query(text, used).dicts()[0]

    figures: dict[str, Any] = {}
    for result in _statement_threads().map(run, KPI_STATEMENTS.values()):
        figures.update({name: _plain(value) for name, value in result.items()})
    conflicts = {kind: figures[kind] for kind in CHECKIN_KINDS}
    conflicts[NOT_ATTENDED] = figures["satisfaction_conflicts"]
    return KpiReport(
        scope=scope.kind,
        scope_id=scope.id,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        conflicts=conflicts,
        **{name: figures[name] for name in _FIGURES},
    )


_FIGURES = [
    f.name
    for f in fields(KpiReport)
    if f.name not in {"scope", "scope_id", "start", "end", "conflicts"}
]


def _plain(value: Any) -> Any:
    """JSON numbers as Python numbers (UInt64 arrives as text in ClickHouse JSON)."""
    return int(value) if isinstance(value, str) else value
