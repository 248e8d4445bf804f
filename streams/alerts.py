"""Alerts raised from the live state: pure rules, and a tracker that gives each a start and end.

Each alert has a machine code (``kind``), an English ``reason`` for operators and logs, and a
Chinese ``display`` text for the pages and screens.

Rules (evaluated at ``now``):
- ``over_capacity`` (high): more people checked in at a venue than its capacity;
- ``kiosk_offline`` (medium): no heartbeat from a kiosk for the silence threshold while its
  station is open (its venues' hours) — found by the worker's timer, not by the next event;
- ``low_satisfaction`` (medium): a station's satisfaction today below the threshold, over at
  least ``min_evaluations`` evaluations;
- ``no_show_spike`` (low): a station's booking no-shows today at least ``no_show_min`` and at
  least ``no_show_share`` of its confirmed bookings;
- ``demand_surge`` (low): a category's demand today across the network at least
  ``surge_min`` and at least ``surge_factor`` × its daily mean over the days of the previous 7
  that the state saw any activity on, once it saw at least ``surge_history_days`` of them. A
  worker that starts on an empty log has no baseline yet: without that rule every category
  with ``surge_min`` demands on the first day would "surge" against a mean of zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from streams.state import LiveState

Severity = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class AlertRules:
    satisfaction_below: float = 0.6
    min_evaluations: int = 5
    no_show_min: int = 3
    no_show_share: float = 0.3
    surge_min: int = 10
    surge_factor: float = 3.0
    surge_history_days: int = 3


@dataclass(frozen=True)
class Condition:
    key: str
    kind: str
    severity: Severity
    scope: str
    reason: str  #: for operators and machines (English)
    display: str = ""  #: what people see (Chinese)


@dataclass
class Alert:
    key: str
    kind: str
    severity: Severity
    scope: str
    reason: str
    started_at: str
    ended_at: str | None = None
    display: str = ""  #: the Chinese text pages show (checkpoints from before have none)

    def document(self) -> dict[str, Any]:
        return asdict(self)


def conditions(
    state: LiveState,
    now: datetime,
    rules: AlertRules,
    occupancy: Mapping[str, int] | None = None,
    category_names: Mapping[str, str] | None = None,
) -> list[Condition]:
    """Every alert condition that holds at ``now`` (``occupancy``: the caller's reading of
    ``state.occupancy(now)``, if it has one; ``category_names`` label categories in the
    Chinese texts)."""
    found: list[Condition] = []
    venues = state.network.venues
    stations = state.network.by_id

    def station_name(station_id: str) -> str:
        station = stations.get(station_id)
        return station.name if station is not None else station_id

    occupancy = state.occupancy(now) if occupancy is None else occupancy
    for venue_id, people in sorted(occupancy.items()):
        venue = venues.get(venue_id)
        if venue is not None and people > venue.capacity:
            found.append(
                Condition(
                    f"over_capacity:{venue_id}",
                    "over_capacity",
                    "high",
                    f"venue:{venue_id}",
                    f"{people} people checked in, capacity {venue.capacity}",
                    f"{venue.name}在场 {people} 人，超过容量 {venue.capacity} 人",
                )
            )
    tz = state.network.tz
    for kiosk in state.offline_kiosks(now):
        last, station = state.kiosks[kiosk]
        found.append(
            Condition(
                f"kiosk_offline:{kiosk}",
                "kiosk_offline",
                "medium",
                f"kiosk:{kiosk}",
                f"no heartbeat since {last.isoformat()} while the station is open",
                f"{station_name(station)}终端 {kiosk} 营业中失联"
                f"（最后心跳 {last.astimezone(tz):%m-%d %H:%M}）",
            )
        )
    today = state.local_day(now)
    for station in sorted(state.stations_on.get(today, ())):
        counters = state.days[(today, station)]
        summary = state.summary(today, station)
        if (
            summary["evaluations"] >= rules.min_evaluations
            and summary["satisfaction"] < rules.satisfaction_below
        ):
            found.append(
                Condition(
                    f"low_satisfaction:{station}",
                    "low_satisfaction",
                    "medium",
                    f"station:{station}",
                    f"satisfaction {summary['satisfaction']:.0%} "
                    f"over {summary['evaluations']} evaluations today",
                    f"{station_name(station)}今日满意率 {summary['satisfaction']:.0%}"
                    f"（{summary['evaluations']} 条评价）",
                )
            )
        if (
            counters.no_shows >= rules.no_show_min
            and counters.no_shows >= rules.no_show_share * max(1, counters.bookings_confirmed)
        ):
            found.append(
                Condition(
                    f"no_show_spike:{station}",
                    "no_show_spike",
                    "low",
                    f"station:{station}",
                    f"{counters.no_shows} no-shows of {counters.bookings_confirmed} "
                    "confirmed bookings today",
                    f"{station_name(station)}今日爽约 {counters.no_shows} 次"
                    f"（已确认预约 {counters.bookings_confirmed} 个）",
                )
            )
    found.extend(_demand_surges(state, now, rules, category_names or {}))
    return found


def _demand_surges(
    state: LiveState, now: datetime, rules: AlertRules, names: Mapping[str, str]
) -> list[Condition]:
    today = state.local_day(now)
    window = [today - timedelta(days=i) for i in range(1, 8)]
    observed = sum(1 for day in window if state.stations_on.get(day))
    if observed < rules.surge_history_days:
        return []  # no baseline to surge above yet
    current: dict[str, int] = {}
    before: dict[str, int] = {}
    for day in (today, *window):
        target = current if day == today else before
        for station in state.stations_on.get(day, ()):
            for category, n in state.days[(day, station)].demand_by_category.items():
                target[category] = target.get(category, 0) + n
    surges = []
    for category, n in current.items():
        mean = before.get(category, 0) / observed
        if n >= rules.surge_min and n >= rules.surge_factor * mean:
            surges.append(
                Condition(
                    f"demand_surge:{category}",
                    "demand_surge",
                    "low",
                    f"category:{category}",
                    f"{n} demands today, {mean:.1f} a day over the last week",
                    f"「{names.get(category, category)}」类需求今日 {n} 条，"
                    f"近一周日均 {mean:.1f} 条",
                )
            )
    return surges


class AlertTracker:
    """Opens an alert when its condition appears and closes it when it goes away."""

    def __init__(self) -> None:
        self.open: dict[str, Alert] = {}

    def documents(self) -> list[dict[str, Any]]:
        """The open alerts, JSON-ready (kept in the worker's checkpoints)."""
        return [alert.document() for alert in self.open.values()]

    def restore(self, documents: list[dict[str, Any]]) -> None:
        """Take back the open alerts of a checkpoint: a restarted worker keeps their start
        (and closes them, with an end, if their condition no longer holds)."""
        self.open = {d["key"]: Alert(**d) for d in documents if d.get("ended_at") is None}

    def update(self, found: list[Condition], now: datetime) -> list[Alert]:
        """Apply the conditions holding now; returns the alerts that opened or closed."""
        changed: list[Alert] = []
        holding = {c.key: c for c in found}
        for key, condition in holding.items():
            alert = self.open.get(key)
            if alert is None:
                alert = Alert(
                    condition.key,
                    condition.kind,
                    condition.severity,
                    condition.scope,
                    condition.reason,
                    now.isoformat(),
                    display=condition.display,
                )
                self.open[key] = alert
                changed.append(alert)
            else:
                alert.reason = condition.reason
                alert.display = condition.display
        for key in [k for k in self.open if k not in holding]:
            alert = self.open.pop(key)
            alert.ended_at = now.isoformat()
            changed.append(alert)
        return changed
