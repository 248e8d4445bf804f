"""History for analysts and dashboards: time series from the rollups, the service-loop funnel,
and heat rankings (``sanjiang.heat``'s definition, as SQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from projections.kpi import Period
from projections.warehouse import Warehouse, ch_datetime
from sanjiang.heat import HALF_LIFE_HOURS, HEAT_TYPES, heat_sql_expression

Interval = Literal["hour", "day"]
FunnelBy = Literal["category", "activity"]
HeatLevel = Literal["activity", "station", "category"]
#: Older events weigh less than 2^-10 of a new one: left out of heat sums.
HEAT_HORIZON = timedelta(hours=HALF_LIFE_HOURS * 10)


def timeseries(
    warehouse: Warehouse,
    event_type: str,
    period: Period,
    interval: Interval = "hour",
    *,
    station: str | None = None,
    venue: str | None = None,
    category: str | None = None,
    activity: str | None = None,
) -> list[dict[str, Any]]:
    """Events of one type (and distinct residents) per hour or local day, from the rollups;
    ``bucket`` is the hour's start as Shanghai time with its offset, or the local date.

    By day with no venue, category or activity asked, from ``rollup_station_daily`` (a row per
    station, day and type, so long periods read a fraction of what ``rollup_daily`` holds)."""
    db = warehouse.database
    if interval == "hour":
        table, bucket = f"{db}.rollup_hourly", "hour"
        bounds = (
            "hour >= toStartOfHour({start:DateTime64(3,'UTC')}) "
            "AND hour < {end:DateTime64(3,'UTC')}"
        )
    else:
        fine = venue is not None or category is not None or activity is not None
        table = f"{db}.rollup_daily" if fine else f"{db}.rollup_station_daily"
        bucket = "day"
        bounds = (
            "day >= toDate({start:DateTime64(3,'UTC')}, 'Asia/Shanghai') "
            "AND day < toDate({end:DateTime64(3,'UTC')}, 'Asia/Shanghai')"
        )
    filters = ["type = {type:String}", bounds]
    params: dict[str, Any] = {
        "type": event_type,
        "start": ch_datetime(period.start),
        "end": ch_datetime(period.end),
    }
    for column, value in (
        ("station_id", station),
        ("venue_id", venue),
        ("category", category),
        ("activity_id", activity),
    ):
        if value is not None:
            filters.append(f"{column} = {{{column}:String}}")
            params[column] = value
    # hours as local ISO 8601 time with the offset (2026-11-24T09:00:00+08:00); days as the
    # local date (2026-11-24): both are Shanghai's, and the hour says so
    label = (
        "concat(formatDateTime(hour, '%Y-%m-%dT%H:%i:%S', 'Asia/Shanghai'), '+08:00')"
        if interval == "hour"
        else "toString(day)"
    )
    sql = (
        f"SELECT {label} AS bucket, sum(events) AS events, "
        f"uniqExactMerge(residents) AS residents, sum(late_events) AS late_events, "
        f"sum(satisfied) AS satisfied FROM {table} WHERE {' AND '.join(filters)} "
        f"GROUP BY {bucket} ORDER BY {bucket}"
    )
    return warehouse.query(sql, params).dicts()


def funnel(warehouse: Warehouse, period: Period, by: FunnelBy = "category") -> list[dict[str, Any]]:
    """The service loop per category or activity: demand → registration → participation →
    evaluation, for events occurring in the period (activities mapped to their category).
    Demand is tied to categories, not activities: it is None in the per-activity funnel."""
    db = warehouse.database
    params = {"start": ch_datetime(period.start), "end": ch_datetime(period.end)}
    window = (
        "r.hour >= toStartOfHour({start:DateTime64(3,'UTC')}) "
        "AND r.hour < {end:DateTime64(3,'UTC')}"
    )
    key = "a.category" if by == "category" else "r.activity_id"
    rows = warehouse.query(
        f"""
        SELECT {key} AS key,
               sumIf(r.events, r.type = 'registration.submitted') AS registrations,
               sumIf(r.events, r.type = 'checkin.recorded') AS checkins,
               uniqExactMergeIf(r.residents, r.type = 'checkin.recorded') AS participants,
               sumIf(r.events, r.type = 'evaluation.submitted') AS evaluations,
               sumIf(r.satisfied, r.type = 'evaluation.submitted') AS satisfied
        FROM {db}.rollup_hourly AS r
        INNER JOIN (
            -- only the activities of the window: the view folds just those
            SELECT activity_id, category FROM {db}.activity_state
            WHERE activity_id IN (
                SELECT activity_id FROM {db}.rollup_hourly AS r
                WHERE r.type IN ('registration.submitted', 'checkin.recorded',
                                 'evaluation.submitted')
                  AND {window} AND r.activity_id != '')
        ) AS a ON a.activity_id = r.activity_id
        WHERE r.type IN ('registration.submitted', 'checkin.recorded', 'evaluation.submitted')
          AND {window} AND r.activity_id != ''
        GROUP BY key
        """,
        params,
    ).dicts()
    if by == "activity":
        return sorted(
            ({**r, "demand": None} for r in rows), key=lambda r: (-r["registrations"], r["key"])
        )
    demand = {
        row[0]: row[1]
        for row in warehouse.query(
            f"SELECT category, sum(events) FROM {db}.rollup_hourly AS r "
            f"WHERE type IN ('demand.submitted', 'demand.voted') AND {window} GROUP BY category",
            params,
        ).rows
    }
    empty = {"registrations": 0, "checkins": 0, "participants": 0, "evaluations": 0, "satisfied": 0}
    merged = {r["key"]: {**r, "demand": demand.get(r["key"], 0)} for r in rows}
    for category, count in demand.items():
        merged.setdefault(category, {"key": category, **empty, "demand": count})
    return sorted(merged.values(), key=lambda r: (-r["demand"], r["key"]))


def heat_ranking(
    warehouse: Warehouse, at: datetime, level: HeatLevel = "activity", limit: int = 20
) -> list[dict[str, Any]]:
    """The hottest activities, stations or categories at ``at`` (see ``sanjiang.heat``)."""
    db = warehouse.database
    key = {"activity": "e.activity_id", "station": "e.station_id", "category": "a.category"}[level]
    sql = f"""
        SELECT {key} AS key, round({heat_sql_expression()}, 3) AS heat, count() AS events
        FROM {db}.events AS e
        LEFT JOIN (
            -- only the activities of the window: the view folds just those
            SELECT activity_id, category FROM {db}.activity_state
            WHERE activity_id IN (
                SELECT activity_id FROM {db}.events
                WHERE type IN {{types:Array(String)}}
                  AND occurred_at > {{since:DateTime64(3,'UTC')}}
                  AND occurred_at <= {{at:DateTime64(3,'UTC')}}
                  AND activity_id != '')
        ) AS a ON a.activity_id = e.activity_id
        WHERE e.type IN {{types:Array(String)}}
          AND e.occurred_at > {{since:DateTime64(3,'UTC')}}
          AND e.occurred_at <= {{at:DateTime64(3,'UTC')}}
          AND {key} != ''
        GROUP BY key ORDER BY heat DESC, key LIMIT {{limit:UInt32}}
    """
    params = {
        "types": list(HEAT_TYPES),
        "since": ch_datetime(at - HEAT_HORIZON),
        "at": ch_datetime(at),
        "limit": limit,
    }
    return warehouse.query(sql, params).dicts()
