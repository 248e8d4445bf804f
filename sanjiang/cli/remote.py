"""Commands that need the warehouse while the platform runs go through its API.

With the embedded warehouse (chDB) one process owns the data folder: while ``sanjiang up``
runs, the API does. ``sanjiang kpi``, ``reconcile`` and ``dashboards check`` then ask the API
(``/v1/kpis``, ``/v1/reconcile``, analyst SQL) with the caller's credentials:
``SANJIANG_API_TOKEN`` (a staff token or a device key), or ``SANJIANG_API_USER`` with
``SANJIANG_API_PASSWORD`` (asked for when it is not set and a terminal is there). When nothing
runs, they open the warehouse themselves, as before.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import orjson
import typer

from projections.warehouse import QueryResult, ReadonlySession, WarehouseError
from sanjiang.settings import Settings


class ApiError(RuntimeError):
    """The API refused a request; the message is its ``detail``."""


class PlatformApi:
    """The running platform's API, as one caller."""

    def __init__(self, settings: Settings, base: str) -> None:
        self.settings = settings
        self.base = base
        self._headers: dict[str, str] | None = None

    @classmethod
    def running(cls, settings: Settings) -> PlatformApi | None:
        """The local platform's API if it answers (the embedded profile only: a ClickHouse
        server needs no go-between)."""
        if settings.clickhouse_url is not None:
            return None
        base = f"http://{settings.api_host}:{settings.api_port}"
        try:
            answer = httpx2.get(base + "/healthz", timeout=2)
        except httpx2.HTTPError:
            return None
        return cls(settings, base) if answer.status_code == 200 else None

    def headers(self) -> dict[str, str]:
        """The caller's credential (logging in once if it is a username)."""
        if self._headers is None:
            self._headers = {"Authorization": f"Bearer {self._credential()}"}
        return self._headers

    def _credential(self) -> str:
        settings = self.settings
        if settings.api_token is not None:
            return settings.api_token.get_secret_value()
        user = settings.api_user
        if not user:
            raise ApiError(
                "the platform is running and owns the warehouse: this command asks its API. "
                "Set SANJIANG_API_USER (and SANJIANG_API_PASSWORD), or SANJIANG_API_TOKEN"
            )
        if settings.api_password is not None:
            password = settings.api_password.get_secret_value()
        elif sys.stdin.isatty():
            password = str(typer.prompt(f"password of {user}", hide_input=True))
        else:
            raise ApiError("SANJIANG_API_PASSWORD is not set and there is no terminal to ask")
        answer = httpx2.post(
            self.base + "/v1/auth/token",
            data={"username": user, "password": password},
            timeout=30,
        )
        if answer.status_code != 200:
            raise ApiError(f"login as {user} refused: {_detail(answer)}")
        return str(answer.json()["access_token"])

    def get(self, path: str, params: dict[str, str]) -> Any:
        answer = httpx2.get(self.base + path, params=params, headers=self.headers(), timeout=120)
        if answer.status_code != 200:
            raise ApiError(_detail(answer))
        return answer.json()

    def sql(self, statement: str, params: dict[str, Any] | None = None) -> QueryResult:
        answer = httpx2.post(
            self.base + "/v1/sql",
            json={"sql": statement, "params": params or {}, "format": "json"},
            headers=self.headers(),
            timeout=120,
        )
        if answer.status_code != 200:
            raise WarehouseError(_detail(answer))
        document = orjson.loads(answer.content)
        meta = document.get("meta", [])
        return QueryResult(
            [m["name"] for m in meta], [m["type"] for m in meta], document.get("data", [])
        )


def _detail(answer: httpx2.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    if isinstance(body, dict):
        return f"{body.get('error', answer.status_code)}: {body.get('detail', '')}"
    return f"HTTP {answer.status_code}"


class RemoteWarehouse:
    """Reads through the API's analyst SQL (the caller needs the analyst grant); nothing else."""

    def __init__(self, api: PlatformApi, database: str) -> None:
        self.api = api
        self.database = database

    def query(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> QueryResult:
        return self.api.sql(sql, params)

    def command(self, sql: str) -> None:
        raise WarehouseError("the running platform's warehouse is read-only from here")

    def query_bytes(
        self,
        sql: str,
        fmt: str,
        params: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> bytes:
        raise WarehouseError("only JSON results come through the API")

    def insert_json_rows(
        self, table: str, rows: bytes, settings: dict[str, Any] | None = None
    ) -> None:
        raise WarehouseError("the running platform's warehouse is read-only from here")

    @contextlib.contextmanager
    def readonly_session(self, settings: dict[str, Any]) -> Iterator[ReadonlySession]:
        raise WarehouseError("analyst sessions are the API's own")
        yield  # pragma: no cover

    def close(self) -> None:
        return None
