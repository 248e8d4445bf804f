"""Credentials for tests: real staff accounts and tokens signed with the deployment's key,
exactly as ``POST /v1/auth/token`` issues them (without its argon2 round trip per request)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx

from api.access.roles import Role
from api.access.tokens import TokenIssuer
from api.access.users import UserStore, connect
from api.keys import DeviceKind, KeyStore
from api.services import auth_key, key_store_path, staff_db_path
from sanjiang.settings import Settings

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def add_user(
    settings: Settings,
    role: Role,
    stations: Iterable[str] | None = None,
    username: str | None = None,
    password: str = PASSWORD,
) -> str:
    """Create a staff account; returns its username."""
    name = username or f"{role}{next(_numbers)}"
    store = UserStore(connect(staff_db_path(settings)))
    try:
        store.add(name, role, password, stations)
    finally:
        store.close()
    return name


def staff_token(
    settings: Settings,
    role: Role = "viewer",
    stations: Iterable[str] | None = None,
    ttl_s: float = 3600,
) -> str:
    """A new account of this role and a bearer token for it."""
    name = add_user(settings, role, stations)
    store = UserStore(connect(staff_db_path(settings)))
    try:
        user = store.get(name)
    finally:
        store.close()
    assert user is not None
    token, _ = TokenIssuer(auth_key(settings)).issue(name, user.token_version, "access", ttl_s)
    return token


def device_key(settings: Settings, device_id: str, station: str, kind: DeviceKind) -> str:
    store = KeyStore(key_store_path(settings))
    try:
        return store.add(device_id, station, kind)
    finally:
        store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SH = ZoneInfo("Asia/Shanghai")


def wait_for_audit_rows(
    url: str,
    token: str,
    params: dict[str, str],
    found: Callable[[list[dict[str, Any]]], bool],
) -> list[dict[str, Any]]:
    """``GET /v1/audit`` until ``found`` holds for its rows (the sink writes every 0.2 s)."""
    today = datetime.now(SH).date()
    days = {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(
            f"{url}/v1/audit", params={**days, **params}, headers=bearer(token), timeout=30
        )
        assert answer.status_code == 200, answer.text
        rows: list[dict[str, Any]] = answer.json()
        if found(rows):
            return rows
        assert time.monotonic() < deadline, f"never in the audit trail: {rows}"
        time.sleep(0.2)
