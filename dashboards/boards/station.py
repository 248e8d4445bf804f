"""站点详情: one or several stations (variable, multi-select with All) — their KPIs, flows by
hour, activities and what each station did in the period."""

from __future__ import annotations

from dashboards.boards.common import hot_activities, kpi_row, occupancy_now
from dashboards.model import FORMAT_TIME_SERIES, Dashboard, Panel, Query, Variable
from dashboards.sql import held_activities, registrations_of, station_filter


def station_variable(db: str) -> Variable:
    return Variable(
        name="station",
        label="站点",
        sql=f"SELECT station_id, name FROM {db}.stations ORDER BY station_id",
    )


def station(db: str) -> Dashboard:
    where = station_filter()
    panels = [
        *kpi_row(db, width=5)[:4],
        kpi_row(db, width=4)[4],
        Panel(
            title="签到人次与参与居民",
            type="timeseries",
            query=Query(
                f"""
                SELECT $__timeInterval(hour) AS time, sum(events) AS `签到人次`,
                       uniqExactMerge(residents) AS `参与居民`
                FROM {db}.rollup_hourly
                WHERE type = 'checkin.recorded' AND $__timeFilter(hour) AND {where}
                GROUP BY time ORDER BY time
                """,
                columns=("time", "签到人次", "参与居民"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=8,
        ),
        Panel(
            title="需求、报名与预约",
            type="timeseries",
            query=Query(
                f"""
                SELECT $__timeInterval(hour) AS time,
                       sumIf(events, type IN ('demand.submitted', 'demand.voted')) AS `需求`,
                       sumIf(events, type = 'registration.submitted') AS `报名`,
                       sumIf(events, type = 'booking.confirmed') AS `预约确认`
                FROM {db}.rollup_hourly
                WHERE type IN ('demand.submitted', 'demand.voted', 'registration.submitted',
                               'booking.confirmed')
                  AND $__timeFilter(hour) AND {where}
                GROUP BY time ORDER BY time
                """,
                columns=("time", "需求", "报名", "预约确认"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=8,
        ),
        Panel(
            title="各站点概况",
            type="table",
            query=Query(
                f"""
                SELECT s.name AS `站点`,
                       sumIf(r.events, r.type = 'checkin.recorded') AS `签到人次`,
                       uniqExactMergeIf(r.residents, r.type = 'checkin.recorded') AS `参与居民`,
                       sumIf(r.events, r.type = 'registration.submitted') AS `报名`,
                       sumIf(r.events, r.type = 'booking.confirmed') AS `预约`,
                       sumIf(r.events, r.type = 'evaluation.submitted') AS `评价`,
                       sum(r.late_events) AS `迟到事件`
                FROM {db}.rollup_hourly AS r
                INNER JOIN {db}.stations AS s ON s.station_id = r.station_id
                WHERE r.type IN ('checkin.recorded', 'registration.submitted',
                                 'booking.confirmed', 'evaluation.submitted')
                  AND $__timeFilter(r.hour) AND {station_filter("r.station_id")}
                GROUP BY s.station_id, s.name ORDER BY `签到人次` DESC
                """,
                columns=("站点", "签到人次", "参与居民", "报名", "预约", "评价"),
            ),
            width=12,
            height=10,
        ),
        occupancy_now(db, width=12),
        Panel(
            title="期间活动",
            type="table",
            description="期间开始的已发布、未取消活动及其报名（有效报名 ÷ 名额）。",
            query=Query(
                f"""
                WITH {held_activities(db, station_filter("station_id"))}
                SELECT h.activity_id AS `活动`, p.name AS `项目`, c.name AS `类别`,
                       s.name AS `站点`, h.starts_at AS `开始时间`, h.capacity AS `名额`,
                       ifNull(r.n, 0) AS `报名`,
                       if(h.capacity = 0, NULL, `报名` / h.capacity) AS `满员率`
                FROM held AS h
                LEFT JOIN ({registrations_of(db, "(SELECT arrayJoin(held_ids))")}) AS r
                     ON r.activity_id = h.activity_id
                LEFT JOIN {db}.programs AS p ON p.program = h.program
                LEFT JOIN {db}.categories AS c ON c.category = h.category
                LEFT JOIN {db}.stations AS s ON s.station_id = h.station_id
                ORDER BY `开始时间` DESC
                LIMIT 200
                """,
                columns=("活动", "项目", "类别", "站点", "开始时间", "名额", "报名", "满员率"),
            ),
            width=12,
            height=10,
            overrides=(
                {
                    "matcher": {"id": "byName", "options": "满员率"},
                    "properties": [{"id": "unit", "value": "percentunit"}],
                },
            ),
        ),
        hot_activities(db, width=12),
    ]
    return Dashboard(
        uid="sanjiang-station",
        title="站点详情",
        description="按站点（可多选）查看指标、人流、活动与场馆。",
        panels=panels,
        variables=[station_variable(db)],
    )
