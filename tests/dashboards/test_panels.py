"""Every panel's query, expanded as Grafana expands it, runs on the real ClickHouse engine
(chDB) loaded with a simulated week, and returns rows with the columns the panel reads; the
KPI panels show what ``projections.kpi`` (behind ``GET /v1/kpis``) computes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboards.boards.common import KPI_PANELS
from dashboards.check import PanelRun, check_all, time_range
from dashboards.macros import Selection, expand
from dashboards.model import Dashboard
from dashboards.provisioning import dashboards_for
from projections.kpi import Period, Scope, compute_kpis
from projections.warehouse import ChdbWarehouse
from sanjiang.cli import app
from sanjiang.conflicts import LABELS, counts_by_day
from sanjiang.network import load_network
from sanjiang.settings import load_settings
from tests.dashboards.loaded import (
    CONFLICTING,
    DAYS,
    START,
    TZ,
    conflicting_facts,
    load,
    simulated_week,
)

BOARDS = dashboards_for(load_settings())
WEEK = time_range(
    datetime.combine(START, time(), TZ), datetime.combine(START, time(), TZ) + timedelta(days=DAYS)
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbWarehouse]:
    warehouse = load(tmp_path_factory.mktemp("dashboards") / "warehouse")
    try:
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture(scope="module")
def runs(loaded: ChdbWarehouse) -> list[PanelRun]:
    return list(check_all(loaded, BOARDS, WEEK))


def test_every_panel_query_runs_and_returns_its_columns(runs: list[PanelRun]) -> None:
    expected = sum(len(d.panels) * (2 if d.variables else 1) for d in BOARDS)  # All and one station
    assert len(runs) == expected
    failed = [
        f"{r.dashboard}/{r.panel} [{r.variables}]: {r.error or r.missing}" for r in runs if not r.ok
    ]
    assert not failed, "\n".join(failed)


def test_every_panel_finds_data_in_a_simulated_week(runs: list[PanelRun]) -> None:
    empty = [f"{r.dashboard}/{r.panel} [{r.variables}]" for r in runs if r.rows == 0]
    assert not empty, empty


def test_station_selection_narrows_what_panels_count(runs: list[PanelRun]) -> None:
    rows = {(r.dashboard, r.panel, r.variables): r.rows for r in runs}
    assert rows[("站点详情", "各站点概况", "station=All")] > 30  # nearly every station is active
    assert rows[("站点详情", "各站点概况", "station=WS-C")] == 1


def _panel(board: Dashboard, title: str) -> str:
    return next(p.query.sql for p in board.panels if p.title == title)


@pytest.mark.parametrize("station", [None, "WS-G1", "WS-R05"])
def test_kpi_panels_show_the_kpi_module_s_numbers(
    loaded: ChdbWarehouse, station: str | None
) -> None:
    board = next(d for d in BOARDS if d.uid == "sanjiang-station")
    stations = tuple(s.id for s in load_network().stations)
    selection = (
        Selection.everything(stations)
        if station is None
        else Selection((station,), options=stations)
    )
    scope = Scope.network() if station is None else Scope("station", station)
    for day in range(DAYS):  # every day of the week, and the whole week
        start = datetime.combine(START + timedelta(days=day), time(), TZ)
        window = time_range(start, start + timedelta(days=1)) if day < DAYS - 1 else WEEK
        report = compute_kpis(
            loaded, load_network(), Period(window.start, window.end), scope
        ).as_dict()
        for _, column, title, _ in KPI_PANELS:
            sql = expand(_panel(board, title), window, {"station": selection})
            shown = loaded.query(sql).dicts()[0][column]
            assert shown == pytest.approx(report[column]), (title, station, day)
        assert report["participants"] > 0  # real numbers compared, not nulls


def test_overview_kpis_are_the_network_s(loaded: ChdbWarehouse) -> None:
    board = next(d for d in BOARDS if d.uid == "sanjiang-overview")
    report = compute_kpis(loaded, load_network(), Period(WEEK.start, WEEK.end), Scope.network())
    assert all(getattr(report, column) for _, column, _, _ in KPI_PANELS)  # none null or 0
    for _, column, title, _ in KPI_PANELS:
        shown = loaded.query(expand(_panel(board, title), WEEK, {})).dicts()[0][column]
        assert shown == pytest.approx(getattr(report, column))


def test_conflicts_panel_counts_what_the_kpi_module_counts(loaded: ChdbWarehouse) -> None:
    board = next(d for d in BOARDS if d.uid == "sanjiang-operations")
    rows = loaded.query(expand(_panel(board, "事实冲突（按日、站点、类型）"), WEEK, {})).dicts()
    network = load_network()
    # by day, station and kind as the definition judges the week: the added facts, and the
    # simulated residents who came to a small class without a place
    judged = counts_by_day(simulated_week() + conflicting_facts(), network.venue_station, TZ)
    assert sorted((r["日期"], r["站点"], r["冲突类型"], r["事实数"]) for r in rows) == sorted(
        (day.isoformat(), network.station(station).name, LABELS[kind], n)
        for (day, station), kinds in judged.items()
        for kind, n in kinds.items()
        if n
    )
    # the week's conflicts as GET /v1/kpis counts them beside the KPIs (no resident evaluated
    # the same activity on two days, so counting pairs per day gives the same)
    report = compute_kpis(loaded, network, Period(WEEK.start, WEEK.end), Scope.network())
    shown = {k: sum(r["事实数"] for r in rows if r["冲突类型"] == LABELS[k]) for k in LABELS}
    assert shown == report.conflicts
    added = {k: v for k, v in report.conflicts.items() if v and k != "no_registration"}
    assert added == CONFLICTING and report.conflicts["no_registration"] > 0


def test_check_command_reports_every_panel(
    loaded: ChdbWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANJIANG_WAREHOUSE_PATH", str(Path(loaded.path)))
    result = CliRunner().invoke(app, ["dashboards", "check", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "every panel query ran" in result.output
    assert "指挥中心总览" in result.output and "设备运行" in result.output
