"""Staff accounts: username, role, stations, an argon2 password hash (pwdlib), stored in SQLite
(``<var_dir>/secrets/staff.db``), shared by the API's processes and ``sanjiang user``.

Each account has a token version: changing the password or disabling the account raises it,
which invalidates every token and session issued before.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson
from pwdlib import PasswordHash

from api.access.roles import NETWORK_ROLES, ROLES, Role
from api.transactions import immediate
from sanjiang.events.payloads import LoginRefusal

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username       TEXT PRIMARY KEY,
    role           TEXT NOT NULL,
    stations       TEXT,
    password_hash  TEXT NOT NULL,
    token_version  INTEGER NOT NULL DEFAULT 1,
    created_at     REAL NOT NULL,
    changed_at     REAL NOT NULL,
    disabled_at    REAL
);
CREATE TABLE IF NOT EXISTS login_failures (
    key  TEXT NOT NULL,
    at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_by_key ON login_failures (key, at);
"""


class UserError(ValueError):
    """A user operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    stations: tuple[str, ...] | None  #: None: the whole network
    token_version: int
    created_at: float
    disabled_at: float | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class LoginCheck:
    """What checking a login found: the account the name is (if any) and, when the login is
    refused, why (for the audit; the caller is told no more than "wrong or disabled")."""

    account: User | None
    refusal: LoginRefusal | None

    @property
    def user(self) -> User | None:
        """The user to let in, or None."""
        return self.account if self.refusal is None else None


def check_password(username: str, password: str) -> None:
    """Refuse a password too short, too long, or equal to the username."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"a password has at most {MAX_PASSWORD} characters")
    if password.strip().lower() == username.lower():
        raise UserError("the password must not be the username")


def connect(path: Path) -> sqlite3.Connection:
    """The staff database (created on first use, private to the deployment's user)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(_SCHEMA)
    path.chmod(0o600)
    return db


class UserStore:
    """Staff accounts and their passwords."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._hasher = PasswordHash.recommended()
        # verified against when the username is unknown, so both answers take as long
        self._decoy = self._hasher.hash("decoy password, never a real one")

    def add(
        self, username: str, role: str, password: str, stations: Iterable[str] | None = None
    ) -> User:
        """Create an account; ``stations`` None = the whole network (forced for analyst and
        admin; operators and managers need stations)."""
        if not USERNAME.match(username):
            raise UserError(
                "a username is 2-40 characters: lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter"
            )
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        the_role = role
        scope = None if the_role in NETWORK_ROLES or stations is None else sorted(set(stations))
        if the_role in ("operator", "manager") and not scope:
            raise UserError(f"an {role} works at stations: give at least one --station")
        check_password(username, password)
        now = time.time()
        try:
            self._db.execute(
                "INSERT INTO users (username, role, stations, password_hash, created_at, "
                "changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    username,
                    role,
                    None if scope is None else orjson.dumps(scope).decode(),
                    self._hasher.hash(password),
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            raise UserError(f"user {username} exists") from None
        user = self.get(username)
        assert user is not None
        return user

    def close(self) -> None:
        self._db.close()

    def get(self, username: str) -> User | None:
        row = self._db.execute(
            "SELECT username, role, stations, token_version, created_at, disabled_at "
            "FROM users WHERE username = ?",
            (username,),
        ).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[User]:
        rows = self._db.execute(
            "SELECT username, role, stations, token_version, created_at, disabled_at "
            "FROM users ORDER BY username"
        ).fetchall()
        return [_user(row) for row in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM users").fetchone()[0])

    def set_password(self, username: str, password: str) -> None:
        """Change a password; every earlier token and session of the user stops working."""
        check_password(username, password)
        self._update(
            username,
            "password_hash = ?, token_version = token_version + 1, changed_at = ?",
            (self._hasher.hash(password), time.time()),
        )

    def disable(self, username: str) -> None:
        """Disable an account: no login, and its tokens and sessions stop working at once."""
        self._update(
            username,
            "disabled_at = coalesce(disabled_at, ?), token_version = token_version + 1",
            (time.time(),),
        )

    def enable(self, username: str) -> None:
        self._update(username, "disabled_at = NULL", ())

    def verify(self, username: str, password: str) -> User | None:
        """The user whose password this is, or None (unknown user, wrong password or disabled
        account all take the same time: an argon2 verification)."""
        return self.check(username, password).user

    def check(self, username: str, password: str) -> LoginCheck:
        """``verify``, saying why a login is refused: ``unknown_user``, ``wrong_password``, or
        ``disabled`` (the right password of a disabled account)."""
        row = self._db.execute(
            "SELECT password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
        if row is None or len(password) > MAX_PASSWORD:
            self._hasher.verify(password[:MAX_PASSWORD], self._decoy)
            return LoginCheck(
                self.get(username), "unknown_user" if row is None else "wrong_password"
            )
        valid, rehashed = self._hasher.verify_and_update(password, row[0])
        user = self.get(username)
        if not valid or user is None:
            return LoginCheck(user, "unknown_user" if user is None else "wrong_password")
        if rehashed is not None:  # the recommended parameters changed since it was hashed
            self._db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (rehashed, username)
            )
        return LoginCheck(user, None if user.active else "disabled")

    def transaction(self) -> AbstractContextManager[None]:
        """Changes made inside take effect together when it ends, or not at all if it raises."""
        return immediate(self._db)

    def _update(self, username: str, assignments: str, values: tuple[object, ...]) -> None:
        cursor = self._db.execute(
            f"UPDATE users SET {assignments} WHERE username = ?", (*values, username)
        )
        if cursor.rowcount == 0:
            raise UserError(f"no user {username}")


def _user(row: tuple[object, ...]) -> User:
    username, role, stations, version, created, disabled = row
    return User(
        username=str(username),
        role=cast(Role, role),
        stations=None if stations is None else tuple(orjson.loads(str(stations))),
        token_version=int(cast(int, version)),
        created_at=float(cast(float, created)),
        disabled_at=None if disabled is None else float(cast(float, disabled)),
    )
