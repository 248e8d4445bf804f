"""The four KPIs of a day, live: from what ``streams.state`` folded, by DESIGN.md's definitions
and by the very arithmetic of the warehouse (``projections.kpi``; ``sanjiang.kpis``), so a
closed day's live KPIs equal the warehouse's to the last bit (``sanjiang reconcile`` checks).

Per station and for the network, for one local day:

- 场馆使用率 venue utilization: the whole minutes of the scope's venues' opening hours that day
  taken by confirmed, not cancelled bookings and published, not cancelled activities there
  (their latest venue and time), overlaps once, ÷ the opening minutes;
- 项目精准率 project precision: Σ_c min(d_c·S, s_c·D) / (D·S) over the demand events of the
  day at the scope's stations (``demand.submitted`` and ``demand.voted``) and the capacity of
  the published, not cancelled activities starting that day at the scope's venues, the
  venue-booking family left out of both; the fill rate beside it (registrations not cancelled
  of those activities ÷ their capacity);
- 居民参与率 resident participation: the distinct residents with a check-in that day at the
  scope's stations at a venue the network knows ÷ the residents the scope serves;
- 服务满意率 service satisfaction: the day's counters' judged evaluations (one per resident and
  activity, the latest, from residents who attended), the share rated 4 or 5.

Each value is ``provisional`` while its day's window still takes late events (the day plus
the lateness grace, ``LiveState.window_closed``): a page shows it as such; once the window has
closed the value is final and is what reconciliation compares. Utilization and precision of a
station's day are computed from decisions only and kept per (day, station) until that day's
counters change (``KpiReader``: every decision that changes them bumps their revision).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sanjiang.conflicts import CHECKIN_KINDS, NOT_ATTENDED
from sanjiang.kpis import covered, ms, overlap, ratio, span
from streams.state import LiveState

#: The KPIs in the order pages show them; each is a block in a view's ``kpis``.
KPIS = (
    "venue_utilization",
    "project_precision",
    "resident_participation",
    "service_satisfaction",
)


@dataclass(frozen=True, slots=True)
class Decided:
    """What decisions made of one station's day: opening and taken minutes of its venues, and
    the capacity supplied by category by the activities starting then (and which)."""

    open_minutes: int
    taken_minutes: int
    supply: dict[str, int]
    supplied: tuple[str, ...]


class KpiReader:
    """Reads the KPIs of days from a ``LiveState``, keeping each station's ``Decided`` of a day
    until that day's counters change (a renderer keeps one reader: a network view sums every
    station's, ten times a second while events flow)."""

    def __init__(self) -> None:
        self._decided: dict[tuple[date, str], tuple[int, Decided]] = {}

    def forget(self, keep: set[date]) -> None:
        """Drop what was kept for days other than ``keep``."""
        self._decided = {k: v for k, v in self._decided.items() if k[0] in keep}

    def decided(self, state: LiveState, day: date, station: str) -> Decided:
        revision = state.revision(day, station)
        kept = self._decided.get((day, station))
        if kept is not None and kept[0] == revision:
            return kept[1]
        found = _decided(state, day, station)
        self._decided[(day, station)] = (revision, found)
        return found

    def station(
        self, state: LiveState, day: date, station: str, summary: dict[str, Any], now: datetime
    ) -> dict[str, Any] | None:
        """The KPIs of one station's day (None for a station the network does not have), its
        counters' ``summary`` given (``LiveState.summary``)."""
        if station not in state.network.by_id:
            return None
        decided = self.decided(state, day, station)
        counters = state.days.get((day, station))
        demand = _demand([counters.demand_by_category] if counters else [], state)
        population = state.network.population(station)
        return _block(state, day, now, decided, [decided], demand, population, summary)

    def network(
        self, state: LiveState, day: date, summary: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """The KPIs of the network's day, its counters' ``summary`` given
        (``LiveState.network_summary``)."""
        parts = [self.decided(state, day, s.id) for s in state.network.stations]
        total = Decided(
            open_minutes=sum(p.open_minutes for p in parts),
            taken_minutes=sum(p.taken_minutes for p in parts),
            supply={},
            supplied=tuple(a for p in parts for a in p.supplied),
        )
        for part in parts:
            for category, capacity in part.supply.items():
                total.supply[category] = total.supply.get(category, 0) + capacity
        counters = [
            c
            for s in state.network.stations
            if (c := state.days.get((day, s.id))) is not None and c.demand_by_category
        ]
        demand = _demand([c.demand_by_category for c in counters], state)
        population = state.network.population()
        return _block(state, day, now, total, parts, demand, population, summary)


def _block(
    state: LiveState,
    day: date,
    now: datetime,
    decided: Decided,
    parts: list[Decided],
    demand: dict[str, int],
    population: int,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The ``kpis`` of a view: the day, whether it is still provisional, and each KPI with the
    counts behind it (named as in ``projections.kpi.KpiReport``)."""
    provisional = not state.window_closed(day, now)
    numerator, denominator = overlap(demand, decided.supply)
    capacity = sum(decided.supply.values())
    registered = _registered(state, [a for part in parts for a in part.supplied])
    conflicts: dict[str, int] = summary.get("conflicts", {})
    participants: int = summary["residents"]
    evaluations: int = summary["evaluations"]
    satisfied: int = summary["satisfied_evaluations"]
    closes = datetime.combine(day + timedelta(days=1), time(), state.network.tz) + state.grace
    return {
        "day": day.isoformat(),
        "provisional": provisional,
        "final_at": closes.isoformat(),
        "venue_utilization": {
            "value": ratio(decided.taken_minutes, decided.open_minutes),
            "provisional": provisional,
            "taken_hours": decided.taken_minutes / 60,
            "open_hours": decided.open_minutes / 60,
        },
        "project_precision": {
            "value": ratio(numerator, denominator),
            "provisional": provisional,
            "demand_events": sum(demand.values()),
            "supplied_capacity": capacity,
            "fill_rate": ratio(registered, capacity),
            "registrations": registered,
        },
        "resident_participation": {
            "value": ratio(participants, population),
            "provisional": provisional,
            "participants": participants,
            "population": population,
            "conflicts": sum(conflicts.get(kind, 0) for kind in CHECKIN_KINDS),
        },
        "service_satisfaction": {
            "value": ratio(satisfied, evaluations),
            "provisional": provisional,
            "satisfied_evaluations": satisfied,
            "evaluations": evaluations,
            "conflicts": conflicts.get(NOT_ATTENDED, 0),
        },
    }


def _demand(by_category: list[dict[str, int]], state: LiveState) -> dict[str, int]:
    """Demand events by category, summed, without the categories precision leaves out."""
    demand: dict[str, int] = {}
    left_out = state.left_out
    for counts in by_category:
        for category, n in counts.items():
            if n and category not in left_out:
                demand[category] = demand.get(category, 0) + n
    return demand


def _registered(state: LiveState, supplied: list[str]) -> int:
    """Registrations of the supplied activities not cancelled: submitted under one of them and
    cancelled under none (as ``projections.kpi`` counts them)."""
    submitted: set[str] = set()
    cancelled: set[str] = set()
    for activity_id in supplied:
        activity = state.activities.get(activity_id)
        if activity is not None:
            submitted |= activity.registrations
            cancelled |= activity.cancelled_registrations
    return len(submitted - cancelled)


def _decided(state: LiveState, day: date, station: str) -> Decided:
    """A station's ``Decided`` of one local day, from its venues' hours, ``held`` activities
    and ``booked`` bookings. Instants in milliseconds, intervals in whole minutes, as the
    warehouse keeps and counts them."""
    tz = state.network.tz
    start = datetime.combine(day, time(), tz)
    start_ms, end_ms = ms(start), ms(start + timedelta(days=1))
    first_minute, last_minute = start_ms // 60_000, (end_ms // 1000 + 59) // 60
    midnight = first_minute
    open_minutes = taken_minutes = 0
    supply: dict[str, int] = {}
    supplied: list[str] = []
    activities, bookings = state.activities, state.bookings
    for venue in state.network.by_id[station].venues:
        opening = [
            (
                max(midnight + i.start.hour * 60 + i.start.minute, first_minute),
                min(midnight + i.end.hour * 60 + i.end.minute, last_minute),
            )
            for i in venue.intervals_on(day)
        ]
        spans: list[tuple[int, int]] = []
        for activity_id in state.held.get((venue.id, day), ()):
            activity = activities.get(activity_id)
            if (
                activity is None
                or not activity.published
                or activity.cancelled
                or activity.starts_at is None
                or activity.ends_at is None
            ):
                continue
            starts, ends = ms(activity.starts_at), ms(activity.ends_at)
            if starts < end_ms and ends > start_ms:
                spans.append(span(starts, ends))
            if start_ms <= starts < end_ms and activity.category not in state.left_out:
                supply[activity.category] = supply.get(activity.category, 0) + activity.capacity
                supplied.append(activity_id)
        for booking_id in state.booked.get((venue.id, day), ()):
            booking = bookings.get(booking_id)
            if (
                booking is None
                or booking.confirmed is None
                or booking.cancelled
                or booking.starts_at is None
                or booking.ends_at is None
            ):
                continue
            starts, ends = ms(booking.starts_at), ms(booking.ends_at)
            if starts < end_ms and ends > start_ms:
                spans.append(span(starts, ends))
        spans.sort()
        for lo, hi in opening:
            open_minutes += max(hi - lo, 0)
            taken_minutes += covered(lo, hi, spans)
    return Decided(open_minutes, taken_minutes, supply, tuple(sorted(supplied)))
