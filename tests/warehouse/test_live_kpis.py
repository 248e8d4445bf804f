"""The live fold's four KPIs equal the warehouse's, exactly, for every closed day of a simulated
week, every station and the network (DESIGN.md: reconciliation).

The week is what ``sanjiang simulate --out`` writes (the simulated people's decisions made by
the deciders, events in the order they were handed over, re-sent duplicates included), plus a
few kiosk facts uploaded two days late — past the lateness grace: the live fold counts them as
too late, the warehouse keeps them, and reconciliation judges with what the live fold saw. The
file is loaded as ``sanjiang warehouse load`` loads it and folded event by event as the worker
folds the log. Values are compared with ``==``: both sides divide the same integers once
(``sanjiang.kpis``), so they are the same double, not merely close.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from projections.kpi import Period, Scope, compute_kpis
from projections.load import load_ndjson
from projections.migrate import load_reference, migrate
from projections.reconcile import KPI_COUNTS, final, reconcile
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter
from sanjiang.events import Event, encode_event
from sanjiang.events.codec import stamp_received
from sanjiang.network import load_network
from sanjiang.taxonomy import load_taxonomy
from streams.state import LiveState
from streams.views import live_views
from tests import simulated

NETWORK = load_network()
GRACE = timedelta(hours=6)
LATE_AFTER = timedelta(minutes=5)
MONDAY = date(2026, 11, 16)
DAYS = [MONDAY + timedelta(days=i) for i in range(7)]
#: after the last day's window closed
NOW = datetime.combine(DAYS[-1] + timedelta(days=1), time(), NETWORK.tz) + GRACE


def week() -> list[Event]:
    """The simulated week, some facts of which are uploaded two days late (at the end)."""
    events = simulated.backfill(MONDAY, days=7, seed=11, late_after=LATE_AFTER)
    once = {e.event_id for e in events}
    counts: dict[object, int] = {}
    for event in events:
        counts[event.event_id] = counts.get(event.event_id, 0) + 1
    rng = random.Random(3)
    facts = [
        i
        for i, e in enumerate(events)
        if e.type in ("checkin.recorded", "evaluation.submitted") and counts[e.event_id] == 1
    ]
    late = set(rng.sample(facts, 40))
    assert len(once) < len(events)  # duplicates were re-sent
    return [e for i, e in enumerate(events) if i not in late] + [
        stamp_received(events[i], events[i].occurred_at + timedelta(days=2), LATE_AFTER)
        for i in sorted(late)
    ]


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChdbWarehouse, LiveState]]:
    events = week()
    folder = tmp_path_factory.mktemp("live-kpis")
    backfill = folder / "week.ndjson"
    backfill.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    state = LiveState(NETWORK, grace=GRACE, taxonomy=load_taxonomy())
    for event in events:
        state.apply(event)
    assert state.too_late == 40
    warehouse = ChdbWarehouse(Path(folder / "warehouse"))
    migrate(warehouse)
    load_reference(warehouse, NETWORK, load_taxonomy())
    stats = load_ndjson(backfill, EventWriter(warehouse))
    assert stats.duplicates > 0 and stats.rejected == 0
    try:
        yield warehouse, state
    finally:
        warehouse.close()


def test_every_closed_day_reconciles_station_by_station_and_for_the_network(
    folded: tuple[ChdbWarehouse, LiveState],
) -> None:
    warehouse, state = folded
    views = live_views(state, NOW)
    assert all(final(views, day) for day in DAYS)
    result = reconcile(warehouse, NETWORK, views, DAYS, GRACE)
    assert result.not_final == []
    assert result.windows == len(DAYS) * (len(NETWORK.stations) + 1)
    assert result.differences == []

    # what was compared is not empty: each KPI has values on most station-days
    values = {
        kpi: [
            views[name]["kpis"][kpi]["value"]
            for name in views
            if name.startswith("day:") and name.count(":") == 2
        ]
        for kpi in KPI_COUNTS
    }
    for kpi, found in values.items():
        known = [v for v in found if v is not None]
        assert len(known) > len(found) // 3, kpi
        assert any(0 < v < 1 for v in known), kpi
    for day in DAYS:
        network = views[f"day:{day.isoformat()}"]["kpis"]
        assert network["provisional"] is False
        assert all(network[kpi]["value"] is not None for kpi in KPI_COUNTS), day


def test_late_facts_are_left_out_as_the_live_fold_left_them(
    folded: tuple[ChdbWarehouse, LiveState],
) -> None:
    """The warehouse's KPIs with every stored event differ where the late uploads fell; with
    the events the live fold saw they are the live fold's."""
    warehouse, state = folded
    views = live_views(state, NOW)
    differ = 0
    for day in DAYS:
        start = datetime.combine(day, time(), NETWORK.tz)
        period = Period(start, start + timedelta(days=1))
        everything = compute_kpis(warehouse, NETWORK, period, Scope.network())
        seen = compute_kpis(warehouse, NETWORK, period, Scope.network(), admitted_within=GRACE)
        live = views[f"day:{day.isoformat()}"]["kpis"]
        assert live["resident_participation"]["participants"] == seen.participants
        assert live["service_satisfaction"]["evaluations"] == seen.evaluations
        differ += (everything.participants, everything.evaluations) != (
            seen.participants,
            seen.evaluations,
        )
    assert differ > 0


def test_today_is_provisional_until_its_window_closes(
    folded: tuple[ChdbWarehouse, LiveState],
) -> None:
    _, state = folded
    last = DAYS[-1]
    evening = datetime.combine(last, time(21), NETWORK.tz)
    today = live_views(state, evening)
    assert today["network"]["kpis"]["day"] == last.isoformat()
    assert today["network"]["kpis"]["provisional"] is True
    assert all(today["network"]["kpis"][k]["provisional"] for k in KPI_COUNTS)
    assert today["station:WS-C"]["kpis"]["venue_utilization"]["provisional"] is True
    # the next morning the day before is a day view, provisional until 06:00, then final
    for hour, provisional in ((5, True), (6, False)):
        morning = datetime.combine(last + timedelta(days=1), time(hour), NETWORK.tz)
        views = live_views(state, morning)
        kpis = views[f"day:{last.isoformat()}:WS-C"]["kpis"]
        assert kpis["provisional"] is provisional
        assert kpis["service_satisfaction"]["provisional"] is provisional
        assert final(views, last) is not provisional
        assert kpis["final_at"] == f"{last + timedelta(days=1)}T06:00:00+08:00"
