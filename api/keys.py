"""API keys of kiosks and staff consoles: one revocable key per device, stored hashed.

A key is ``sjk_`` + 43 random URL-safe characters (256 bits), shown once when created. The
store keeps only its SHA-256 (a slow hash adds nothing for random keys of this length) and
the first characters for recognition. Each key belongs to one device of one station and may
only emit for that station.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from api.transactions import immediate

DeviceKind = Literal["kiosk", "console", "analyst"]
KEY_PREFIX = "sjk_"
#: A device id: what its events' ``source`` can name (``kiosk:<id>``).
DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    device_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('kiosk', 'console', 'analyst')),
    station_id  TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    key_hint    TEXT NOT NULL,
    created_at  REAL NOT NULL,
    revoked_at  REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_key
    ON api_keys (kind, device_id) WHERE revoked_at IS NULL;
"""


class KeyStoreError(ValueError):
    """A key operation that cannot be done (unknown device, active key exists, …)."""


@dataclass(frozen=True)
class Principal:
    """Who a valid key belongs to."""

    device_id: str
    kind: DeviceKind
    station_id: str

    @property
    def source(self) -> str:
        """The ``source`` this principal's events must carry."""
        return f"{self.kind}:{self.device_id}"


@dataclass(frozen=True)
class KeyRecord:
    device_id: str
    kind: DeviceKind
    station_id: str
    key_hint: str
    created_at: float
    revoked_at: float | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """SQLite-backed key store (``<var_dir>/api_keys.db``); safe to share between processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, device_id: str, station_id: str, kind: DeviceKind = "kiosk") -> str:
        """Create a key for a device; returns the key (the only time it is visible)."""
        if not DEVICE_ID.match(device_id):
            raise KeyStoreError(
                "a device id is 1-40 characters: letters, digits, '.', '_' or '-' "
                "(its events name it as their source)"
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        try:
            self._db.execute(
                "INSERT INTO api_keys (device_id, kind, station_id, key_hash, key_hint, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (device_id, kind, station_id, _hash(key), key[:10], time.time()),
            )
        except sqlite3.IntegrityError:
            raise KeyStoreError(
                f"{kind} {device_id} already has an active key; revoke it first"
            ) from None
        return key

    def revoke(self, device_id: str, kind: DeviceKind = "kiosk") -> bool:
        """Revoke the device's active key; False if it had none."""
        cursor = self._db.execute(
            "UPDATE api_keys SET revoked_at = ?"
            " WHERE device_id = ? AND kind = ? AND revoked_at IS NULL",
            (time.time(), device_id, kind),
        )
        return cursor.rowcount > 0

    def active(self, device_id: str, kind: DeviceKind = "kiosk") -> KeyRecord | None:
        """The device's active key, if it has one."""
        row = self._db.execute(
            "SELECT device_id, kind, station_id, key_hint, created_at, revoked_at FROM api_keys"
            " WHERE device_id = ? AND kind = ? AND revoked_at IS NULL",
            (device_id, kind),
        ).fetchone()
        return None if row is None else KeyRecord(*row)

    def transaction(self) -> AbstractContextManager[None]:
        """Changes made inside take effect together when it ends, or not at all if it raises."""
        return immediate(self._db)

    def records(self) -> list[KeyRecord]:
        rows = self._db.execute(
            "SELECT device_id, kind, station_id, key_hint, created_at, revoked_at FROM api_keys"
            " ORDER BY station_id, device_id, created_at"
        ).fetchall()
        return [KeyRecord(*row) for row in rows]

    def authenticate(self, key: str) -> Principal | Literal["revoked"] | None:
        """The principal of a valid key; ``"revoked"`` for a revoked key; None if unknown."""
        digest = _hash(key)
        row = self._db.execute(
            "SELECT device_id, kind, station_id, revoked_at, key_hash FROM api_keys "
            "WHERE key_hash = ?",
            (digest,),
        ).fetchone()
        # Looked up by its SHA-256, whose timing can tell nothing of the key; the match is
        # confirmed in constant time all the same.
        if row is None or not hmac.compare_digest(row[4], digest):
            return None
        if row[3] is not None:
            return "revoked"
        return Principal(row[0], row[1], row[2])
