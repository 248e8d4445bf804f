"""The dashboards, one module each."""

from __future__ import annotations

from dashboards.boards.heat import heat_analysis
from dashboards.boards.management_loop import management_loop
from dashboards.boards.operations import operations
from dashboards.boards.overview import overview
from dashboards.boards.service_loop import service_loop
from dashboards.boards.station import station
from dashboards.boards.venues import venues
from dashboards.model import Dashboard


def all_dashboards(db: str, events_topic: str) -> list[Dashboard]:
    """Every dashboard for the warehouse database ``db``."""
    return [
        overview(db),
        station(db),
        service_loop(db),
        management_loop(db),
        heat_analysis(db),
        venues(db),
        operations(db, events_topic),
    ]
