"""场馆使用: booking use against actual occupancy, and no-shows, per venue."""

from __future__ import annotations

from dashboards.boards.common import kpi_row, occupancy_now, type_counts
from dashboards.boards.station import station_variable
from dashboards.model import FORMAT_TIME_SERIES, Dashboard, Panel, Query
from dashboards.sql import station_filter


def venues(db: str) -> Dashboard:
    panels = [
        kpi_row(db, width=6)[0],
        type_counts(
            db,
            "预约情况",
            {
                "申请": "booking.requested",
                "确认": "booking.confirmed",
                "拒绝": "booking.rejected",
                "取消": "booking.cancelled",
                "爽约": "booking.no_show",
            },
            width=18,
        ),
        Panel(
            title="各场馆预约与实到",
            type="table",
            description=(
                "期间内与范围相交的已确认、未取消预约的时长（重叠各自计入），签到人次与爽约次数。"
                "场馆使用率（去重叠、限开放时间）见左上。"
            ),
            query=Query(
                f"""
                WITH bookings AS (
                    SELECT venue_id, count() AS n,
                           sum(dateDiff('second', greatest(starts_at, $__fromTime),
                                        least(ends_at, $__toTime))) / 3600 AS hours,
                           countIf(no_show) AS no_shows
                    FROM {db}.booking_state
                    WHERE booking_id IN (
                            SELECT booking_id FROM {db}.booking_states
                            WHERE confirmed_v.4 < $__toTime AND confirmed_v.5 > $__fromTime)
                      AND confirmed AND NOT cancelled
                      AND starts_at < $__toTime AND ends_at > $__fromTime
                    GROUP BY venue_id
                ),
                visits AS (
                    SELECT venue_id, sum(events) AS n, uniqExactMerge(residents) AS people
                    FROM {db}.rollup_hourly
                    WHERE type = 'checkin.recorded' AND $__timeFilter(hour)
                    GROUP BY venue_id
                )
                SELECT s.name AS `站点`, v.name AS `场馆`, v.capacity AS `容量`,
                       ifNull(b.n, 0) AS `预约次数`, round(ifNull(b.hours, 0), 1) AS `预约时长`,
                       ifNull(b.no_shows, 0) AS `爽约`,
                       if(`预约次数` = 0, NULL, `爽约` / `预约次数`) AS `爽约率`,
                       ifNull(x.n, 0) AS `签到人次`, ifNull(x.people, 0) AS `到访居民`
                FROM {db}.venues AS v
                INNER JOIN {db}.stations AS s ON s.station_id = v.station_id
                LEFT JOIN bookings AS b ON b.venue_id = v.venue_id
                LEFT JOIN visits AS x ON x.venue_id = v.venue_id
                WHERE {station_filter("v.station_id")}
                ORDER BY `预约时长` DESC, `签到人次` DESC
                """,
                columns=("站点", "场馆", "预约次数", "预约时长", "爽约", "爽约率", "签到人次"),
            ),
            width=24,
            height=11,
            overrides=(
                {
                    "matcher": {"id": "byName", "options": "爽约率"},
                    "properties": [{"id": "unit", "value": "percentunit"}],
                },
                {
                    "matcher": {"id": "byName", "options": "预约时长"},
                    "properties": [{"id": "unit", "value": "h"}],
                },
            ),
        ),
        Panel(
            title="签到与爽约（按时段）",
            type="timeseries",
            query=Query(
                f"""
                SELECT $__timeInterval(hour) AS time,
                       sumIf(events, type = 'checkin.recorded') AS `签到`,
                       sumIf(events, type = 'booking.no_show') AS `爽约`
                FROM {db}.rollup_hourly
                WHERE type IN ('checkin.recorded', 'booking.no_show')
                  AND $__timeFilter(hour) AND {station_filter()}
                GROUP BY time ORDER BY time
                """,
                columns=("time", "签到", "爽约"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=10,
        ),
        occupancy_now(db, width=12),
    ]
    return Dashboard(
        uid="sanjiang-venues",
        title="场馆使用",
        description="场馆预约利用与实际到场、爽约。",
        panels=panels,
        variables=[station_variable(db)],
    )
