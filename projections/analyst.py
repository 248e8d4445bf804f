"""Analyst SQL: one SELECT, decided by ClickHouse's own parser, run in a read-only session.

Nothing here scans the SQL text. The statement goes through three gates, each the engine's:

1. **Parse.** ``parseQueryToJSON`` (ClickHouse's parser, the text a bound parameter) gives the
   statement's syntax tree, or refuses: a second statement, a syntax error, an empty text.
2. **Check the tree** (:func:`check_tree`, pure): a ``SELECT`` (with ``UNION``/``INTERSECT``/
   ``EXCEPT``, ``WITH``, subqueries); no ``INTO OUTFILE``, ``FORMAT`` or ``SETTINGS`` clause;
   table functions only from :data:`TABLE_FUNCTIONS` (generators: ``numbers``, ``values``, …;
   never ``file``, ``url``, ``s3``, ``remote``, ``executable``, ``python``, ``eval``, …);
   none of the functions in :data:`DENIED_FUNCTIONS` (``file`` reads any file of the machine,
   ``ai*`` call out over HTTP, …); tables of the warehouse database, or the few harmless
   ``system`` tables of :data:`SYSTEM_TABLES`.
3. **Run read-only.** The checked tree is turned back into SQL by the engine
   (``formatQueryFromJSON``) — what runs is exactly what was checked — and run in a session
   whose limits and ``readonly = 1`` were set before the analyst's text was seen: writes, DDL,
   settings changes and most table functions are refused by the engine whatever the text, and
   the time, row, result-size and memory limits hold for everything the statement runs.

On a ClickHouse server the session is a read-only user's (``SANJIANG_CLICKHOUSE_ANALYST_URL``,
``infra/clickhouse/users.d/sanjiang.xml``), whose profile holds the limits as constraints; the
same gates 1 and 2 run on that server. Values reach the query only as bound ``{name:Type}``
parameters. Refusals carry the engine's reason without file-system paths or the statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from projections.warehouse import ReadonlySession, Warehouse, WarehouseError

OutputFormat = Literal["json", "csv", "arrow"]
FORMATS: dict[str, tuple[str, str]] = {
    "json": ("JSONCompact", "application/json"),
    "csv": ("CSVWithNames", "text/csv; charset=utf-8"),
    "arrow": ("ArrowStream", "application/vnd.apache.arrow.stream"),
}

#: Table functions that only generate rows (no file, network, process or other database).
TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generate_series",
        "generateseries",
        "generaterandom",
        "primes",
        "values",
        "null",
        "view",
    }
)
#: Functions that reach outside the engine (files, HTTP, the server's config and host, Keeper,
#: dictionaries and models loaded from files, the server log), compared in lower case. A test
#: (tests/warehouse/test_analyst.py) fails when the engine gains a function of that kind that
#: is not listed here, so an upgrade is reviewed.
DENIED_FUNCTIONS = frozenset(
    name.lower()
    for name in (
        "file",
        "aiClassify",
        "aiEmbed",
        "aiExtract",
        "aiFilter",
        "aiGenerate",
        "aiRedact",
        "aiSimilarity",
        "aiTranslate",
        "showCertificate",
        "getServerSetting",
        "getMergeTreeSetting",
        "getMacro",
        "getClientHTTPHeader",
        "currentRequestURL",
        "filesystemAvailable",
        "filesystemCapacity",
        "filesystemUnreserved",
        "hostName",
        "FQDN",
        "fullHostName",
        "generateSerialID",
        "logTrace",
        "joinGet",
        "joinGetOrNull",
        "naiveBayesClassifier",
        "naiveBayesClassifierWithAllProbs",
        "naiveBayesClassifierWithProb",
        "regionToPopulation",
        "addressToLine",
        "addressToLineWithInlines",
        "addressToSymbol",
        "demangle",
        "zookeeperSessionUptime",
        "getServerPort",
        "tcpPort",
        "buildId",
        "serverUUID",
        "eval",
    )
) | frozenset(f"dictget{suffix}" for suffix in ("", "all", "orDefault", "ornull"))
#: ``system`` tables an analyst may read: generators and the catalog of columns and functions.
SYSTEM_TABLES = frozenset(
    {
        "one",
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "columns",
        "functions",
        "data_type_families",
        "time_zones",
    }
)
_IN_FUNCTIONS = frozenset(
    {
        "in",
        "notin",
        "globalin",
        "globalnotin",
        "nullin",
        "notnullin",
        "globalnullin",
        "globalnotnullin",
    }
)
#: Clauses of the top-level statement that the platform, not the analyst, decides.
_FIXED_CLAUSES = {
    "out_file": "INTO OUTFILE",
    "format_ast": "FORMAT (choose the output with the request's `format`)",
    "settings_ast": "SETTINGS (an analyst query runs with fixed limits)",
    "compression": "COMPRESSION",
}


@dataclass(frozen=True)
class Limits:
    max_rows: int = 100_000
    max_seconds: float = 10.0
    max_memory_bytes: int = 1_000_000_000
    max_result_bytes: int = 64 * 1024 * 1024


class QueryRefusedError(WarehouseError):
    """A statement the analyst gates refused; ``reason`` is a machine code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def analyst_settings(limits: Limits) -> dict[str, Any]:
    """The engine-enforced guard rails of an analyst session (set before ``readonly = 1``)."""
    return {
        "max_execution_time": limits.max_seconds,
        "timeout_overflow_mode": "throw",
        "max_result_rows": limits.max_rows,
        "max_result_bytes": limits.max_result_bytes,
        "result_overflow_mode": "throw",
        "max_memory_usage": limits.max_memory_bytes,
        "max_query_size": 262_144,
        "output_format_json_quote_64bit_integers": 0,
    }


def _nodes(tree: Any, parent_key: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node of a parsed tree with the key it hangs under in its parent."""
    if isinstance(tree, dict):
        yield parent_key, tree
        for key, value in tree.items():
            yield from _nodes(value, key)
    elif isinstance(tree, list):
        for item in tree:
            yield from _nodes(item, parent_key)


def check_tree(tree: dict[str, Any], database: str) -> None:
    """Refuse (``QueryRefusedError``) a parsed statement that is not a plain SELECT over the
    warehouse, as the module docstring lists. ``tree`` is ``parseQueryToJSON``'s output."""
    kind = tree.get("type")
    if kind != "SelectWithUnionQuery":
        raise QueryRefusedError(
            "not_a_select", f"only a SELECT statement may run here, not a {kind or 'statement'}"
        )
    for key, what in _FIXED_CLAUSES.items():
        if tree.get(key) is not None:
            raise QueryRefusedError("clause_not_allowed", f"{what} is not allowed here")
    for parent_key, node in _nodes(tree):
        node_type = node.get("type")
        if node_type == "Function":
            _check_function(node, is_table=parent_key == "table_function")
        elif node_type == "TableIdentifier":
            _check_table(node, database)
        elif node_type == "SetQuery":
            raise QueryRefusedError(
                "clause_not_allowed", _FIXED_CLAUSES["settings_ast"] + " is not allowed here"
            )
        elif node_type in ("ExplainQuery", "InsertQuery"):
            raise QueryRefusedError("not_a_select", f"{node_type} is not allowed inside a SELECT")


def _check_function(node: dict[str, Any], is_table: bool) -> None:
    name = str(node.get("name", ""))
    lowered = name.lower()
    if is_table and lowered not in TABLE_FUNCTIONS:
        raise QueryRefusedError(
            "table_function_not_allowed",
            f"table function {name} is not allowed (allowed: {', '.join(sorted(TABLE_FUNCTIONS))})",
        )
    if lowered in DENIED_FUNCTIONS:
        raise QueryRefusedError(
            "function_not_allowed", f"function {name} reaches outside the warehouse; not allowed"
        )
    if lowered in _IN_FUNCTIONS:  # `x IN db.table` reads a table through an identifier
        arguments = (node.get("arguments") or {}).get("children") or []
        for argument in arguments[1:]:
            if argument.get("type") == "Identifier" and len(argument.get("name_parts", [])) == 2:
                _check_table(argument, None)


def _check_table(node: dict[str, Any], database: str | None) -> None:
    parts = [str(p) for p in node.get("name_parts") or [node.get("name", "")]]
    if len(parts) == 1:
        return  # the session's current database: the warehouse's
    if len(parts) != 2:
        raise QueryRefusedError("table_not_allowed", "table names are `table` or `database.table`")
    db, table = parts
    if db == "system":
        if table not in SYSTEM_TABLES:
            raise QueryRefusedError(
                "table_not_allowed",
                f"system.{table} is not readable here (system tables: "
                f"{', '.join(sorted(SYSTEM_TABLES))})",
            )
        return
    if database is not None and db != database:
        raise QueryRefusedError(
            "table_not_allowed", f"only tables of the `{database}` database are readable here"
        )
    if database is None and db.lower() in ("information_schema", "default"):
        raise QueryRefusedError(
            "table_not_allowed", "only tables of the warehouse database are readable here"
        )


_PATH = re.compile(r"(?<![\w.])(?:/[\w.@%+=:,~-]+){2,}/?")
_CODE_NAME = re.compile(r"\s*\(([A-Z][A-Z0-9_]+)\)")
_NOISE = re.compile(r"(?:[:.]\s*)?\b(?:In scope|While executing|while executing)\b.*", re.S)


def public_message(engine_message: str) -> str:
    """The engine's reason for a refusal, fit to show a caller: the innermost message and its
    code name, without the statement it echoes, file-system paths or the server's version."""
    innermost = engine_message.rsplit("DB::Exception:", 1)[-1]
    names = _CODE_NAME.findall(engine_message)
    cut = _CODE_NAME.search(innermost)
    message = innermost[: cut.start()] if cut else innermost
    message = re.sub(r"\s*\(version [^)]*\)", "", message)
    message = _PATH.sub("<path>", _NOISE.sub("", message)).strip().rstrip(".:").strip()
    shown = f"{message} ({names[-1]})" if names else message
    return shown[:500]


def parse_statement(session: ReadonlySession, sql: str) -> dict[str, Any]:
    """The statement's syntax tree from the engine's parser (one statement, or refused)."""
    try:
        result = session.query("SELECT parseQueryToJSON({sql:String}) AS tree", {"sql": sql})
    except WarehouseError as exc:
        message = public_message(str(exc))
        if "UNKNOWN_FUNCTION" in message and "parseQueryToJSON" in message:
            raise QueryRefusedError(
                "engine_too_old",
                "this ClickHouse cannot check analyst SQL (it needs parseQueryToJSON, "
                "ClickHouse 26.x); analyst SQL is disabled",
            ) from None
        reason = "syntax_error" if "SYNTAX_ERROR" in message else "not_checkable"
        raise QueryRefusedError(reason, message) from None
    tree = orjson.loads(result.scalar())
    if not isinstance(tree, dict):
        raise QueryRefusedError("not_checkable", "the parser gave no syntax tree")
    return tree


def run_analyst_query(
    warehouse: Warehouse,
    sql: str,
    params: dict[str, Any],
    fmt: OutputFormat,
    limits: Limits,
) -> tuple[bytes, str]:
    """Run one analyst statement; returns (body, content type). Raises ``QueryRefusedError`` when a
    gate refuses it and ``WarehouseError`` (message fit to show) when the engine does."""
    clickhouse_format, content_type = FORMATS[fmt]
    try:
        with warehouse.readonly_session(analyst_settings(limits)) as session:
            tree = parse_statement(session, sql)
            check_tree(tree, warehouse.database)
            checked = session.query(
                "SELECT formatQueryFromJSON({tree:String})", {"tree": orjson.dumps(tree).decode()}
            ).scalar()
            body = session.query_bytes(str(checked), clickhouse_format, params)
    except QueryRefusedError:
        raise
    except WarehouseError as exc:
        raise WarehouseError(public_message(str(exc))) from None
    return body, content_type
