"""Failed logins, counted per account and per client address over a sliding window; past a
bound, logins are refused (429) until the oldest failure leaves the window — a correct password
included, or guessing would go on. Kept in the staff database, so every API process and a
restart see the same counts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottlePolicy:
    window_s: float = 900.0
    per_account: int = 5
    per_address: int = 20


class LoginThrottle:
    def __init__(self, db: sqlite3.Connection, policy: ThrottlePolicy) -> None:
        self._db = db
        self.policy = policy

    def retry_after(self, account: str, address: str, now: float) -> float | None:
        """Seconds until a login may be tried again, or None if it may be tried now."""
        waits = [
            self._wait(f"user:{account}", self.policy.per_account, now),
            self._wait(f"addr:{address}", self.policy.per_address, now),
        ]
        return max((w for w in waits if w is not None), default=None)

    def failed(self, account: str, address: str, now: float) -> None:
        self._db.execute("DELETE FROM login_failures WHERE at < ?", (now - self.policy.window_s,))
        self._db.executemany(
            "INSERT INTO login_failures (key, at) VALUES (?, ?)",
            [(f"user:{account}", now), (f"addr:{address}", now)],
        )

    def succeeded(self, account: str) -> None:
        """A correct password clears the account's failures (not the address's)."""
        self._db.execute("DELETE FROM login_failures WHERE key = ?", (f"user:{account}",))

    def _wait(self, key: str, bound: int, now: float) -> float | None:
        since = now - self.policy.window_s
        rows = self._db.execute(
            "SELECT at FROM login_failures WHERE key = ? AND at >= ? ORDER BY at DESC LIMIT ?",
            (key, since, bound),
        ).fetchall()
        if len(rows) < bound:
            return None
        oldest_counted = float(rows[-1][0])
        return max(1.0, oldest_counted + self.policy.window_s - now)
