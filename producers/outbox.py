"""The kiosk's durable outbox: every event is written here before anything else happens.

SQLite in WAL mode with ``synchronous=FULL``: when ``put`` returns, the event survives a
power cut or ``kill -9``. Rows leave the ``pending`` state only after the platform
acknowledged them (``delivered``) or refused them with a reason (``rejected``, kept for
inspection). Delivery order is the order of ``put`` (the ``seq`` column).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sanjiang.events import Event, encode_event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    body         BLOB NOT NULL,
    created_at   REAL NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'delivered', 'rejected')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    settled_at   REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, seq);
"""


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    event_id: str
    body: bytes


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    delivered: int
    rejected: int


class Outbox:
    """A durable FIFO of encoded events for one kiosk (one file, one writer process)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def put(self, event: Event) -> None:
        """Store one event durably (idempotent on ``event_id``)."""
        self.put_many([event])

    def put_many(self, events: Iterable[Event]) -> None:
        """Store events durably in one transaction."""
        now = time.time()
        rows = [(str(e.event_id), encode_event(e), now) for e in events]
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, body, created_at) VALUES (?, ?, ?)", rows
            )

    def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest events not yet settled, in the order they were put."""
        rows = self._db.execute(
            "SELECT seq, event_id, body FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxItem(seq, event_id, bytes(body)) for seq, event_id, body in rows]

    def mark_delivered(self, seqs: Sequence[int]) -> None:
        self._settle(seqs, "delivered", None)

    def mark_rejected(self, seq: int, reason: str) -> None:
        self._settle([seq], "rejected", reason)

    def record_failure(self, seqs: Sequence[int], error: str) -> None:
        """Count a failed delivery attempt; the events stay pending."""
        with self._transaction():
            self._db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                [(error[:500], s) for s in seqs],
            )

    def counts(self) -> OutboxCounts:
        found = dict(
            self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        )
        return OutboxCounts(
            found.get("pending", 0), found.get("delivered", 0), found.get("rejected", 0)
        )

    def rejected(self) -> list[tuple[str, str]]:
        """(event_id, reason) of every event the platform refused."""
        return self._db.execute(
            "SELECT event_id, last_error FROM outbox WHERE state = 'rejected' ORDER BY seq"
        ).fetchall()

    def purge_delivered(self, older_than_s: float) -> int:
        """Forget delivered events settled more than ``older_than_s`` ago; returns how many."""
        cursor = self._db.execute(
            "DELETE FROM outbox WHERE state = 'delivered' AND settled_at < ?",
            (time.time() - older_than_s,),
        )
        return cursor.rowcount

    def _settle(self, seqs: Sequence[int], state: str, error: str | None) -> None:
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "UPDATE outbox SET state = ?, settled_at = ?, last_error = ?,"
                " attempts = attempts + 1 WHERE seq = ? AND state = 'pending'",
                [(state, now, error, s) for s in seqs],
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
