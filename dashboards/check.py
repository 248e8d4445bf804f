"""Run every panel's query against a warehouse, expanded as Grafana would expand it, and report
rows, columns and milliseconds per panel — so an operator can validate the dashboards against
production before a push (``sanjiang dashboards check``) and the tests can run them on chDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboards.macros import Selection, TimeRange, expand
from dashboards.model import Dashboard, Panel
from dashboards.sql import STATION
from projections.warehouse import QueryResult, Warehouse, WarehouseError

#: Grafana's interval is the range over the panel's data points (~ its width in pixels).
DATA_POINTS = 1000


def time_range(start: datetime, end: datetime) -> TimeRange:
    seconds = int((end - start).total_seconds())
    return TimeRange(start, end, max(1, seconds // DATA_POINTS))


def last_days(days: int, now: datetime) -> TimeRange:
    return time_range(now - timedelta(days=days), now)


@dataclass(frozen=True)
class PanelRun:
    dashboard: str
    panel: str
    variables: str
    rows: int
    columns: list[str]
    missing: list[str]
    ms: float
    error: str | None
    result: QueryResult | None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing


def selections(
    dashboard: Dashboard, stations: tuple[str, ...]
) -> Iterator[tuple[str, dict[str, Selection]]]:
    """The variable values each panel is checked with: All, and one station."""
    if not any(v.name == STATION for v in dashboard.variables):
        yield "", {}
        return
    yield "station=All", {STATION: Selection.everything(stations)}
    yield f"station={stations[0]}", {STATION: Selection((stations[0],), options=stations)}


def run_panel(
    warehouse: Warehouse,
    dashboard: Dashboard,
    panel: Panel,
    label: str,
    variables: dict[str, Selection],
    window: TimeRange,
) -> PanelRun:
    sql = expand(panel.query.sql, window, variables)
    started = time.perf_counter()
    try:
        result = warehouse.query(sql)
    except WarehouseError as exc:
        ms = (time.perf_counter() - started) * 1000
        return PanelRun(dashboard.title, panel.title, label, 0, [], [], ms, str(exc), None)
    ms = (time.perf_counter() - started) * 1000
    missing = [c for c in panel.query.columns if c not in result.columns]
    return PanelRun(
        dashboard.title,
        panel.title,
        label,
        len(result.rows),
        result.columns,
        missing,
        ms,
        None,
        result,
    )


def check_all(
    warehouse: Warehouse, dashboards: list[Dashboard], window: TimeRange
) -> Iterator[PanelRun]:
    """Every panel of every dashboard, for each variable selection."""
    db = warehouse.database
    stations = tuple(
        str(r[0]) for r in warehouse.query(f"SELECT station_id FROM {db}.stations ORDER BY 1").rows
    )
    if not stations:
        raise WarehouseError("no stations in the warehouse: run `sanjiang warehouse migrate`")
    for dashboard in dashboards:
        for label, variables in selections(dashboard, stations):
            for panel in dashboard.panels:
                yield run_panel(warehouse, dashboard, panel, label, variables, window)
