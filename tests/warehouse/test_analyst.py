"""Analyst SQL against the real engine: one SELECT as ClickHouse's parser decides, run in a
read-only session; every escape refused; parameters literal; limits hold."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pyarrow.ipc
import pytest

from projections.analyst import (
    DENIED_FUNCTIONS,
    TABLE_FUNCTIONS,
    Limits,
    QueryRefusedError,
    check_tree,
    public_message,
    run_analyst_query,
)
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


def escapes(secret: Path, target: Path) -> list[str]:
    """What an attacker with an analyst key tries (issue 14), on this machine's files."""
    return [
        # a second statement after closing a wrapper, the original escape
        f"SELECT * FROM file('{secret}','RawBLOB')); SELECT * FROM (SELECT 1",
        "SELECT 1; DROP TABLE sanjiang.events",
        "SELECT 1; SELECT 2",
        # files: table function, scalar function, INTO OUTFILE, INSERT INTO FUNCTION
        f"SELECT * FROM file('{secret}', 'RawBLOB')",
        f"SELECT file('{secret}')",
        f"SELECT arrayMap(x -> file(x), ['{secret}'])",
        f"SELECT count() FROM numbers(3) INTO OUTFILE '{target}'",
        f"INSERT INTO FUNCTION file('{target}') SELECT * FROM sanjiang.events",
        f"SELECT * FROM (SELECT 1 AS x) WHERE x IN (SELECT length(file('{secret}')))",
        # writes and DDL
        "INSERT INTO sanjiang.events (event_id) VALUES (generateUUIDv7())",
        "ALTER TABLE sanjiang.events DELETE WHERE 1",
        "DROP TABLE sanjiang.events",
        "TRUNCATE TABLE sanjiang.stations",
        "CREATE TABLE sanjiang.mine (a Int8) ENGINE = Memory",
        "CREATE DATABASE stolen",
        "SYSTEM STOP MERGES",
        "SET readonly = 0",
        "KILL QUERY WHERE 1",
        # other servers, URLs, programs, Python objects, dynamic SQL
        "SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'a String')",
        "SELECT * FROM remote('127.0.0.1:1', system.one)",
        "SELECT * FROM s3('http://127.0.0.1:1/b/x.csv')",
        "SELECT * FROM executable('id', 'TSV', 'a String')",
        "SELECT * FROM python(sql)",
        "SELECT * FROM eval('SELECT 1')",
        "SELECT * FROM merge('system', '^disks$')",
        "SELECT aiGenerate('say hi')",
        # settings: a clause of the query cannot lift the limits or readonly
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT count() FROM numbers(10) SETTINGS max_result_rows = 100000000",
        "SELECT * FROM (SELECT 1 SETTINGS max_execution_time = 1000)",
        "SELECT 1 FORMAT TabSeparated",
        # system tables that show the machine
        "SELECT * FROM system.disks",
        "SELECT path FROM system.disks",
        "SELECT 1 IN system.processes",
        "EXPLAIN SELECT 1",
        "SHOW TABLES",
    ]


def test_every_escape_is_refused(loaded: ChdbWarehouse, tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("hush-0123456789")
    target = tmp_path / "written.csv"
    before = count(loaded)
    for statement in escapes(secret, target):
        with pytest.raises(WarehouseError) as refused:
            run_analyst_query(loaded, statement, {}, "json", LIMITS)
        message = str(refused.value)
        assert "hush" not in message, statement
        assert str(tmp_path) not in message, (statement, message)
        assert not target.exists(), statement
    assert count(loaded) == before
    assert loaded.query("EXISTS TABLE sanjiang.stations").scalar() == 1
    assert loaded.query("EXISTS DATABASE stolen").scalar() == 0
    assert loaded.query("SELECT getSetting('readonly')").scalar() == 0  # the pool is untouched


def test_refusals_say_why(loaded: ChdbWarehouse) -> None:
    def reason(statement: str) -> str:
        with pytest.raises(QueryRefusedError) as refused:
            run_analyst_query(loaded, statement, {}, "json", LIMITS)
        return refused.value.reason

    assert reason("SELECT 1; SELECT 2") == "syntax_error"
    assert reason("DROP TABLE sanjiang.events") == "not_a_select"
    assert reason("SELECT * FROM file('x')") == "table_function_not_allowed"
    assert reason("SELECT file('x')") == "function_not_allowed"
    assert reason("SELECT 1 INTO OUTFILE 'x'") == "clause_not_allowed"
    assert reason("SELECT 1 SETTINGS readonly = 0") == "clause_not_allowed"
    assert reason("SELECT * FROM system.disks") == "table_not_allowed"
    assert reason("SELECT * FROM default.t") == "table_not_allowed"
    assert reason("") == "syntax_error"


def test_a_statement_runs_as_the_engine_parsed_it(loaded: ChdbWarehouse) -> None:
    statements = {
        "SELECT 1 AS one;": [[1]],
        "-- a comment\nSELECT 2 /* and another */ AS two": [[2]],
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x UNION ALL SELECT 2 ORDER BY 1": [[1], [2]],
        "SELECT count() FROM events WHERE type = 'checkin.recorded'": [[5 + 1]],
        "SELECT sum(number) FROM numbers(10)": [[45]],
        "SELECT name FROM system.columns WHERE database = 'sanjiang' AND table = 'stations' "
        "AND name = 'station_id'": [["station_id"]],
        "SELECT 'semi;colon' AS s": [["semi;colon"]],
    }
    for statement, rows in statements.items():
        body, _ = run_analyst_query(loaded, statement, {}, "json", LIMITS)
        assert orjson.loads(body)["data"] == rows, statement


def test_parameters_are_literals(loaded: ChdbWarehouse) -> None:
    sql = "SELECT count() AS n FROM sanjiang.events WHERE station_id = {station:String}"
    for injection in ("WS-R03' OR 1=1 --", "WS-R03\n'; DROP TABLE sanjiang.events; --", "a\\b\tc"):
        body, _ = run_analyst_query(loaded, sql, {"station": injection}, "json", LIMITS)
        assert orjson.loads(body)["data"] == [[0]]
    body, _ = run_analyst_query(loaded, sql, {"station": "WS-R04"}, "json", LIMITS)
    assert orjson.loads(body)["data"] == [[1]]
    body, _ = run_analyst_query(loaded, "SELECT {t:String} AS t", {"t": "a\\b\nc"}, "json", LIMITS)
    assert orjson.loads(body)["data"] == [["a\\b\nc"]]


def test_runaway_and_oversized_queries_are_stopped(loaded: ChdbWarehouse) -> None:
    for statement in (
        "SELECT count() FROM numbers(100000000000)",
        "SELECT sleep(1) FROM numbers(1000000)",  # one sleep per block, past the limit
        "SELECT count() FROM (SELECT * FROM numbers(100000000000) "
        "WHERE sleepEachRow(0.0000001) = 0)",
    ):
        with pytest.raises(WarehouseError, match="TIMEOUT_EXCEEDED"):
            run_analyst_query(loaded, statement, {}, "json", LIMITS)
    with pytest.raises(WarehouseError, match="TOO_MANY_ROWS"):
        run_analyst_query(loaded, "SELECT number FROM numbers(5000)", {}, "json", LIMITS)
    # limits of their own, each far from the others, so the machine's speed decides nothing
    memory = Limits(max_rows=10, max_seconds=600, max_memory_bytes=50_000_000)
    with pytest.raises(WarehouseError, match="MEMORY_LIMIT_EXCEEDED"):
        run_analyst_query(
            loaded, "SELECT length(groupArray(number)) FROM numbers(100000000)", {}, "json", memory
        )
    size = Limits(max_rows=1000, max_seconds=600, max_result_bytes=100_000)
    with pytest.raises(WarehouseError, match="TOO_MANY_ROWS_OR_BYTES"):
        run_analyst_query(loaded, "SELECT repeat('x', 100000) FROM numbers(50)", {}, "csv", size)


def test_a_refused_query_leaves_the_next_result_clean(loaded: ChdbWarehouse) -> None:
    with pytest.raises(WarehouseError):
        run_analyst_query(loaded, "SELECT number FROM numbers(5000)", {}, "csv", LIMITS)
    body, _ = run_analyst_query(loaded, "SELECT 42 AS answer", {}, "csv", LIMITS)
    assert body == b'"answer"\n42\n'
    assert count(loaded) > 0


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


def test_the_tree_check_is_pure_and_strict() -> None:
    select = {
        "type": "SelectWithUnionQuery",
        "list_of_selects": {"type": "ExpressionList", "children": []},
    }
    check_tree(select, "sanjiang")
    with pytest.raises(QueryRefusedError):
        check_tree({**select, "out_file": {"type": "Literal"}}, "sanjiang")
    with pytest.raises(QueryRefusedError):
        check_tree(
            {"type": "SelectWithUnionQuery", "x": [{"type": "Function", "name": "FILE"}]}, "s"
        )


REVIEWED = Path(__file__).with_name("reviewed_functions.txt")


def test_every_function_of_the_engine_was_reviewed(warehouse: ChdbWarehouse) -> None:
    """The engine's functions as of the last review (``reviewed_functions.txt``): an upgrade
    that brings new ones fails here until each is judged harmless (added to the file) or
    reaching outside the warehouse (added to ``DENIED_FUNCTIONS`` as well)."""
    engine = {name for (name,) in warehouse.query("SELECT name FROM system.functions").rows}
    lines = REVIEWED.read_text().splitlines()
    reviewed = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert not engine - reviewed, f"review these new functions: {sorted(engine - reviewed)}"
    for name in (
        "file",
        "aiGenerate",
        "showCertificate",
        "getServerSetting",
        "hostName",
        "logTrace",
    ):
        assert name.lower() in DENIED_FUNCTIONS
    assert "file" not in TABLE_FUNCTIONS and "url" not in TABLE_FUNCTIONS


def test_public_messages_hide_paths_and_the_statement() -> None:
    engine = (
        "Code: 107. DB::Exception: Code: 107. DB::Exception: File /work/main/var/secrets/x.key "
        "doesn't exist: In scope SELECT * FROM file('/work/main/var/secrets/x.key'). "
        "(FILE_DOESNT_EXIST) (version 26.9.2.1). (FILE_DOESNT_EXIST)"
    )
    shown = public_message(engine)
    assert "/work" not in shown and "In scope" not in shown and "version" not in shown
    assert shown.endswith("(FILE_DOESNT_EXIST)") and "<path>" in shown
