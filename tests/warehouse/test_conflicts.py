"""Conflicts in the warehouse on the hand-built day of ``tests.conflicting``: the KPIs leave out
what DESIGN.md says and show the conflicts beside them; per-day counts equal the definition
(``sanjiang.conflicts``) for every kind; reconciliation's counts equal the live fold's."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from projections.conflicts import CONFLICTS_BY_DAY
from projections.kpi import KpiReport, KpiSql, Period, Scope, compute_kpis
from projections.migrate import migrate
from projections.order import VERSION
from projections.reconcile import reconcile, warehouse_counts
from projections.replay import DATA_TABLES
from projections.rows import encode_rows, event_row
from projections.warehouse import ChdbWarehouse, ch_datetime
from projections.writer import EventWriter, Positioned
from sanjiang.conflicts import CHECKIN_KINDS, KINDS, counts_by_day, no_conflicts
from sanjiang.events import Event
from sanjiang.network import load_network
from streams.state import LiveState
from streams.views import live_views
from tests import conflicting as c

NETWORK = load_network()
GRACE = timedelta(hours=6)
TUESDAY, WEDNESDAY = c.TUESDAY.date(), c.WEDNESDAY.date()


def write(warehouse: ChdbWarehouse, events: list[Event]) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in events])


@pytest.fixture
def loaded(warehouse: ChdbWarehouse) -> ChdbWarehouse:
    write(warehouse, c.conflicting_day())
    return warehouse


def kpis(warehouse: ChdbWarehouse, scope: Scope, day: date = TUESDAY) -> KpiReport:
    start = c.TUESDAY + timedelta(days=(day - TUESDAY).days)
    return compute_kpis(warehouse, NETWORK, Period(start, start + timedelta(days=1)), scope)


def test_station_kpis_leave_conflicting_facts_out(loaded: ChdbWarehouse) -> None:
    report = kpis(loaded, Scope("station", "WS-R03"))
    assert report.conflicts == {**no_conflicts(), **c.KPI_TUESDAY_R03}
    assert report.participation_conflicts == sum(c.KPI_TUESDAY_R03.get(k, 0) for k in CHECKIN_KINDS)
    # participation counts check-ins at venues the network knows: everyone but d (15), also
    # e at WS-R04's room, g at an activity never published, b, c and r past C1's capacity
    assert report.participants == 15
    # satisfaction counts evaluations from residents who attended: a 5, k 3, n 5, g 4, s 4
    assert (report.satisfied_evaluations, report.evaluations) == (4, 5)
    assert report.satisfaction_conflicts == 2  # l came after C1, m never came
    assert report.service_satisfaction == pytest.approx(0.8)


def test_network_and_venue_scopes(loaded: ChdbWarehouse) -> None:
    network = kpis(loaded, Scope.network())
    assert network.conflicts == {
        k: c.KPI_TUESDAY_R03.get(k, 0) + c.TUESDAY_R04.get(k, 0) for k in KINDS
    }
    assert network.participants == 16  # and o, checked in by WS-R04's kiosk
    room = kpis(loaded, Scope("venue", c.ROOM))
    # the room's check-ins by its station's kiosks (not d's, e's nor o's); evaluations of the
    # activities held there (not GHOST's)
    assert room.conflicts == {
        **no_conflicts(),
        "unknown_activity": 1,
        "over_capacity": 3,
        "not_attended": 2,
    }
    assert (room.evaluations, room.satisfaction_conflicts) == (4, 2)
    wednesday = kpis(loaded, Scope("station", "WS-R03"), WEDNESDAY)
    assert wednesday.conflicts == {**no_conflicts(), **c.WEDNESDAY_R03}
    assert wednesday.evaluations == 1  # p came on Tuesday
    # those without a place at C3 still came: w t u v x y z at C3, aa at C4
    assert (wednesday.participants, wednesday.participation_conflicts) == (8, 3)


def by_day(warehouse: ChdbWarehouse, days: int = 2) -> dict[tuple[date, str], dict[str, int]]:
    sql = KpiSql.bound(warehouse.database, venue_scope=False).render(CONFLICTS_BY_DAY)
    params: dict[str, Any] = {
        "start": ch_datetime(c.TUESDAY),
        "end": ch_datetime(c.TUESDAY + timedelta(days=days)),
        "stations": [s.id for s in NETWORK.stations],
        "venues": [],
    }
    found: dict[tuple[date, str], dict[str, int]] = {}
    for row in warehouse.query(sql, params).dicts():
        key = (date.fromisoformat(row["day"]), row["station_id"])
        found.setdefault(key, no_conflicts())[row["kind"]] = int(row["conflicts"])
    return found


def test_conflicts_by_day_station_and_kind_are_the_definition_s(loaded: ChdbWarehouse) -> None:
    expected = counts_by_day(c.conflicting_day(), NETWORK.venue_station, NETWORK.tz)
    assert by_day(loaded) == expected
    assert expected[(TUESDAY, "WS-R03")] == {**no_conflicts(), **c.KPI_TUESDAY_R03}


@pytest.mark.parametrize("seed", range(3))
def test_any_subset_of_the_day_is_judged_as_the_definition_judges_it(
    warehouse: ChdbWarehouse, seed: int
) -> None:
    """Without some publications, updates or check-ins the kinds move (a capacity not raised,
    an activity unknown, a resident no longer ranked or attending): still the definition's."""
    rng = random.Random(seed)
    events = [e for e in c.conflicting_day() if rng.random() < 0.7]
    write(warehouse, events)
    assert by_day(warehouse) == counts_by_day(events, NETWORK.venue_station, NETWORK.tz)


@pytest.mark.parametrize("seed", range(4))
def test_random_registrations_are_judged_as_the_definition_judges_them(
    warehouse: ChdbWarehouse, seed: int
) -> None:
    """``conflicting.random_registrations``: the KPIs' judgement (every stored event) is the
    definition's, and reconciliation's (the events admitted in their windows) the live
    fold's."""
    rng = random.Random(seed)
    events = [e for prefix in "ABC" for e in c.random_registrations(rng, prefix)]
    write(warehouse, events)
    expected = counts_by_day(events, NETWORK.venue_station, NETWORK.tz)
    assert by_day(warehouse) == expected
    assert any(found["no_registration"] for found in expected.values())
    state = LiveState(NETWORK, grace=GRACE)
    for event in events:
        state.apply(event)
    stored = warehouse_counts(warehouse, NETWORK, WEDNESDAY, GRACE)
    for station, counts in stored.items():
        live = state.summary(WEDNESDAY, station)["conflicts"]
        assert {k: counts.get(f"conflicts.{k}", 0) for k in KINDS} == live, station


def test_reconciliation_judges_with_what_the_live_fold_saw(loaded: ChdbWarehouse) -> None:
    events = c.conflicting_day()
    state = LiveState(NETWORK, grace=GRACE)
    for event in events:
        state.apply(event)
    now = c.WEDNESDAY + timedelta(days=1) + GRACE + timedelta(minutes=1)  # both days closed
    views = live_views(state, now)
    stored = warehouse_counts(loaded, NETWORK, TUESDAY, GRACE)
    r03 = stored["WS-R03"]
    assert {k: r03[f"conflicts.{k}"] for k in c.LIVE_TUESDAY_R03} == c.LIVE_TUESDAY_R03
    assert (r03["evaluations"], r03["satisfied_evaluations"], r03["residents"]) == (4, 3, 13)
    # z's registration reached the platform past its day's window: not seen, not admitted
    r03 = warehouse_counts(loaded, NETWORK, WEDNESDAY, GRACE)["WS-R03"]
    assert {k: r03[f"conflicts.{k}"] for k in c.LIVE_WEDNESDAY_R03} == c.LIVE_WEDNESDAY_R03
    result = reconcile(loaded, NETWORK, views, [TUESDAY, WEDNESDAY], GRACE)
    # every station of the network and the network itself, on both days: counters and KPIs
    assert result.windows == 2 * (len(NETWORK.stations) + 1)
    assert result.differences == [] and result.ok
    # a forged fact the log never had: one more conflict in the warehouse than live, beside
    # participation at the station and in the network
    write(loaded, [c.checkin("z", c.at(16), venue="WS-NOWHERE")])
    result = reconcile(loaded, NETWORK, views, [TUESDAY], GRACE)
    assert {(d.station_id, d.counter, d.live, d.warehouse) for d in result.differences} == {
        ("WS-R03", "checkins", 15, 16),
        ("WS-R03", "conflicts.unknown_venue", 1, 2),
        ("WS-R03", "kpi.resident_participation.conflicts", 5, 6),
        ("network", "kpi.resident_participation.conflicts", 6, 7),
    }


def test_first_check_ins_are_kept_per_activity_and_resident(loaded: ChdbWarehouse) -> None:
    """``activity_checkins`` (migration 0014) holds each resident's first check-in naming each
    activity, whatever was written again or backfilled."""
    write(loaded, c.conflicting_day()[::2])  # written again: nothing changes
    kept = loaded.query(
        "SELECT activity_id, resident, min(first_v) AS first FROM sanjiang.activity_checkins "
        "GROUP BY activity_id, resident ORDER BY activity_id, resident"
    ).rows
    folded = loaded.query(
        f"SELECT activity_id, resident, min({VERSION}) AS first "
        "FROM sanjiang.events WHERE type = 'checkin.recorded' AND activity_id != '' "
        "GROUP BY activity_id, resident ORDER BY activity_id, resident"
    ).rows
    # C1: f a b c d e r; C2: h i j; GHOST: g; C3: w y t u v x z; C4: aa
    assert kept == folded and len(kept) == 19
    assert "activity_checkins" in DATA_TABLES  # rebuilt by a replay


#: What judging check-ins reads of the decisions, folded over every stored event as the
#: judgement folded them before migration 0016 kept them: per activity, published, cancelled,
#: the latest capacity and rule; per registration filed under an activity, its residents and
#: whether it was cancelled there.
RULES_FOLDED = f"""
    SELECT activity_id, max(type = 'activity.published'), max(type = 'activity.cancelled'),
           argMaxIf(capacity, {VERSION}, capacity > 0),
           argMaxIf(assumeNotNull(registration_required), {VERSION},
                    registration_required IS NOT NULL)
    FROM sanjiang.events
    WHERE type IN ('activity.published', 'activity.updated', 'activity.cancelled')
    GROUP BY activity_id ORDER BY activity_id"""
RULES_KEPT = """
    SELECT activity_id, max(published), max(cancelled), max(capacity_v).3, max(required_v).3
    FROM sanjiang.activity_rules GROUP BY activity_id ORDER BY activity_id"""
PLACES_FOLDED = """
    SELECT activity_id, registration_id,
           arraySort(groupUniqArrayIf(resident, type = 'registration.submitted')),
           countIf(type = 'registration.cancelled') > 0
    FROM sanjiang.events WHERE type IN ('registration.submitted', 'registration.cancelled')
    GROUP BY activity_id, registration_id ORDER BY activity_id, registration_id"""
PLACES_KEPT = """
    SELECT activity_id, registration_id, arraySort(groupUniqArrayArray(residents)),
           max(cancelled) > 0
    FROM sanjiang.activity_places
    GROUP BY activity_id, registration_id ORDER BY activity_id, registration_id"""


def test_decisions_and_places_are_kept_per_activity(loaded: ChdbWarehouse) -> None:
    """``activity_rules`` and ``activity_places`` (migration 0016) hold what a fold over the
    events gives, whatever was stored twice; a warehouse with history migrated to 0016 is
    backfilled, and judges as the definition does."""
    folded = loaded.query(RULES_FOLDED).rows, loaded.query(PLACES_FOLDED).rows
    assert all(folded) and (loaded.query(RULES_KEPT).rows, loaded.query(PLACES_KEPT).rows) == folded
    expected = by_day(loaded)
    for statement in (
        "DROP VIEW sanjiang.activity_rules_mv",
        "DROP VIEW sanjiang.activity_places_mv",
        "DROP TABLE sanjiang.activity_rules",
        "DROP TABLE sanjiang.activity_places",
        "ALTER TABLE sanjiang.schema_migrations DELETE WHERE version = 16 "
        "SETTINGS mutations_sync = 1",
    ):
        loaded.command(statement)
    assert migrate(loaded).applied == ["0016_conflict_inputs"]
    assert (loaded.query(RULES_KEPT).rows, loaded.query(PLACES_KEPT).rows) == folded
    assert by_day(loaded) == expected
    # every event stored a second time (the sink never does; a backfill racing it could)
    loaded.insert_json_rows(
        "sanjiang.events", encode_rows([event_row(e) for e in c.conflicting_day()])
    )
    assert (loaded.query(RULES_KEPT).rows, loaded.query(PLACES_KEPT).rows) == folded
    assert {"activity_rules", "activity_places"} <= set(DATA_TABLES)  # rebuilt by a replay
