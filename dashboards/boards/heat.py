"""活动热度分析: heat by activity, category, station and hour of the week."""

from __future__ import annotations

from dashboards.boards.common import heat_bars
from dashboards.boards.station import station_variable
from dashboards.model import Dashboard, Panel, Query
from dashboards.sql import TZ, activities_of, heat, station_filter
from sanjiang.heat import EVALUATION_WEIGHT_PER_STAR, WEIGHTS

_WEEKDAYS = "['一', '二', '三', '四', '五', '六', '日']"


def _weighted() -> str:
    """Heat's weights without decay, over rollup rows (one definition: ``sanjiang.heat``)."""
    cases = ", ".join(f"type = '{t}', {w} * events" for t, w in WEIGHTS.items())
    return (
        f"multiIf({cases}, type = 'evaluation.submitted', "
        f"{EVALUATION_WEIGHT_PER_STAR} * rating_sum, 0)"
    )


def heat_analysis(db: str) -> Dashboard:
    hours = ",\n".join(f"round(sumIf(w, h = {h}), 1) AS `{h:02d}时`" for h in range(24))
    panels = [
        heat_bars(db, "类别热度", "类别", "a.category", "categories.category", True),
        heat_bars(db, "站点热度", "站点", "e.station_id", "stations.station_id"),
        Panel(
            title="活动热度排行",
            type="table",
            query=Query(
                f"""
                WITH h AS (
                    {heat(db, "e.activity_id", where=station_filter("e.station_id"))}
                    ORDER BY heat DESC, key LIMIT 50
                )
                SELECT h.key AS `活动`, p.name AS `项目`, c.name AS `类别`, s.name AS `站点`,
                       h.heat AS `热度`
                FROM h
                LEFT JOIN {activities_of(db, "(SELECT key FROM h)")} AS a
                     ON a.activity_id = h.key
                LEFT JOIN {db}.programs AS p ON p.program = a.program
                LEFT JOIN {db}.categories AS c ON c.category = a.category
                LEFT JOIN {db}.stations AS s ON s.station_id = a.station_id
                ORDER BY `热度` DESC, `活动`
                """,
                columns=("活动", "项目", "类别", "站点", "热度"),
            ),
            width=24,
            height=10,
        ),
        Panel(
            title="一周时段热力（不衰减）",
            type="table",
            description="期间内报名、签到、评价按星期与小时的加权次数（权重同热度，不做时间衰减）。",
            query=Query(
                f"""
                SELECT {_WEEKDAYS}[wd] AS `星期`, {hours}
                FROM (
                    SELECT toDayOfWeek(hour, 0, '{TZ}') AS wd, toHour(hour, '{TZ}') AS h,
                           {_weighted()} AS w
                    FROM {db}.rollup_hourly
                    WHERE type IN ('registration.submitted', 'registration.cancelled',
                                   'checkin.recorded', 'evaluation.submitted')
                      AND $__timeFilter(hour) AND {station_filter()}
                )
                GROUP BY wd ORDER BY wd
                """,
                columns=("星期", "00时", "12时", "23时"),
            ),
            width=24,
            height=9,
            options={"cellHeight": "sm"},
            overrides=(
                {
                    "matcher": {"id": "byRegexp", "options": "/时$/"},
                    "properties": [
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        {"id": "color", "value": {"mode": "continuous-YlRd"}},
                    ],
                },
            ),
        ),
    ]
    return Dashboard(
        uid="sanjiang-heat",
        title="活动热度分析",
        description="热度 = 报名 +1、取消 −1、签到 +2、评价每星 +0.4，按 72 小时半衰期衰减。",
        panels=panels,
        variables=[station_variable(db)],
    )
