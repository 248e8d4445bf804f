"""指挥中心总览: the command center's wall — KPIs with targets and trend, live check-ins, the
station map sized by heat, occupancy now, open alerts, hottest activities."""

from __future__ import annotations

from dashboards.boards.common import hot_activities, kpi_row, occupancy_now
from dashboards.model import FORMAT_TIME_SERIES, Dashboard, Panel, Query
from dashboards.sql import TZ, heat, live_view, local_days
from projections.order import VERSION


def overview(db: str) -> Dashboard:
    panels = [
        *kpi_row(db, variable=None, width=5)[:4],
        kpi_row(db, variable=None, width=4)[4],
        Panel(
            title="实时签到（每分钟）",
            type="timeseries",
            description="全网每分钟签到人次（最近 6 小时）。",
            query=Query(
                f"""
                SELECT $__timeInterval(occurred_at) AS time, count() AS `签到人次`
                FROM {db}.events
                WHERE type = 'checkin.recorded' AND $__timeFilter(occurred_at)
                GROUP BY time ORDER BY time
                """,
                columns=("time", "签到人次"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=8,
            time_from="6h",
        ),
        Panel(
            title="KPI 趋势（按日）",
            type="timeseries",
            description="每日居民参与率与服务满意率，口径同上方指标（每日为一个统计期）。",
            query=Query(
                f"""
                WITH (SELECT toUInt64(sum(population)) FROM {db}.stations
                      WHERE kind = 'residential') AS population
                SELECT toDateTime(day, '{TZ}') AS time,
                       any(participation) AS `居民参与率`, any(satisfaction) AS `服务满意率`
                FROM (
                    SELECT day, toNullable(uniqExactMerge(residents) / population)
                               AS participation,
                           CAST(NULL AS Nullable(Float64)) AS satisfaction
                    FROM {db}.rollup_daily
                    WHERE type = 'checkin.recorded'
                      AND {local_days("day")}
                    GROUP BY day
                    UNION ALL
                    SELECT day, CAST(NULL AS Nullable(Float64)),
                           toNullable(countIf(rating >= 4) / count())
                    FROM (
                        SELECT toDate(occurred_at, '{TZ}') AS day, resident, activity_id,
                               argMax(rating, {VERSION}) AS rating
                        FROM {db}.events
                        WHERE type = 'evaluation.submitted' AND $__timeFilter(occurred_at)
                        GROUP BY day, resident, activity_id
                    )
                    GROUP BY day
                )
                GROUP BY day ORDER BY day
                """,
                columns=("time", "居民参与率", "服务满意率"),
                format=FORMAT_TIME_SERIES,
            ),
            width=12,
            height=8,
            unit="percentunit",
        ),
        Panel(
            title="站点热度地图",
            type="geomap",
            description="各站点位置，圆点大小为站点热度。",
            query=Query(
                f"""
                SELECT s.name AS `站点`, s.lat AS latitude, s.lon AS longitude,
                       ifNull(h.heat, 0) AS `热度`
                FROM {db}.stations AS s
                LEFT JOIN ({heat(db, "e.station_id")}) AS h ON h.key = s.station_id
                ORDER BY `热度` DESC
                """,
                columns=("站点", "latitude", "longitude", "热度"),
            ),
            width=12,
            height=12,
            options={
                "view": {"id": "coords", "lat": 31.385, "lon": 121.49, "zoom": 13},
                "controls": {"showZoom": True, "mouseWheelZoom": True},
                "layers": [
                    {
                        "type": "markers",
                        "name": "站点",
                        "location": {
                            "mode": "coords",
                            "latitude": "latitude",
                            "longitude": "longitude",
                        },
                        "config": {
                            "size": {"field": "热度", "min": 4, "max": 30, "fixed": 5},
                            "color": {"field": "热度"},
                            "showLegend": True,
                            "textConfig": {"fontSize": 12},
                        },
                        "tooltip": True,
                    }
                ],
            },
        ),
        occupancy_now(db, variable=None, width=12),
        Panel(
            title="未关闭告警",
            type="table",
            description="实时流处理当前开启的告警（超容、终端离线、满意度下降、爽约激增、需求激增）。",
            query=Query(
                f"""
                SELECT JSONExtractString(a, 'severity') AS `级别`,
                       JSONExtractString(a, 'kind') AS `类型`,
                       JSONExtractString(a, 'scope') AS `范围`,
                       JSONExtractString(a, 'reason') AS `原因`,
                       parseDateTime64BestEffort(JSONExtractString(a, 'started_at'), 3)
                           AS `开始时间`
                FROM ({live_view(db, "alerts")})
                ARRAY JOIN JSONExtractArrayRaw(document, 'open') AS a
                ORDER BY `级别` = 'high' DESC, `开始时间` DESC
                """,
                columns=("级别", "类型", "范围", "原因", "开始时间"),
            ),
            width=12,
            height=10,
        ),
        hot_activities(db, variable=None, width=12),
    ]
    return Dashboard(
        uid="sanjiang-overview",
        title="指挥中心总览",
        description="三江驿 1+4+28+X 服务网络的实时态势与四项核心指标。",
        panels=panels,
        refresh="30s",
        time_from="now/d",
        time_to="now",
    )
