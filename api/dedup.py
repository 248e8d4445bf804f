"""Recently seen event ids, so a re-sent event is accepted once and reported as a duplicate.

Two generations of sets: when the current one is full it becomes the previous one and the
oldest generation is dropped. Memory stays bounded (``capacity`` ids) and the most recent
``capacity / 2`` ids at least are always remembered. Older duplicates still reach Kafka, where
every consumer is idempotent on ``event_id``; this cache saves work, it is not the guarantee.
"""

from __future__ import annotations

from uuid import UUID


class RecentIds:
    def __init__(self, capacity: int) -> None:
        self._half = max(1, capacity // 2)
        self._current: set[int] = set()
        self._previous: set[int] = set()

    def __contains__(self, event_id: UUID) -> bool:
        value = event_id.int
        return value in self._current or value in self._previous

    def add(self, event_id: UUID) -> None:
        if len(self._current) >= self._half:
            self._previous, self._current = self._current, set()
        self._current.add(event_id.int)

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)
