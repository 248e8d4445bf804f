"""SQL pieces the dashboards share: the station filter, the KPI statements rendered with Grafana
macros, heat, and the live views the stream worker publishes (copied by the ops sink)."""

from __future__ import annotations

from projections.history import HEAT_HORIZON
from projections.kpi import KPI_STATEMENTS, KpiSql
from sanjiang.conflicts import LABELS
from sanjiang.heat import HEAT_TYPES, heat_sql_expression

#: Local time of every bucket and label.
TZ = "Asia/Shanghai"
STATION = "station"


def station_filter(column: str = "station_id", variable: str | None = STATION) -> str:
    """``column IN (the selected stations)``, or ``1=1`` when All (or no variable)."""
    if variable is None:
        return "1=1"
    return f"$__conditionalAll({column} IN (${{{variable}:singlequote}}), ${variable})"


def local_days(column: str) -> str:
    """``column`` (a local Date, as in rollup_daily) within the panel's range, by local day."""
    return f"{column} >= toDate($__fromTime, '{TZ}') AND {column} <= toDate($__toTime, '{TZ}')"


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


def _heat_window(db: str) -> str:
    types = ", ".join(f"'{t}'" for t in HEAT_TYPES)
    horizon_h = int(HEAT_HORIZON.total_seconds() // 3600)
    return (
        f"e.type IN ({types}) AND e.occurred_at > $__toTime - INTERVAL {horizon_h} HOUR "
        "AND e.occurred_at <= $__toTime"
    )


def heat(db: str, key: str, join_activities: bool = False, where: str = "1=1") -> str:
    """Heat (``sanjiang.heat``) at the end of the panel's range, by ``key`` of ``events AS e``
    (or ``a`` = the activity's latest state with ``join_activities``: only the activities of
    the heat window are folded)."""
    window = _heat_window(db)
    join = (
        f"""LEFT JOIN (
            SELECT activity_id, category, program FROM {db}.activity_state
            WHERE activity_id IN (
                SELECT activity_id FROM {db}.events AS e WHERE {window} AND activity_id != '')
        ) AS a ON a.activity_id = e.activity_id"""
        if join_activities
        else ""
    )
    return f"""
        SELECT {key} AS key, round({heat_sql_expression("$__toTime")}, 2) AS heat
        FROM {db}.events AS e {join}
        WHERE {window} AND {key} != '' AND {where}
        GROUP BY key"""


def activities_of(db: str, keys: str) -> str:
    """The latest state of the activities whose ids ``keys`` (a subquery) lists; the view
    folds only those."""
    return f"""(
        SELECT activity_id, program, category, station_id, venue_id, starts_at, capacity
        FROM {db}.activity_state WHERE activity_id IN {keys})"""


def held_activities(db: str, where: str) -> str:
    """WITH-clause items for the published, not cancelled activities starting in the panel's
    range (``where`` on their latest state): ``held_rows`` (computed once, as a scalar),
    ``held_ids`` and the table ``held`` (activity_id, program, category, station_id,
    starts_at, capacity). They are found through ``activity_states``, so the latest-state view
    folds only the candidates."""
    return f"""
    (
        SELECT groupArray((activity_id, program, category, station_id, starts_at, capacity))
        FROM {db}.activity_state
        WHERE activity_id IN (
                SELECT activity_id FROM {db}.activity_states
                WHERE starts_v.3 >= $__fromTime AND starts_v.3 < $__toTime)
          AND published AND NOT cancelled
          AND starts_at >= $__fromTime AND starts_at < $__toTime AND {where}
    ) AS held_rows,
    arrayMap(a -> a.1, held_rows) AS held_ids,
    held AS (
        SELECT a.1 AS activity_id, a.2 AS program, a.3 AS category, a.4 AS station_id,
               a.5 AS starts_at, a.6 AS capacity
        FROM (SELECT arrayJoin(held_rows) AS a)
    )"""


def registrations_of(db: str, activities: str) -> str:
    """Registrations not cancelled per activity, for the activities ``activities`` (a
    subquery) lists: submitted under the activity and not cancelled under it (as the KPI)."""
    return f"""
        SELECT activity_id,
               length(submitted) - length(arrayIntersect(submitted, cancelled)) AS n
        FROM (
            SELECT activity_id, groupUniqArrayArray(submitted) AS submitted,
                   groupUniqArrayArray(cancelled) AS cancelled
            FROM {db}.activity_registrations
            WHERE activity_id IN {activities}
            GROUP BY activity_id
        )"""


def conflict_label(column: str) -> str:
    """The Chinese label of a kind of conflict in ``column`` (``sanjiang.conflicts.LABELS``)."""
    codes = ", ".join(f"'{kind}'" for kind in LABELS)
    labels = ", ".join(f"'{label}'" for label in LABELS.values())
    return f"transform({column}, [{codes}], [{labels}], {column})"


def live_view(db: str, view: str) -> str:
    """The latest document of one live view, as ``document`` (JSON text), and ``updated_at``."""
    return (
        f"SELECT argMax(document, as_of) AS document, max(as_of) AS updated_at "
        f"FROM {db}.live_views WHERE view = '{view}'"
    )
