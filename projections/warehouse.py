"""One port to ClickHouse with two backends: embedded chDB (default) and a server.

Both run the same SQL; results come back through ``JSONCompact`` on both, so callers see the
same types. ``{name:Type}`` placeholders are bound server-side (never by string formatting).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import orjson

from sanjiang.settings import Settings

#: Settings every query runs with: plain numbers in JSON output.
OUTPUT_SETTINGS = {"output_format_json_quote_64bit_integers": 0}


class WarehouseError(RuntimeError):
    """A statement the warehouse refused, with its message (cut to a readable length)."""

    def __init__(self, message: str) -> None:
        super().__init__(message if len(message) <= 600 else message[:600] + " …")


def ch_datetime(value: datetime) -> str:
    """A tz-aware time as ClickHouse DateTime64(3, 'UTC') text (params and JSON rows):
    ``2026-11-02 00:15:00.123``, milliseconds truncated. (``isoformat`` rather than
    ``strftime``: the same text for years 1000..9999, in half the time — every row has two.)"""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "milliseconds")


def ch_datetime_us(value: datetime) -> str:
    """A tz-aware time as ClickHouse DateTime64(6, 'UTC') text, to the microsecond (the
    ``occurred_at_us`` column: "latest" and "first" order by it, as the live fold does)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


#: ClickHouse's escaped text format (how chDB reads a bound parameter's value)
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"})


def _param_text(value: Any) -> str:
    """A parameter value in ClickHouse's escaped text format (how chDB takes bound parameters):
    a string's backslashes, tabs and line breaks escaped, so the value is read whole."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_quoted(v) for v in value) + "]"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).translate(_ESCAPES)


def _quoted(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


def _parse(raw: bytes) -> QueryResult:
    if not raw.strip():
        return QueryResult([], [], [])
    doc = orjson.loads(raw)
    meta = doc.get("meta", [])
    return QueryResult([m["name"] for m in meta], [m["type"] for m in meta], doc.get("data", []))


def _settings_clause(settings: dict[str, Any] | None) -> str:
    if not settings:
        return ""
    parts = []
    for key, value in settings.items():
        if not key.replace("_", "").isalnum():
            raise ValueError(f"bad setting name {key!r}")
        parts.append(f"{key} = {_quoted(int(value) if isinstance(value, bool) else value)}")
    return " SETTINGS " + ", ".join(parts)


class ReadonlySession(Protocol):
    """A session whose settings were fixed, ``readonly = 1`` last, before any caller's text."""

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult: ...

    def query_bytes(self, sql: str, fmt: str, params: dict[str, Any] | None = None) -> bytes: ...


def _settings_statement(settings: dict[str, Any]) -> str:
    return "SET " + _settings_clause(settings).removeprefix(" SETTINGS ")


def _require_readonly(session: ReadonlySession) -> None:
    """Fail closed: a session that could write is never handed out."""
    if int(session.query("SELECT getSetting('readonly')").scalar() or 0) < 1:
        raise WarehouseError("the read-only session is not read-only; refusing to use it")


class Warehouse(Protocol):
    """What the rest of the code needs from ClickHouse."""

    database: str

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL)."""

    def query(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> QueryResult:
        """Run a SELECT; ``params`` bind ``{name:Type}`` placeholders server-side."""

    def query_bytes(
        self,
        sql: str,
        fmt: str,
        params: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> bytes:
        """Run a SELECT and return the raw output in a ClickHouse format (CSV, Arrow, …)."""

    def insert_json_rows(
        self, table: str, rows: bytes, settings: dict[str, Any] | None = None
    ) -> None:
        """Insert newline-separated JSON objects (JSONEachRow) into ``table``."""

    def readonly_session(
        self, settings: dict[str, Any]
    ) -> contextlib.AbstractContextManager[ReadonlySession]:
        """A session of its own for untrusted SQL: ``settings`` (limits) applied, then
        ``readonly = 1``, then the warehouse database as the current one."""

    def close(self) -> None: ...


class WarehouseProxy:
    """Passes every call to another warehouse; subclasses change only what they override
    (another database, injected failures, timings)."""

    def __init__(self, inner: Warehouse, database: str | None = None) -> None:
        self.inner = inner
        self.database = database or inner.database

    def command(self, sql: str) -> None:
        self.inner.command(sql)

    def query(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> QueryResult:
        return self.inner.query(sql, params, settings)

    def query_bytes(
        self,
        sql: str,
        fmt: str,
        params: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> bytes:
        return self.inner.query_bytes(sql, fmt, params, settings)

    def insert_json_rows(
        self, table: str, rows: bytes, settings: dict[str, Any] | None = None
    ) -> None:
        self.inner.insert_json_rows(table, rows, settings)

    def readonly_session(
        self, settings: dict[str, Any]
    ) -> contextlib.AbstractContextManager[ReadonlySession]:
        return self.inner.readonly_session(settings)

    def close(self) -> None:
        self.inner.close()


#: Connections a chDB warehouse runs statements on at once. Statements of one connection run
#: one at a time; several connections to the same embedded server run side by side (the four
#: KPI statements of ``projections.kpi`` do, on the cores a single statement leaves idle).
CHDB_SESSIONS = 4


class ChdbWarehouse:
    """Embedded ClickHouse (chDB) with its data in a folder; one owning process per folder.

    Statements from several threads run concurrently, each on a connection of its own (up to
    ``sessions``; a thread waits for a free one beyond that), all to one embedded server."""

    def __init__(
        self, path: Path, database: str = "sanjiang", sessions: int = CHDB_SESSIONS
    ) -> None:
        if sessions < 1:
            raise ValueError("a warehouse needs at least one session")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.database = database
        self._sessions = sessions
        self._slots = threading.BoundedSemaphore(sessions)  # one statement per connection
        self._idle_lock = threading.Lock()
        self._idle: list[Any] = []  # open connections not running a statement
        try:
            # The keeper holds the embedded server open; a working connection is dropped after
            # any failed statement, because chDB leaves a failed query's partial output (its
            # header) in the connection, to be prepended to the next result.
            self._keeper = self._connect()
            self._idle.append(self._connect())
        except Exception as exc:
            raise WarehouseError(
                f"cannot open the embedded warehouse at {path} ({exc}); another process may own "
                "it (chDB allows one, and one data folder per process): the API hosts it in "
                "`sanjiang up`"
            ) from exc
        self.command(f"CREATE DATABASE IF NOT EXISTS {database}")

    def _connect(self) -> Any:
        from chdb.session import Session

        return Session(str(self.path))  # type: ignore[no-untyped-call]

    def _run(self, sql: str, fmt: str, params: dict[str, Any] | None) -> bytes:
        bound = {k: _param_text(v) for k, v in (params or {}).items()}
        with self._slots:
            with self._idle_lock:
                session = self._idle.pop() if self._idle else None
            try:
                if session is None:  # opened on demand, kept for the next statements
                    session = self._connect()
                result = session.query(sql, fmt, params=bound)
            except Exception as exc:
                if session is not None:
                    with contextlib.suppress(Exception):
                        session.close()
                raise WarehouseError(str(exc)) from exc
            with self._idle_lock:
                self._idle.append(session)
        if result is None:
            return b""
        return bytes(result.bytes())

    def command(self, sql: str) -> None:
        self._run(sql, "CSV", None)

    def query(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> QueryResult:
        merged = {**OUTPUT_SETTINGS, **(settings or {})}
        return _parse(self._run(sql + _settings_clause(merged), "JSONCompact", params))

    def query_bytes(
        self,
        sql: str,
        fmt: str,
        params: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> bytes:
        return self._run(sql + _settings_clause(settings), fmt, params)

    def insert_json_rows(
        self, table: str, rows: bytes, settings: dict[str, Any] | None = None
    ) -> None:
        statement = f"INSERT INTO {table}{_settings_clause(settings)} FORMAT JSONEachRow\n"
        self._run(statement + rows.decode(), "CSV", None)

    @contextlib.contextmanager
    def readonly_session(self, settings: dict[str, Any]) -> Iterator[ReadonlySession]:
        """A fresh connection (about 0.1 ms) to the embedded server, limited and read-only
        before it is handed out, closed after: nothing of it outlives one caller."""
        with self._slots:
            session = self._connect()
            try:
                readonly = _ChdbReadonly(session)
                if settings:
                    readonly.raw(_settings_statement(settings))
                readonly.raw(f"USE {self.database}")
                readonly.raw("SET readonly = 1")
                _require_readonly(readonly)
                yield readonly
            finally:
                session.close()

    def close(self) -> None:
        """Wait for running statements, then close every connection."""
        for _ in range(self._sessions):
            self._slots.acquire()
        with self._idle_lock:
            for session in self._idle:
                session.close()
            self._idle.clear()
        self._keeper.close()


class _ChdbReadonly:
    """One chDB connection used by one caller (never returned to the pool)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def raw(self, sql: str, fmt: str = "CSV", params: dict[str, Any] | None = None) -> bytes:
        bound = {k: _param_text(v) for k, v in (params or {}).items()}
        try:
            result = self._session.query(sql, fmt, params=bound)
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc
        return b"" if result is None else bytes(result.bytes())

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        return _parse(self.raw(sql, "JSONCompact", params))

    def query_bytes(self, sql: str, fmt: str, params: dict[str, Any] | None = None) -> bytes:
        return self.raw(sql, fmt, params)


class ServerWarehouse:
    """A ClickHouse server over HTTP (clickhouse-connect): a client per thread, no session."""

    def __init__(
        self, url: str, database: str = "sanjiang", readonly_url: str | None = None
    ) -> None:
        self._options = _client_options(url)
        self._readonly_options = _client_options(readonly_url) if readonly_url else None
        self.database = database
        self._local = threading.local()
        self.command(f"CREATE DATABASE IF NOT EXISTS {database}")

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            import clickhouse_connect

            client = self._local.client = clickhouse_connect.get_client(**self._options)
        return client

    def command(self, sql: str) -> None:
        try:
            self._client().command(sql)
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc

    def query(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> QueryResult:
        return _parse(
            self.query_bytes(sql, "JSONCompact", params, {**OUTPUT_SETTINGS, **(settings or {})})
        )

    def query_bytes(
        self,
        sql: str,
        fmt: str,
        params: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> bytes:
        try:
            return bytes(
                self._client().raw_query(sql, parameters=params, settings=settings, fmt=fmt)
            )
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc

    def insert_json_rows(
        self, table: str, rows: bytes, settings: dict[str, Any] | None = None
    ) -> None:
        try:
            self._client().raw_insert(
                table, insert_block=rows, settings=settings, fmt="JSONEachRow"
            )
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc

    @contextlib.contextmanager
    def readonly_session(self, settings: dict[str, Any]) -> Iterator[ReadonlySession]:
        """A client of the read-only user (``SANJIANG_CLICKHOUSE_ANALYST_URL``), whose profile
        holds the limits (``settings`` are not sent: a read-only user cannot change them)."""
        if self._readonly_options is None:
            raise WarehouseError(
                "SQL from callers on a ClickHouse server needs SANJIANG_CLICKHOUSE_ANALYST_URL: "
                "a read-only user whose profile holds the limits (see infra/clickhouse)"
            )
        import clickhouse_connect

        try:
            client = clickhouse_connect.get_client(**self._readonly_options, database=self.database)
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc
        try:
            session = _ServerReadonly(client)
            _require_readonly(session)
            yield session
        finally:
            client.close()

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()


class _ServerReadonly:
    """A read-only user's client, used by one caller."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def query(self, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
        return _parse(self.query_bytes(sql, "JSONCompact", params))

    def query_bytes(self, sql: str, fmt: str, params: dict[str, Any] | None = None) -> bytes:
        try:
            return bytes(self._client.raw_query(sql, parameters=params, fmt=fmt))
        except Exception as exc:
            raise WarehouseError(str(exc)) from exc


def _client_options(url: str) -> dict[str, Any]:
    """clickhouse-connect's options for a server URL (``http(s)://user:password@host:port``)."""
    parsed = urlparse(url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or (8443 if parsed.scheme == "https" else 8123),
        "username": parsed.username or "default",
        "password": parsed.password or "",
        "secure": parsed.scheme == "https",
        "autogenerate_session_id": False,  # sessions serialise queries (clickhouse-connect#295)
    }


def open_warehouse(settings: Settings) -> Warehouse:
    """The configured warehouse: a server if SANJIANG_CLICKHOUSE_URL is set, else chDB."""
    if settings.clickhouse_url:
        analyst = settings.clickhouse_analyst_url
        return ServerWarehouse(
            settings.clickhouse_url,
            settings.clickhouse_database,
            analyst.get_secret_value() if analyst else None,
        )
    return ChdbWarehouse(settings.warehouse_dir, settings.clickhouse_database)
