"""Panels more than one dashboard shows: the KPI row, occupancy now, hot activities, heat
bars, counts per event type."""

from __future__ import annotations

from dashboards.model import Panel, Query, Threshold
from dashboards.sql import (
    STATION,
    activities_of,
    heat,
    kpi_statement,
    live_view,
    station_filter,
)
from sanjiang.targets import KPI_TARGETS, yellow_floor

#: (statement, result column, title, what it means) for the KPI row.
KPI_PANELS: tuple[tuple[str, str, str, str], ...] = (
    (
        "utilization",
        "venue_utilization",
        "场馆使用率",
        "场馆被预约或活动占用的时长 ÷ 开放时长（同一时段只计一次）",
    ),
    (
        "precision",
        "project_precision",
        "项目精准率",
        "Σ 各类别 min(需求占比, 供给名额占比)；1 表示供给与需求完全吻合",
    ),
    ("precision", "fill_rate", "报名满员率", "有效报名 ÷ 同期发布活动的名额"),
    (
        "participation",
        "resident_participation",
        "居民参与率",
        "期间签到的去重居民 ÷ 服务范围内的居民数",
    ),
    (
        "satisfaction",
        "service_satisfaction",
        "服务满意率",
        "评分 ≥ 4 的评价 ÷ 全部评价（每位居民每个活动取最后一次）",
    ),
)


#: Stat panels showing several counts, each with its name.
COUNTS_STAT = {"colorMode": "value", "graphMode": "none", "textMode": "value_and_name"}


def type_counts(db: str, title: str, labels: dict[str, str], width: int) -> Panel:
    """A stat panel of how many events of each type (label -> type) the range and stations
    hold, from ``rollup_hourly``."""
    sums = ",\n                   ".join(
        f"sumIf(events, type = '{t}') AS `{label}`" for label, t in labels.items()
    )
    types = ", ".join(f"'{t}'" for t in labels.values())
    return Panel(
        title=title,
        type="stat",
        query=Query(
            f"""
            SELECT {sums}
            FROM {db}.rollup_hourly
            WHERE type IN ({types}) AND $__timeFilter(hour) AND {station_filter()}
            """,
            columns=tuple(labels),
        ),
        width=width,
        height=5,
        options=COUNTS_STAT,
    )


def heat_bars(
    db: str, title: str, label: str, key: str, names: str, join_activities: bool = False
) -> Panel:
    """Heat by ``key`` (see ``dashboards.sql.heat``) as horizontal bars, labelled from the
    reference table ``names`` (its first column the key, ``name`` the label)."""
    table, key_column = names.split(".")
    return Panel(
        title=title,
        type="barchart",
        query=Query(
            f"""
            SELECT n.name AS `{label}`, sum(h.heat) AS `热度`
            FROM ({heat(db, key, join_activities, station_filter("e.station_id"))}) AS h
            INNER JOIN {db}.{table} AS n ON n.{key_column} = h.key
            GROUP BY `{label}` ORDER BY `热度` DESC
            """,
            columns=(label, "热度"),
        ),
        width=12,
        height=10,
        options={"orientation": "horizontal", "xField": label},
    )


def kpi_thresholds(column: str) -> tuple[Threshold, ...]:
    target = KPI_TARGETS[column]  # red below the yellow floor (sanjiang.targets)
    return (
        Threshold(None, "red"),
        Threshold(yellow_floor(column), "yellow"),
        Threshold(target, "green"),
    )


def kpi_row(db: str, variable: str | None = STATION, width: int = 4) -> list[Panel]:
    """The four KPIs and the fill rate, computed by the same statements as ``GET /v1/kpis``."""
    return [
        Panel(
            title=title,
            type="stat",
            description=f"{meaning}。目标 {KPI_TARGETS[column]:.0%}。",
            query=Query(kpi_statement(db, statement, variable), columns=(column,)),
            width=width,
            height=5,
            unit="percentunit",
            decimals=1,
            minimum=0,
            maximum=1,
            thresholds=kpi_thresholds(column),
            show_fields=(column,),
            options={"colorMode": "background", "graphMode": "none", "textMode": "value"},
        )
        for statement, column, title, meaning in KPI_PANELS
    ]


def occupancy_now(db: str, variable: str | None = STATION, width: int = 12) -> Panel:
    """People in each venue now, from the stream worker's live ``venues`` view."""
    return Panel(
        title="场馆实时在场人数",
        type="table",
        description="来自实时流处理（闭馆时自动签退）；仅列出有人的场馆。",
        query=Query(
            f"""
            SELECT s.name AS `站点`, v.name AS `场馆`,
                   JSONExtractUInt(l.document, 'occupancy', v.venue_id) AS `在场人数`,
                   v.capacity AS `容量`,
                   if(v.capacity = 0, NULL, `在场人数` / v.capacity) AS `占用率`
            FROM {db}.venues AS v
            INNER JOIN {db}.stations AS s ON s.station_id = v.station_id
            CROSS JOIN ({live_view(db, "venues")}) AS l
            WHERE `在场人数` > 0 AND {station_filter("v.station_id", variable)}
            ORDER BY `占用率` DESC, `场馆`
            """,
            columns=("站点", "场馆", "在场人数", "容量", "占用率"),
        ),
        width=width,
        height=10,
        overrides=(
            {
                "matcher": {"id": "byName", "options": "占用率"},
                "properties": [
                    {"id": "unit", "value": "percentunit"},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                ],
            },
        ),
    )


def hot_activities(db: str, variable: str | None = STATION, width: int = 12) -> Panel:
    """The hottest activities at the end of the range (``sanjiang.heat``)."""
    return Panel(
        title="活动热度 TOP 10",
        type="table",
        description="热度：报名 +1、取消 −1、签到 +2、评价 每星 +0.4，按 72 小时半衰期衰减。",
        query=Query(
            f"""
            WITH h AS (
                {heat(db, "e.activity_id", where=station_filter("e.station_id", variable))}
                ORDER BY heat DESC, key LIMIT 10
            )
            SELECT h.key AS `活动`, p.name AS `项目`, c.name AS `类别`, s.name AS `站点`,
                   a.starts_at AS `开始时间`, h.heat AS `热度`
            FROM h
            LEFT JOIN {activities_of(db, "(SELECT key FROM h)")} AS a ON a.activity_id = h.key
            LEFT JOIN {db}.programs AS p ON p.program = a.program
            LEFT JOIN {db}.categories AS c ON c.category = a.category
            LEFT JOIN {db}.stations AS s ON s.station_id = a.station_id
            ORDER BY `热度` DESC, `活动`
            """,
            columns=("活动", "项目", "类别", "站点", "开始时间", "热度"),
        ),
        width=width,
        height=10,
    )
