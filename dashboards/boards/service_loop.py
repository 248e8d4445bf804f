"""服务闭环: demand → registration → participation → evaluation, by category and by program."""

from __future__ import annotations

from dashboards.boards.common import COUNTS_STAT
from dashboards.boards.station import station_variable
from dashboards.model import FORMAT_TIME_SERIES, Dashboard, Panel, Query
from dashboards.sql import TZ, local_days, station_filter

_STAGES = """
    sumIf(r.events, r.type IN ('demand.submitted', 'demand.voted')) AS `需求`,
    sumIf(r.events, r.type = 'registration.submitted') AS `报名`,
    sumIf(r.events, r.type = 'checkin.recorded') AS `参与`,
    sumIf(r.events, r.type = 'evaluation.submitted') AS `评价`,
    sumIf(r.satisfied, r.type = 'evaluation.submitted') AS `满意评价`"""

_TYPES = """('demand.submitted', 'demand.voted', 'registration.submitted',
             'checkin.recorded', 'evaluation.submitted')"""


def _by(db: str, key: str, label: str, join: str) -> str:
    """The loop's stages per ``key`` from the hourly rollup; events about an activity take its
    category and program (demand carries its category itself)."""
    return f"""
        SELECT {key} AS `{label}`, {_STAGES}
        FROM {db}.rollup_hourly AS r
        LEFT JOIN {db}.activity_state AS a ON a.activity_id = r.activity_id
        {join}
        WHERE r.type IN {_TYPES} AND $__timeFilter(r.hour)
          AND {station_filter("r.station_id")}
        GROUP BY `{label}` HAVING `{label}` != ''
        ORDER BY `需求` DESC, `报名` DESC"""


def service_loop(db: str) -> Dashboard:
    where = station_filter("r.station_id")
    panels = [
        Panel(
            title="闭环转化率",
            type="stat",
            description="报名 ÷ 需求、参与（签到）÷ 报名、评价 ÷ 参与、满意评价 ÷ 评价。",
            query=Query(
                f"""
                SELECT if(`需求` = 0, NULL, `报名` / `需求`) AS `需求→报名`,
                       if(`报名` = 0, NULL, `参与` / `报名`) AS `报名→参与`,
                       if(`参与` = 0, NULL, `评价` / `参与`) AS `参与→评价`,
                       if(`评价` = 0, NULL, `满意评价` / `评价`) AS `评价满意`
                FROM (
                    SELECT {_STAGES}
                    FROM {db}.rollup_hourly AS r
                    WHERE r.type IN {_TYPES} AND $__timeFilter(r.hour) AND {where}
                )
                """,
                columns=("需求→报名", "报名→参与", "参与→评价", "评价满意"),
            ),
            width=24,
            height=5,
            unit="percentunit",
            decimals=1,
            options=COUNTS_STAT,
        ),
        Panel(
            title="服务闭环（按类别）",
            type="barchart",
            description="需求 → 报名 → 参与 → 评价，按服务类别。",
            query=Query(
                _by(
                    db,
                    "c.name",
                    "类别",
                    f"LEFT JOIN {db}.categories AS c ON c.category = "
                    "if(r.category != '', r.category, a.category)",
                ),
                columns=("类别", "需求", "报名", "参与", "评价"),
            ),
            width=12,
            height=10,
            options={"orientation": "horizontal", "xField": "类别", "stacking": "none"},
        ),
        Panel(
            title="服务闭环（按项目）",
            type="table",
            description="报名 → 参与 → 评价，按服务项目（需求按类别采集，不落到项目）。",
            query=Query(
                _by(db, "p.name", "项目", f"LEFT JOIN {db}.programs AS p ON p.program = a.program"),
                columns=("项目", "报名", "参与", "评价", "满意评价"),
            ),
            width=12,
            height=10,
        ),
        Panel(
            title="闭环各环节（按日）",
            type="timeseries",
            query=Query(
                f"""
                SELECT toDateTime(r.day, '{TZ}') AS time, {_STAGES}
                FROM {db}.rollup_daily AS r
                WHERE r.type IN {_TYPES}
                  AND {local_days("r.day")}
                  AND {where}
                GROUP BY time ORDER BY time
                """,
                columns=("time", "需求", "报名", "参与", "评价"),
                format=FORMAT_TIME_SERIES,
            ),
            width=24,
            height=8,
        ),
    ]
    return Dashboard(
        uid="sanjiang-service-loop",
        title="服务闭环",
        description="需求采集 → 活动报名 → 活动参与 → 活动评价。",
        panels=panels,
        variables=[station_variable(db)],
    )
