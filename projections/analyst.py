"""Analyst SQL: any SELECT, run read-only by the engine itself, within limits.

The statement runs as a subquery, ``SELECT * FROM (<statement>)``, so the engine's parser
accepts exactly one query (a second statement after ``;`` is a syntax error — chDB would
otherwise run several, and leave the session's output garbled). It is sent with
``SETTINGS readonly = 1`` plus limits, so ClickHouse refuses every write, DDL and settings
change (readonly = 1 also stops a query from lifting the limits in a SETTINGS clause of its
own), and stops what runs too long, returns too many rows or uses too much memory. Nothing
here inspects the SQL text for safety. Values reach the query only as bound ``{name:Type}``
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from projections.warehouse import Warehouse

OutputFormat = Literal["json", "csv", "arrow"]
FORMATS: dict[str, tuple[str, str]] = {
    "json": ("JSONCompact", "application/json"),
    "csv": ("CSVWithNames", "text/csv; charset=utf-8"),
    "arrow": ("ArrowStream", "application/vnd.apache.arrow.stream"),
}


@dataclass(frozen=True)
class Limits:
    max_rows: int = 100_000
    max_seconds: float = 10.0
    max_memory_bytes: int = 1_000_000_000


def analyst_settings(limits: Limits) -> dict[str, Any]:
    """The engine-enforced guard rails of an analyst query."""
    return {
        "readonly": 1,
        "max_execution_time": limits.max_seconds,
        "max_result_rows": limits.max_rows,
        "result_overflow_mode": "throw",
        "max_memory_usage": limits.max_memory_bytes,
    }


def run_analyst_query(
    warehouse: Warehouse,
    sql: str,
    params: dict[str, Any],
    fmt: OutputFormat,
    limits: Limits,
) -> tuple[bytes, str]:
    """Run one analyst statement; returns (body, content type). Raises WarehouseError."""
    clickhouse_format, content_type = FORMATS[fmt]
    statement = f"SELECT * FROM (\n{sql.strip().rstrip(';')}\n)"
    body = warehouse.query_bytes(statement, clickhouse_format, params, analyst_settings(limits))
    return body, content_type
