"""SQL pieces the dashboards share: the station filter, the KPI statements rendered with Grafana
macros, heat, and the live views the stream worker publishes (copied by the ops sink)."""

from __future__ import annotations

from projections.history import HEAT_HORIZON
from projections.kpi import KPI_STATEMENTS, KpiSql
from sanjiang.heat import HEAT_TYPES, heat_sql_expression

#: Local time of every bucket and label.
TZ = "Asia/Shanghai"
STATION = "station"


def station_filter(column: str = "station_id", variable: str | None = STATION) -> str:
    """``column IN (the selected stations)``, or ``1=1`` when All (or no variable)."""
    if variable is None:
        return "1=1"
    return f"$__conditionalAll({column} IN (${{{variable}:singlequote}}), ${variable})"


def kpi_sql(db: str, variable: str | None = STATION) -> KpiSql:
    """The KPI statements' period and scope as Grafana fills them: the panel's time range
    ``[from, to)`` and the selected stations (all of them without a variable)."""
    where = station_filter("station_id", variable)
    return KpiSql(
        db=db,
        start="toDateTime64($__fromTime, 3, 'UTC')",
        end="toDateTime64($__toTime, 3, 'UTC')",
        stations=f"(SELECT station_id FROM {db}.stations WHERE {where})",
        venues=f"(SELECT venue_id FROM {db}.venues WHERE {where})",
        venue_scope="0",
    )


def kpi_statement(db: str, name: str, variable: str | None = STATION) -> str:
    """One of ``projections.kpi.KPI_STATEMENTS`` (utilization, precision, participation,
    satisfaction) for a dashboard."""
    return kpi_sql(db, variable).render(KPI_STATEMENTS[name])


def heat(db: str, key: str, join_activities: bool = False, where: str = "1=1") -> str:
    """Heat (``sanjiang.heat``) at the end of the panel's range, by ``key`` of ``events AS e``
    (or ``activity_state AS a`` with ``join_activities``)."""
    join = (
        f"LEFT JOIN {db}.activity_state AS a ON a.activity_id = e.activity_id"
        if join_activities
        else ""
    )
    types = ", ".join(f"'{t}'" for t in HEAT_TYPES)
    horizon_h = int(HEAT_HORIZON.total_seconds() // 3600)
    return f"""
        SELECT {key} AS key, round({heat_sql_expression("$__toTime")}, 2) AS heat
        FROM {db}.events AS e {join}
        WHERE e.type IN ({types})
          AND e.occurred_at > $__toTime - INTERVAL {horizon_h} HOUR
          AND e.occurred_at <= $__toTime
          AND {key} != '' AND {where}
        GROUP BY key"""


def live_view(db: str, view: str) -> str:
    """The latest document of one live view, as ``document`` (JSON text), and ``updated_at``."""
    return (
        f"SELECT argMax(document, as_of) AS document, max(as_of) AS updated_at "
        f"FROM {db}.live_views WHERE view = '{view}'"
    )
