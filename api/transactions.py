"""One SQLite transaction for the API's small stores (staff accounts, device keys)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """Changes made inside take effect together when it ends, or not at all if it raises
    (``BEGIN IMMEDIATE``: other writers wait meanwhile, up to the connection's timeout). The
    connection must be in autocommit mode (``isolation_level=None``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
