"""Macro expansion as grafana-clickhouse-datasource (backend) and Grafana (frontend) do it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboards.macros import MacroError, Selection, TimeRange, expand

RANGE = TimeRange(
    datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, 12, 30, tzinfo=UTC), interval_s=300
)
F, T = int(RANGE.start.timestamp()), int(RANGE.end.timestamp())
STATIONS = ("WS-C", "WS-G1", "WS-R01")
ALL = {"station": Selection.everything(STATIONS)}
ONE = {"station": Selection(("WS-G1",), options=STATIONS)}


def test_backend_time_macros() -> None:
    assert expand("$__timeFilter(e.at)", RANGE, {}) == (
        f"e.at >= toDateTime({F}) AND e.at <= toDateTime({T})"
    )
    assert expand("$__timeFilter_ms(at)", RANGE, {}) == (
        f"at >= fromUnixTimestamp64Milli({F * 1000}) AND at <= fromUnixTimestamp64Milli({T * 1000})"
    )
    assert expand("$__dateFilter(d)", RANGE, {}) == (
        "d >= toDate('2026-11-01') AND d <= toDate('2026-11-02')"
    )
    assert expand("$__fromTime, $__toTime_ms", RANGE, {}) == (
        f"toDateTime({F}), fromUnixTimestamp64Milli({T * 1000})"
    )
    assert expand("$__timeInterval(toStartOfHour(at)) / $__interval_s", RANGE, {}) == (
        "toStartOfInterval(toDateTime(toStartOfHour(at)), INTERVAL 300 second) / 300"
    )


def test_conditional_all_and_variables() -> None:
    sql = "WHERE $__conditionalAll(station_id IN (${station:singlequote}), $station) AND x"
    assert expand(sql, RANGE, ALL) == "WHERE 1=1 AND x"
    assert expand(sql, RANGE, ONE) == "WHERE station_id IN ('WS-G1') AND x"
    several = {"station": Selection(("WS-C", "WS-R01"), options=STATIONS)}
    assert expand(sql, RANGE, several) == "WHERE station_id IN ('WS-C','WS-R01') AND x"
    # outside $__conditionalAll, All expands to every option
    assert expand("IN (${station:singlequote})", RANGE, ALL) == "IN ('WS-C','WS-G1','WS-R01')"


def test_nested_arguments_and_strings_survive() -> None:
    sql = "$__timeFilter(if(a = ')', b, c))"
    assert expand(sql, RANGE, {}).startswith("if(a = ')', b, c) >= toDateTime(")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$__nope(x)", "unknown macro"),
        ("$__timeFilter", "needs a column"),
        ("$__timeFilter(a, b)", "1 argument"),
        ("$__timeFilter(a", "unbalanced"),
        ("IN (${region:singlequote})", "unknown variable"),
    ],
)
def test_mistakes_are_named(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand(sql, RANGE, ALL)
