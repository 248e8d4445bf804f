"""Dashboard panel latency: every panel's query (macros expanded as Grafana would, station =
All and = one station) timed on the warehouse benchmark's large dataset; one figure per
dashboard (its slowest panel at p95) and one for the share of panels within the target."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import datetime

from bench.report import Figure
from dashboards.check import selections, time_range
from dashboards.macros import expand
from dashboards.provisioning import dashboards_for
from projections.warehouse import Warehouse
from sanjiang.settings import Settings

TARGET_MS = 100.0


def panel_figures(
    warehouse: Warehouse,
    settings: Settings,
    start: datetime,
    end: datetime,
    station: str,
    size: str,
    timed: Callable[[Callable[[], object]], list[float]],
    p95: Callable[[Sequence[float]], float],
) -> tuple[list[Figure], list[str]]:
    """Time every panel on ``[start, end)``; ``timed`` runs a call with warm-ups and returns
    milliseconds per run, ``p95`` reduces them (the warehouse suite's own helpers)."""
    window = time_range(start, end)
    db = warehouse.database
    stations = tuple(
        str(r[0]) for r in warehouse.query(f"SELECT station_id FROM {db}.stations ORDER BY 1").rows
    )
    ordered = (station, *(s for s in stations if s != station))  # `station` is "one station"
    figures: list[Figure] = []
    notes: list[str] = []
    within = total = 0
    for dashboard in dashboards_for(settings):
        slowest: tuple[float, float, str] = (0.0, 0.0, "")
        for label, variables in selections(dashboard, ordered):
            for panel in dashboard.panels:
                sql = expand(panel.query.sql, window, variables)
                samples = timed(lambda sql=sql: warehouse.query(sql))  # type: ignore[misc]
                mine = p95(samples)
                total += 1
                within += mine <= TARGET_MS
                name = f"{panel.title}{' [' + label + ']' if label else ''}"
                if mine > TARGET_MS:
                    notes.append(f"{dashboard.title} / {name}: p95 {mine:.0f} ms")
                if mine > slowest[0]:
                    slowest = (mine, statistics.median(samples), name)
        print(f"  {dashboard.title}: slowest {slowest[2]} p95 {slowest[0]:.1f} ms", flush=True)
        figures.append(
            Figure(
                f"p95 slowest panel of {dashboard.title} ({dashboard.uid})",
                slowest[0],
                "ms",
                f"{slowest[2]}, p50 {slowest[1]:.1f} ms; {len(dashboard.panels)} panels, "
                f"{size}, range {start:%Y-%m-%d} .. {end:%Y-%m-%d}",
                target=f"<= {TARGET_MS:.0f} ms",
                met=slowest[0] <= TARGET_MS,
            )
        )
    figures.append(
        Figure(
            "dashboard panel queries within the target (p95)",
            within,
            "panels",
            f"of {total} (each panel with station = All and = {station}), {size}",
            target=f"all {total}",
            met=within == total,
        )
    )
    return figures, notes
