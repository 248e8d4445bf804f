"""What the command-center screen reads from the warehouse beside the live views: check-ins
per hour today against the same weekday a week earlier, the demands still open and the
dispatches overdue, activities' titles, and a station's activities of a day for the
drill-down. Each statement reads rollups or a bounded set of rows, never all of history.

"Latest" is by (``occurred_at``, ``event_id`` as text), the order used everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from projections.warehouse import Warehouse, ch_datetime

#: activity ids asked about at once, at most
MAX_ACTIVITIES = 100


def _local_day(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tz)
    return start, datetime.combine(day + timedelta(days=1), time(), tz)


def checkins_by_hour(warehouse: Warehouse, tz: ZoneInfo, day: date) -> dict[str, list[int]]:
    """Check-ins in each local hour (0-23) of ``day`` and of the same weekday a week before."""
    out: dict[str, list[int]] = {}
    for name, when in (("today", day), ("last_week", day - timedelta(days=7))):
        start, end = _local_day(when, tz)
        rows = warehouse.query(
            f"SELECT toHour(hour, 'Asia/Shanghai') AS h, sum(events) AS n "
            f"FROM {warehouse.database}.rollup_hourly "
            "WHERE type = 'checkin.recorded' AND hour >= {start:DateTime64(3,'UTC')} "
            "AND hour < {end:DateTime64(3,'UTC')} GROUP BY h",
            {"start": ch_datetime(start), "end": ch_datetime(end)},
        ).dicts()
        hours = [0] * 24
        for row in rows:
            hours[int(row["h"])] = int(row["n"])
        out[name] = hours
    return out


def demand_counts(warehouse: Warehouse) -> dict[str, Any]:
    """Demands not answered nor closed (``open``) and, of those, the ones whose dispatch went
    overdue (``overdue``), for the network and by station."""
    rows = warehouse.query(
        f"""
        SELECT station_id, countIf(not done) AS open, countIf(not done AND late) AS overdue
        FROM (
            SELECT station_id, demand_id,
                   max(type IN ('demand.answered', 'demand.closed')) AS done,
                   max(type = 'demand.overdue') AS late
            FROM {warehouse.database}.events
            WHERE type IN ('demand.submitted', 'demand.answered', 'demand.closed',
                           'demand.overdue')
              AND demand_id != ''
            GROUP BY station_id, demand_id
            HAVING max(type = 'demand.submitted')
        )
        GROUP BY station_id ORDER BY station_id
        """
    ).dicts()
    by_station = {
        r["station_id"]: {"open": int(r["open"]), "overdue": int(r["overdue"])} for r in rows
    }
    return {
        "open": sum(v["open"] for v in by_station.values()),
        "overdue": sum(v["overdue"] for v in by_station.values()),
        "by_station": by_station,
    }


_ACTIVITY_COLUMNS = """
    activity_id,
    argMax(JSONExtractString(payload, 'title'), (occurred_at, toString(event_id))) AS title,
    any(station_id) AS station_id
"""


def activity_titles(warehouse: Warehouse, activity_ids: list[str]) -> dict[str, dict[str, str]]:
    """Title and station of each published activity of ``activity_ids`` (at most
    ``MAX_ACTIVITIES``), by its latest publication or update naming a title."""
    ids = sorted(set(activity_ids))[:MAX_ACTIVITIES]
    if not ids:
        return {}
    rows = warehouse.query(
        f"SELECT {_ACTIVITY_COLUMNS} FROM {warehouse.database}.events "
        "WHERE type IN ('activity.published', 'activity.updated') "
        "AND activity_id IN {ids:Array(String)} "
        "AND JSONExtractString(payload, 'title') != '' GROUP BY activity_id",
        {"ids": ids},
    ).dicts()
    return {r["activity_id"]: {"title": r["title"], "station_id": r["station_id"]} for r in rows}


def station_activities(
    warehouse: Warehouse, tz: ZoneInfo, station_id: str, day: date
) -> list[dict[str, Any]]:
    """The station's published activities starting on ``day``: title, venue, times (local
    ISO), capacity, whether cancelled, registrations not cancelled, and residents checked in."""
    start, end = _local_day(day, tz)
    db = warehouse.database
    day_ids = (
        "station_id = {station:String} AND published = 1 "
        "AND starts_at >= {start:DateTime64(3,'UTC')} AND starts_at < {end:DateTime64(3,'UTC')}"
    )
    rows = warehouse.query(
        f"""
        SELECT s.activity_id AS activity_id, s.venue_id AS venue_id, s.capacity AS capacity,
               s.cancelled AS cancelled,
               formatDateTime(s.starts_at, '%Y-%m-%dT%H:%i:%S+08:00', 'Asia/Shanghai') AS starts,
               formatDateTime(s.ends_at, '%Y-%m-%dT%H:%i:%S+08:00', 'Asia/Shanghai') AS ends,
               ifNull(r.registered, 0) AS registered, ifNull(c.checked_in, 0) AS checked_in
        FROM (
            SELECT activity_id, venue_id, capacity, cancelled, starts_at, ends_at
            FROM {db}.activity_state
            WHERE {day_ids}
        ) AS s
        LEFT JOIN (
            SELECT activity_id,
                   length(arrayFilter(x -> NOT has(groupUniqArrayArray(cancelled), x),
                                      groupUniqArrayArray(submitted))) AS registered
            FROM {db}.activity_registrations
            WHERE activity_id IN (SELECT activity_id FROM {db}.activity_state WHERE {day_ids})
            GROUP BY activity_id
        ) AS r ON r.activity_id = s.activity_id
        LEFT JOIN (
            SELECT activity_id, uniqExact(resident) AS checked_in
            FROM {db}.activity_checkins
            WHERE activity_id IN (SELECT activity_id FROM {db}.activity_state WHERE {day_ids})
            GROUP BY activity_id
        ) AS c ON c.activity_id = s.activity_id
        ORDER BY s.starts_at, s.activity_id
        LIMIT 500
        """,
        {"station": station_id, "start": ch_datetime(start), "end": ch_datetime(end)},
    ).dicts()
    titles = activity_titles(warehouse, [r["activity_id"] for r in rows])
    return [
        {
            **r,
            "capacity": int(r["capacity"]),
            "cancelled": bool(r["cancelled"]),
            "registered": int(r["registered"]),
            "checked_in": int(r["checked_in"]),
            "title": titles.get(r["activity_id"], {}).get("title", r["activity_id"]),
        }
        for r in rows
    ]
