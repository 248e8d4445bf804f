"""The KPIs' targets and their traffic lights (红黄绿), shared by the dashboards and the pages.

The source article names the KPIs but no numbers: these are the project's starting points,
which operators set here.
"""

from __future__ import annotations

from typing import Literal

KPI_TARGETS: dict[str, float] = {
    "venue_utilization": 0.60,
    "project_precision": 0.80,
    "fill_rate": 0.80,
    "resident_participation": 0.30,
    "service_satisfaction": 0.90,
}
#: a KPI at or above this share of its target is yellow (below it, red; at the target, green)
YELLOW_FROM = 0.85

Light = Literal["green", "yellow", "red"]


def yellow_floor(kpi: str) -> float:
    """The lowest value of ``kpi`` shown yellow."""
    return round(KPI_TARGETS[kpi] * YELLOW_FROM, 4)


def light(kpi: str, value: float | None) -> Light | None:
    """The traffic light of ``value`` for ``kpi`` (None without a value)."""
    if value is None:
        return None
    if value >= KPI_TARGETS[kpi]:
        return "green"
    return "yellow" if value >= yellow_floor(kpi) else "red"
