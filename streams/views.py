"""The live views the command center reads, rendered from a ``LiveState`` at a given ``now``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.state import LiveState


def live_views(state: LiveState, now: datetime) -> dict[str, dict[str, Any]]:
    """View name -> JSON-ready document: ``network``, ``station:<id>``, ``venues``,
    ``kiosks``, ``activities``, ``pipeline``."""
    occupancy = state.occupancy(now)
    views: dict[str, dict[str, Any]] = {
        "network": {"as_of": now.isoformat(), **state.today(now)},
        "venues": {
            "as_of": now.isoformat(),
            "occupancy": occupancy,
            "over_capacity": sorted(
                v
                for v, n in occupancy.items()
                if v in state.network.venues and n > state.network.venues[v].capacity
            ),
        },
        "kiosks": {
            "as_of": now.isoformat(),
            "known": len(state.kiosks),
            "offline": state.offline_kiosks(now),
        },
        "activities": {
            "as_of": now.isoformat(),
            "hottest": [
                {"activity_id": key, "heat": round(state.heat_at("activity", key, now), 3)}
                for _, key in sorted(
                    (k for k in state.heat if k[0] == "activity"),
                    key=lambda k: -state.heat_at(k[0], k[1], now),
                )[:20]
            ],
        },
        "pipeline": {
            "as_of": now.isoformat(),
            "applied": state.applied,
            "too_late": state.too_late,
            "watermark": state.watermark.isoformat() if state.watermark else None,
        },
    }
    for station in state.network.stations:
        views[f"station:{station.id}"] = {"as_of": now.isoformat(), **state.today(now, station.id)}
    for (day, station_id), counters in state.days.items():
        if state.window_closed(day, now):  # final: reconciled against the warehouse
            views[f"day:{day.isoformat()}:{station_id}"] = {
                "as_of": now.isoformat(),
                "day": day.isoformat(),
                "station_id": station_id,
                **counters.summary(),
            }
    return views
