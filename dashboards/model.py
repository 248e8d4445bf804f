"""A small typed model of Grafana dashboards (panels, queries, variables, grid layout) that
renders the dashboard JSON Grafana stores (schema version 41, Grafana 11.6+).

Plain typed code rather than a builder library: the ClickHouse datasource has no query type in
the builders, and every field written here is one the tests check. Panels on the warehouse
(``Panel``, ClickHouse SQL) and on the processes' metrics (``MetricPanel``, PromQL on the
Prometheus datasource) are kept apart: everything that runs panel SQL reads ``panels``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

SCHEMA_VERSION = 41
GRID_COLUMNS = 24
DATASOURCE_TYPE = "grafana-clickhouse-datasource"
DATASOURCE_UID = "sanjiang-clickhouse"
TIMEZONE = "Asia/Shanghai"

#: The datasource's integer query formats (strings such as "time_series" are rejected).
FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1

PanelType = Literal[
    "stat", "gauge", "timeseries", "barchart", "table", "heatmap", "geomap", "bargauge"
]


PROMETHEUS_TYPE = "prometheus"
PROMETHEUS_UID = "sanjiang-prometheus"
#: A metric name in PromQL: ours, and the client library's process metrics.
METRIC_NAME = re.compile(r"\b(?:sanjiang|process)_[a-z0-9_]+\b")


def datasource_ref() -> dict[str, str]:
    return {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}


def prometheus_ref() -> dict[str, str]:
    return {"type": PROMETHEUS_TYPE, "uid": PROMETHEUS_UID}


@dataclass(frozen=True)
class Query:
    """One panel query: raw ClickHouse SQL with the datasource's macros and the dashboard's
    variables, and the result columns the panel reads (checked by the tests and `check`)."""

    sql: str
    columns: tuple[str, ...]
    format: int = FORMAT_TABLE
    ref_id: str = "A"

    def target(self) -> dict[str, Any]:
        return {
            "refId": self.ref_id,
            "datasource": datasource_ref(),
            "editorType": "sql",
            "queryType": "timeseries" if self.format == FORMAT_TIME_SERIES else "table",
            "format": self.format,
            "rawSql": self.sql.strip(),
        }


@dataclass(frozen=True)
class PromQuery:
    """PromQL expressions on the Prometheus datasource, one target each, with their legends
    (``{{label}}`` placeholders, or words)."""

    exprs: tuple[tuple[str, str], ...]

    def targets(self) -> list[dict[str, Any]]:
        return [
            {
                "refId": chr(ord("A") + i),
                "datasource": prometheus_ref(),
                "editorMode": "code",
                "expr": expr,
                "legendFormat": legend,
                "range": True,
            }
            for i, (expr, legend) in enumerate(self.exprs)
        ]

    def metric_names(self) -> set[str]:
        """The metric (or sample) names the expressions read."""
        return {name for expr, _ in self.exprs for name in METRIC_NAME.findall(expr)}


@dataclass(frozen=True)
class Threshold:
    value: float | None
    color: str


@dataclass(frozen=True)
class Panel:
    """A panel and its size on the 24-column grid; ``layout`` places it."""

    title: str
    type: PanelType
    query: Query
    width: int
    height: int
    description: str = ""
    unit: str | None = None
    decimals: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    thresholds: tuple[Threshold, ...] = ()
    #: Only these result columns are shown (stat and gauge panels).
    show_fields: tuple[str, ...] = ()
    #: A relative time for this panel alone (e.g. "6h"), overriding the dashboard's range.
    time_from: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[dict[str, Any], ...] = ()

    def render(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit is not None:
            defaults["unit"] = self.unit
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.minimum is not None:
            defaults["min"] = self.minimum
        if self.maximum is not None:
            defaults["max"] = self.maximum
        if self.thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": t.value, "color": t.color} for t in self.thresholds],
            }
        options = dict(self.options)
        if self.show_fields:
            pattern = "/^(" + "|".join(self.show_fields) + ")$/"
            options.setdefault(
                "reduceOptions", {"values": False, "calcs": ["lastNotNull"], "fields": pattern}
            )
        panel: dict[str, Any] = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": datasource_ref(),
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "targets": [self.query.target()],
            "fieldConfig": {"defaults": defaults, "overrides": list(self.overrides)},
            "options": options,
        }
        if self.time_from is not None:
            panel["timeFrom"] = self.time_from
        return panel


@dataclass(frozen=True)
class MetricPanel:
    """A time series of the processes' metrics (PromQL), and its size on the grid."""

    title: str
    query: PromQuery
    width: int
    height: int
    description: str = ""
    unit: str | None = None
    minimum: float | None = 0
    type: PanelType = "timeseries"

    def render(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit is not None:
            defaults["unit"] = self.unit
        if self.minimum is not None:
            defaults["min"] = self.minimum
        return {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": prometheus_ref(),
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "targets": self.query.targets(),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        }


@dataclass(frozen=True)
class Variable:
    """A query variable over the warehouse (first column the value, second the label)."""

    name: str
    label: str
    sql: str
    multi: bool = True
    include_all: bool = True

    def render(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": datasource_ref(),
            "query": self.sql.strip(),
            "definition": self.sql.strip(),
            "refresh": 1,
            "multi": self.multi,
            "includeAll": self.include_all,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
            "options": [],
        }


class _Placeable(Protocol):
    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def title(self) -> str: ...


P = TypeVar("P", bound=_Placeable)


def layout(panels: Sequence[P]) -> list[tuple[P, int, int]]:
    """Place panels left to right, wrapping at 24 columns; a row is as tall as its tallest."""
    placed: list[tuple[P, int, int]] = []
    x = y = row_height = 0
    for panel in panels:
        if not 0 < panel.width <= GRID_COLUMNS:
            raise ValueError(f"panel {panel.title!r}: width {panel.width} not in 1..24")
        if x + panel.width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append((panel, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return placed


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel]
    variables: list[Variable] = field(default_factory=list)
    #: panels on the processes' metrics, placed after ``panels``
    metric_panels: list[MetricPanel] = field(default_factory=list)
    tags: tuple[str, ...] = ("sanjiang",)
    time_from: str = "now-7d"
    time_to: str = "now"
    refresh: str = "1m"

    def render(self) -> dict[str, Any]:
        """The dashboard JSON model (without ``id``: Grafana assigns it; ``uid`` is stable)."""
        every: list[Panel | MetricPanel] = [*self.panels, *self.metric_panels]
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": TIMEZONE,
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": self.time_to},
            "templating": {"list": [v.render() for v in self.variables]},
            "annotations": {"list": []},
            "panels": [panel.render(i, x, y) for i, (panel, x, y) in enumerate(layout(every), 1)],
        }
