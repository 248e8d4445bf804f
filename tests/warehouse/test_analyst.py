"""Analyst SQL against the real engine: writes refused by it, parameters literal, limits hold."""

from __future__ import annotations

import io

import orjson
import pyarrow.ipc
import pytest

from projections.analyst import Limits, run_analyst_query
from projections.warehouse import ChdbWarehouse, WarehouseError
from projections.writer import EventWriter, Positioned
from tests.warehouse.test_kpis import the_day

LIMITS = Limits(max_rows=1000, max_seconds=1.0, max_memory_bytes=500_000_000)


@pytest.fixture
def loaded(warehouse: ChdbWarehouse) -> ChdbWarehouse:
    EventWriter(warehouse).write([Positioned(e) for e in the_day()])
    return warehouse


def count(warehouse: ChdbWarehouse) -> int:
    return int(warehouse.query("SELECT count() FROM sanjiang.events").scalar())


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sanjiang.events (event_id) VALUES (generateUUIDv7())",
        "ALTER TABLE sanjiang.events DELETE WHERE 1",
        "DROP TABLE sanjiang.events",
        "TRUNCATE TABLE sanjiang.stations",
        "CREATE TABLE sanjiang.mine (a Int8) ENGINE = Memory",
        "INSERT INTO FUNCTION file('stolen.csv') SELECT * FROM sanjiang.events",
        "SELECT 1; DROP TABLE sanjiang.events",
        "SYSTEM STOP MERGES",
    ],
)
def test_writes_and_escapes_are_refused_by_the_engine(
    loaded: ChdbWarehouse, statement: str
) -> None:
    before = count(loaded)
    with pytest.raises(WarehouseError):
        run_analyst_query(loaded, statement, {}, "json", LIMITS)
    assert count(loaded) == before
    assert loaded.query("EXISTS TABLE sanjiang.stations").scalar() == 1


def test_a_query_cannot_lift_readonly(loaded: ChdbWarehouse) -> None:
    body, _ = run_analyst_query(
        loaded, "SELECT getSetting('readonly') AS r SETTINGS readonly = 0", {}, "json", LIMITS
    )
    assert orjson.loads(body)["data"] == [[1]]


def test_a_refused_query_leaves_the_next_result_clean(loaded: ChdbWarehouse) -> None:
    # chDB keeps a failed query's partial output in its connection; the warehouse replaces it
    with pytest.raises(WarehouseError):
        run_analyst_query(loaded, "SELECT number FROM numbers(5000)", {}, "csv", LIMITS)
    body, _ = run_analyst_query(loaded, "SELECT 42 AS answer", {}, "csv", LIMITS)
    assert body == b'"answer"\n42\n'
    assert count(loaded) > 0


def test_parameters_are_literals(loaded: ChdbWarehouse) -> None:
    injection = "WS-R03' OR 1=1 --"
    body, _ = run_analyst_query(
        loaded,
        "SELECT count() AS n FROM sanjiang.events WHERE station_id = {station:String}",
        {"station": injection},
        "json",
        LIMITS,
    )
    assert orjson.loads(body)["data"] == [[0]]
    body, _ = run_analyst_query(
        loaded,
        "SELECT count() AS n FROM sanjiang.events WHERE station_id = {station:String}",
        {"station": "WS-R04"},
        "json",
        LIMITS,
    )
    assert orjson.loads(body)["data"] == [[1]]


def test_runaway_and_oversized_queries_are_stopped(loaded: ChdbWarehouse) -> None:
    with pytest.raises(WarehouseError, match="(?i)timeout|TIMEOUT_EXCEEDED"):
        run_analyst_query(loaded, "SELECT count() FROM numbers(100000000000)", {}, "json", LIMITS)
    with pytest.raises(WarehouseError, match="(?i)limit|TOO_MANY_ROWS"):
        run_analyst_query(loaded, "SELECT number FROM numbers(5000)", {}, "json", LIMITS)


def test_output_formats(loaded: ChdbWarehouse) -> None:
    sql = "SELECT type, count() AS n FROM sanjiang.events GROUP BY type ORDER BY type"
    body, content_type = run_analyst_query(loaded, sql, {}, "csv", LIMITS)
    assert content_type.startswith("text/csv")
    assert body.splitlines()[0] == b'"type","n"'
    body, content_type = run_analyst_query(loaded, sql, {}, "arrow", LIMITS)
    table = pyarrow.ipc.open_stream(io.BytesIO(body)).read_all()
    assert table.column_names == ["type", "n"]
    assert sum(table.column("n").to_pylist()) == count(loaded)
    body, _ = run_analyst_query(loaded, sql, {}, "json", LIMITS)
    assert [c["name"] for c in orjson.loads(body)["meta"]] == ["type", "n"]
