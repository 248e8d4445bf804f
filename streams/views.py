"""The live views the command center reads, rendered from a ``LiveState`` at a given ``now``.

``live_views`` renders every view. The worker's ``ViewRenderer`` renders, at each tick, only
the views whose inputs changed since it last rendered them: today's counters of the network and
of each station by their revision, closed days (which only a replay of old events still changes)
likewise, the ranking of the hottest activities only when heat was added (decay alone never
reorders it: every activity decays by the same factor). The views that depend on the clock
itself (venues, kiosks, activities' decayed heat) and the pipeline are rendered at every tick;
they are small.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from streams.kpis import KpiReader
from streams.state import LiveState

HOTTEST = 20  #: activities in the ``activities`` view


def live_views(state: LiveState, now: datetime) -> dict[str, dict[str, Any]]:
    """View name -> JSON-ready document: ``network``, ``station:<id>``, ``venues``,
    ``kiosks``, ``activities``, ``pipeline``, and for the days before today (those the state
    keeps) ``day:<date>`` (the network) and ``day:<date>:<station>`` (every station of the
    network, and any other with counters that day). Counters (network, stations, days) carry
    ``conflicts`` by kind (``sanjiang.conflicts``) and ``kpis``, the four KPIs of their day
    (``streams.kpis``), each marked ``provisional`` while the day's window is open; the
    network's also ``conflicts_by_station``, for the stations with any."""
    return ViewRenderer().render(state, now)


class ViewRenderer:
    """Renders the views at successive ticks, leaving out those that cannot have changed since
    this renderer last rendered them (a new renderer renders them all)."""

    def __init__(self) -> None:
        self._inputs: dict[str, tuple[Any, ...]] = {}
        self._hottest: tuple[int, list[str]] = (-1, [])
        self._heat_ranks: tuple[int, dict[str, list[tuple[str, float]]]] = (-1, {})
        self._days: set[date] = set()  #: the days whose ``day:`` views were rendered
        self._kpis = KpiReader()
        self._kpi_days: tuple[date, int] | None = None  #: (today, days kept) it last forgot at

    def _changed(self, name: str, inputs: tuple[Any, ...]) -> bool:
        if self._inputs.get(name) == inputs:
            return False
        self._inputs[name] = inputs
        return True

    def render(
        self, state: LiveState, now: datetime, occupancy: Mapping[str, int] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The views that may have changed; ``occupancy`` if the caller already read it."""
        as_of = now.isoformat()
        today = state.local_day(now)
        views: dict[str, dict[str, Any]] = {}
        if self._changed("network", (today, state.day_revisions.get(today, 0))):
            summary = state.network_summary(today)
            views["network"] = {
                "as_of": as_of,
                **summary,
                "conflicts_by_station": state.conflicts_by_station(now),
                "kpis": self._kpis.network(state, today, summary, now),
            }
        venues = state.network.venues
        occupancy = state.occupancy(now) if occupancy is None else occupancy
        views["venues"] = {
            "as_of": as_of,
            "occupancy": dict(sorted(occupancy.items())),
            "stations": dict(sorted(state.station_occupancy(now).items())),
            "over_capacity": sorted(
                v for v, n in occupancy.items() if v in venues and n > venues[v].capacity
            ),
        }
        views["kiosks"] = {
            "as_of": as_of,
            "known": len(state.kiosks),
            "offline": state.offline_kiosks(now),
        }
        decay = state.heat_decay(now)
        views["activities"] = {
            "as_of": as_of,
            "hottest": [
                {"activity_id": key, "heat": round(state.heat_at("activity", key, now), 3)}
                for key in self._hottest_activities(state)
            ],
            **{
                f"{level}_heat": [
                    {level: key, "heat": round(scaled * decay, 3)} for key, scaled in ranked
                ]
                for level, ranked in self._heat_ranking(state).items()
            },
        }
        views["pipeline"] = {
            "as_of": as_of,
            "applied": state.applied,
            "too_late": state.too_late,
            "watermark": state.watermark.isoformat() if state.watermark else None,
        }
        for station in state.network.stations:
            name = f"station:{station.id}"
            if self._changed(name, (today, state.revision(today, station.id))):
                summary = state.summary(today, station.id)
                views[name] = {
                    "as_of": as_of,
                    **summary,
                    "kpis": self._kpis.station(state, today, station.id, summary, now),
                }
        for day in sorted(state.stations_on):
            if day < today:  # provisional until its window closes, then final (reconciled)
                self._render_day(state, day, now, views)
                self._days.add(day)
        for day in self._days - state.stations_on.keys():  # forgotten by the state (prune)
            self._days.discard(day)
            network = f"day:{day.isoformat()}"
            for name in [n for n in self._inputs if n == network or n.startswith(network + ":")]:
                del self._inputs[name]
        if self._kpi_days != (today, len(state.stations_on)):  # a day came or went
            self._kpi_days = (today, len(state.stations_on))
            self._kpis.forget({*state.stations_on, today})
        return views

    def _render_day(
        self, state: LiveState, day: date, now: datetime, views: dict[str, dict[str, Any]]
    ) -> None:
        as_of, closed = now.isoformat(), state.window_closed(day, now)
        name = f"day:{day.isoformat()}"
        if self._changed(name, (state.day_revisions.get(day, 0), closed)):
            summary = state.network_summary(day)
            views[name] = {
                "as_of": as_of,
                "day": day.isoformat(),
                **summary,
                "kpis": self._kpis.network(state, day, summary, now),
            }
        stations = {s.id for s in state.network.stations} | state.stations_on[day]
        for station_id in sorted(stations):
            name = f"day:{day.isoformat()}:{station_id}"
            if self._changed(name, (state.revision(day, station_id), closed)):
                summary = state.summary(day, station_id)
                views[name] = {
                    "as_of": as_of,
                    "day": day.isoformat(),
                    "station_id": station_id,
                    **summary,
                    "kpis": self._kpis.station(state, day, station_id, summary, now),
                }

    def _heat_ranking(self, state: LiveState) -> dict[str, list[tuple[str, float]]]:
        """Stations and categories by heat sum, hottest first; recomputed only after an event
        was applied (a publication can move an activity's heat into its category)."""
        applied, ranking = self._heat_ranks
        if applied != state.applied:
            ranking = {
                level: sorted(state.scaled_heat_by(level).items(), key=lambda kv: (-kv[1], kv[0]))
                for level in ("station", "category")
            }
            self._heat_ranks = (state.applied, ranking)
        return ranking

    def _hottest_activities(self, state: LiveState) -> list[str]:
        """Activity ids by heat, hottest first. The stored sums are all scaled to one reference
        time, so their order is the order at any ``now``; it changes only when heat is added."""
        revision, ranking = self._hottest
        if revision != state.heat_revision:
            heat = state.heat
            keys = heapq.nlargest(
                HOTTEST, (k for k in heat if k[0] == "activity"), key=heat.__getitem__
            )
            ranking = [key for _, key in keys]
            self._hottest = (state.heat_revision, ranking)
        return ranking
