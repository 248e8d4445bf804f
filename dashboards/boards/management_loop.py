"""管理闭环: design → publish → live monitoring → heat, per period."""

from __future__ import annotations

from dashboards.boards.common import COUNTS_STAT, heat_bars, hot_activities, type_counts
from dashboards.boards.station import station_variable
from dashboards.model import FORMAT_TIME_SERIES, Dashboard, Panel, Query
from dashboards.sql import TZ, held_activities, local_days, registrations_of, station_filter


def management_loop(db: str) -> Dashboard:
    where = station_filter("r.station_id")
    panels = [
        type_counts(
            db,
            "活动设计与发布",
            {
                "设计": "activity.designed",
                "发布": "activity.published",
                "变更": "activity.updated",
                "取消": "activity.cancelled",
            },
            width=12,
        ),
        Panel(
            title="设计到发布用时",
            type="stat",
            description="期间发布的活动，从设计到发布的小时数（中位数与 90 分位）。",
            query=Query(
                f"""
                SELECT quantileExact(0.5)(lead_h) AS `中位数`,
                       quantileExact(0.9)(lead_h) AS `90 分位`
                FROM (
                    SELECT dateDiff('second', designed_at, published_at) / 3600 AS lead_h
                    FROM {db}.activity_state
                    WHERE activity_id IN (
                            SELECT activity_id FROM {db}.activity_states
                            WHERE published_at >= $__fromTime AND published_at < $__toTime)
                      AND published AND designed_at > toDateTime64(0, 3)
                      AND published_at >= $__fromTime AND published_at < $__toTime
                      AND {station_filter("station_id")}
                )
                """,
                columns=("中位数", "90 分位"),
            ),
            width=12,
            height=5,
            unit="h",
            decimals=1,
            options=COUNTS_STAT,
        ),
        Panel(
            title="设计、发布与取消（按日）",
            type="timeseries",
            query=Query(
                f"""
                SELECT toDateTime(day, '{TZ}') AS time,
                       sumIf(events, type = 'activity.designed') AS `设计`,
                       sumIf(events, type = 'activity.published') AS `发布`,
                       sumIf(events, type = 'activity.cancelled') AS `取消`
                FROM {db}.rollup_daily AS r
                WHERE type IN ('activity.designed', 'activity.published', 'activity.cancelled')
                  AND {local_days("day")}
                  AND {where}
                GROUP BY time ORDER BY time
                """,
                columns=("time", "设计", "发布", "取消"),
                format=FORMAT_TIME_SERIES,
            ),
            width=24,
            height=8,
        ),
        Panel(
            title="动态监测：活动报名与到场",
            type="table",
            description="期间开始的活动：名额、有效报名、签到（到场 ÷ 报名；计至期末后两天）。",
            query=Query(
                f"""
                WITH {held_activities(db, station_filter("station_id"))},
                regs AS ({registrations_of(db, "(SELECT arrayJoin(held_ids))")}),
                visits AS (
                    -- check-ins of those activities, recorded up to two days after the range
                    SELECT activity_id, sum(events) AS n FROM {db}.rollup_hourly
                    WHERE type = 'checkin.recorded'
                      AND hour >= toStartOfHour($__fromTime)
                      AND hour < $__toTime + INTERVAL 2 DAY
                      AND activity_id IN (SELECT arrayJoin(held_ids))
                    GROUP BY activity_id
                )
                SELECT h.activity_id AS `活动`, p.name AS `项目`, s.name AS `站点`,
                       h.starts_at AS `开始时间`, h.capacity AS `名额`,
                       ifNull(r.n, 0) AS `报名`, ifNull(v.n, 0) AS `签到`,
                       if(`报名` = 0, NULL, `签到` / `报名`) AS `到场率`
                FROM held AS h
                LEFT JOIN regs AS r ON r.activity_id = h.activity_id
                LEFT JOIN visits AS v ON v.activity_id = h.activity_id
                LEFT JOIN {db}.programs AS p ON p.program = h.program
                LEFT JOIN {db}.stations AS s ON s.station_id = h.station_id
                ORDER BY `开始时间` DESC
                LIMIT 200
                """,
                columns=("活动", "项目", "站点", "开始时间", "名额", "报名", "签到", "到场率"),
            ),
            width=12,
            height=10,
        ),
        heat_bars(db, "项目热度", "项目", "a.program", "programs.program", True),
        hot_activities(db, width=24),
    ]
    return Dashboard(
        uid="sanjiang-management-loop",
        title="管理闭环",
        description="活动设计 → 活动发布 → 动态监测 → 热度分析。",
        panels=panels,
        variables=[station_variable(db)],
    )
