"""Expand a panel's SQL the way Grafana and grafana-clickhouse-datasource do, so the tests and
`sanjiang dashboards check` run exactly the statement ClickHouse would receive.

Order, as in the plugin: the frontend replaces ``$__conditionalAll(cond, $var)`` (``1=1`` when
the variable is All or empty), then template variables (``${var:singlequote}``, ``${var}``,
``$var``); the backend then expands its macros (``pkg/macros/macros.go``):

- ``$__timeFilter(c)``  -> ``c >= toDateTime(F) AND c <= toDateTime(T)`` (Unix seconds)
- ``$__timeFilter_ms(c)`` -> the same with ``fromUnixTimestamp64Milli(ms)``
- ``$__dateFilter(c)`` -> ``c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')`` (UTC dates)
- ``$__fromTime``/``$__toTime`` -> ``toDateTime(sec)``; ``_ms`` -> ``fromUnixTimestamp64Milli``
- ``$__timeInterval(c)`` -> ``toStartOfInterval(toDateTime(c), INTERVAL N second)``
- ``$__interval_s`` -> ``N``
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


class MacroError(ValueError):
    """A macro with the wrong arguments, or an unknown variable."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    #: The panel interval Grafana would compute (range ÷ max data points), in seconds.
    interval_s: int = 60

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time range bounds must be tz-aware")


@dataclass(frozen=True)
class Selection:
    """A variable's current value: some values, or All (``values`` then lists every option)."""

    values: tuple[str, ...]
    all: bool = False
    options: tuple[str, ...] = field(default=())

    @classmethod
    def everything(cls, options: tuple[str, ...]) -> Selection:
        return cls(options, all=True, options=options)


def expand(sql: str, time_range: TimeRange, variables: dict[str, Selection]) -> str:
    """The statement Grafana would send for this time range and these variable values."""
    text = _conditional_all(sql, variables)
    text = _variables(text, variables)
    return _backend_macros(text, time_range)


def _args(text: str, open_at: int) -> tuple[list[str], int]:
    """Comma-separated arguments of the call whose "(" is at ``open_at``; and the index after
    the closing ")". Nested parentheses and quoted strings are respected."""
    depth, quote, args, current = 0, "", [], []
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "(":
            depth += 1
            if depth > 1:
                current.append(ch)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return args, i + 1
            current.append(ch)
        elif ch == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    raise MacroError(f"unbalanced parentheses after position {open_at}")


def _conditional_all(sql: str, variables: dict[str, Selection]) -> str:
    macro = "$__conditionalAll("
    text = sql
    at = text.rfind(macro)
    while at != -1:
        args, after = _args(text, at + len(macro) - 1)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes 2 arguments, got {len(args)}")
        name = args[1].lstrip("$").strip("{}")
        selection = variables.get(name)
        phrase = "1=1" if selection is None or selection.all or not selection.values else args[0]
        text = text[:at] + phrase + text[after:]
        at = text.rfind(macro)
    return text


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)")


def _variables(sql: str, variables: dict[str, Selection]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2) or ""
        if name not in variables:
            raise MacroError(f"unknown variable ${name}")
        selection = variables[name]
        values = selection.options if selection.all else selection.values
        if fmt == "singlequote":
            return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
        if fmt in ("", "csv", "raw"):
            return ",".join(values)
        raise MacroError(f"unsupported variable format {fmt!r} for ${name}")

    return _VARIABLE.sub(replace, sql)


def _seconds(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _millis(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment.astimezone(UTC).date().isoformat()}')"


def _backend_macros(sql: str, r: TimeRange) -> str:
    interval = max(r.interval_s, 1)
    with_column: dict[str, Callable[[str], str]] = {
        "timeFilter": lambda c: f"{c} >= {_seconds(r.start)} AND {c} <= {_seconds(r.end)}",
        "timeFilter_ms": lambda c: f"{c} >= {_millis(r.start)} AND {c} <= {_millis(r.end)}",
        "dateFilter": lambda c: f"{c} >= {_date(r.start)} AND {c} <= {_date(r.end)}",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval} second)",
        "timeInterval_ms": lambda c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {interval * 1000} millisecond)"
        ),
    }
    bare = {
        "fromTime": _seconds(r.start),
        "toTime": _seconds(r.end),
        "fromTime_ms": _millis(r.start),
        "toTime_ms": _millis(r.end),
        "interval_s": str(interval),
    }
    out: list[str] = []
    i = 0
    pattern = re.compile(r"\$__(\w+)")
    while (match := pattern.search(sql, i)) is not None:
        out.append(sql[i : match.start()])
        name = match.group(1)
        end = match.end()
        if name in with_column:
            if end >= len(sql) or sql[end] != "(":
                raise MacroError(f"$__{name} needs a column argument")
            args, end = _args(sql, end)
            if len(args) != 1:
                raise MacroError(f"$__{name} takes 1 argument, got {len(args)}")
            out.append(with_column[name](args[0]))
        elif name in bare:
            if end < len(sql) and sql[end] == "(":  # `$__fromTime()` is accepted too
                _, end = _args(sql, end)
            out.append(bare[name])
        else:
            raise MacroError(f"unknown macro $__{name}")
        i = end
    out.append(sql[i:])
    return "".join(out)
