"""Writes events to the warehouse exactly once per ``event_id``.

Before each insert the writer asks ``event_ids`` which ids of the batch are already stored
and drops them (and repeats inside the batch, the first one kept), so a re-delivered event, a
replayed Kafka batch after a crash between write and commit, or a file loaded twice adds
nothing — to the raw table and to every materialized view fed by it. The insert also carries
a deduplication token (the batch's Kafka offsets) so a retried insert of the very same block
is dropped by the engine too (the token is derived from the ids actually inserted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.rows import encode_batch, event_row
from projections.warehouse import Warehouse
from sanjiang.events import Event

LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class Positioned:
    """An event with where it came from (-1, -1 for files)."""

    event: Event
    partition: int = -1
    offset: int = -1


@dataclass(frozen=True)
class WriteResult:
    written: int
    duplicates: int


class EventWriter:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._table = f"{warehouse.database}.events"
        self._ids = f"{warehouse.database}.event_ids"

    def stored_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these event ids the warehouse already holds."""
        found: set[str] = set()
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = list(ids[start : start + LOOKUP_CHUNK])
            result = self.warehouse.query(
                f"SELECT toString(event_id) FROM {self._ids} WHERE event_id IN {{ids:Array(UUID)}}",
                {"ids": chunk},
            )
            found.update(row[0] for row in result.rows)
        return found

    def write(self, batch: Sequence[Positioned], token: str | None = None) -> WriteResult:
        """Insert the events not yet stored; returns how many were new and how many not."""
        return self.write_rows([event_row(i.event, i.partition, i.offset) for i in batch], token)

    def write_rows(self, rows: Sequence[dict[str, Any]], token: str | None = None) -> WriteResult:
        """Insert the ``events`` rows (see ``projections.rows``) whose ``event_id`` is not
        stored yet; returns how many were new and how many not."""
        unique: dict[str, dict[str, Any]] = {}
        for row in rows:
            unique.setdefault(row["event_id"], row)
        stored = self.stored_ids(list(unique))
        fresh = [row for key, row in unique.items() if key not in stored]
        if fresh:
            # The token names exactly the rows inserted: a retry of the same rows is dropped by
            # the engine, a different set of rows (after filtering) can never be mistaken for it.
            digest = hashlib.sha256("".join(row["event_id"] for row in fresh).encode())
            settings = {
                "insert_deduplication_token": f"{token or 'batch'}:{digest.hexdigest()[:32]}"
            }
            self.warehouse.insert_json_rows(self._table, encode_batch(fresh), settings)
        return WriteResult(len(fresh), len(rows) - len(fresh))
