"""Loading an NDJSON file of events into the warehouse through validation and dedup."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from projections.compact import compact_rollups
from projections.writer import EventWriter, Positioned
from sanjiang.events import Event, EventError, decode_event
from sanjiang.kafka.publisher import EventPublisher


@dataclass
class LoadStats:
    lines: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0


def valid_events(
    path: Path,
    stats: LoadStats,
    rejects: BinaryIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """The events of an NDJSON file, each validated like the platform does; bad lines are
    counted in ``stats`` and copied to ``rejects`` with their reason, never stopping the read."""
    with path.open("rb") as handle:
        for line in handle:
            if progress is not None:
                progress(len(line))
            if not line.strip():
                continue
            stats.lines += 1
            try:
                yield decode_event(line)
            except EventError as exc:
                stats.rejected += 1
                if rejects is not None:
                    rejects.write(f"# line {stats.lines}: {exc.reason}: {exc.detail}\n".encode())
                    rejects.write(line if line.endswith(b"\n") else line + b"\n")


def load_ndjson(
    path: Path,
    writer: EventWriter,
    *,
    batch_rows: int = 20_000,
    rejects: BinaryIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoadStats:
    """Write the file's valid events not stored yet (``valid_events``). The small rollups are
    compacted at the end (``projections.compact``)."""
    stats = LoadStats()
    batch: list[Positioned] = []
    for event in valid_events(path, stats, rejects, progress):
        batch.append(Positioned(event))
        if len(batch) >= batch_rows:
            _flush(writer, batch, stats)
    if batch:
        _flush(writer, batch, stats)
    if stats.written:
        compact_rollups(writer.warehouse)
    return stats


def _flush(writer: EventWriter, batch: list[Positioned], stats: LoadStats) -> None:
    result = writer.write(batch)
    stats.written += result.written
    stats.duplicates += result.duplicates
    batch.clear()


async def publish_ndjson(
    path: Path,
    publisher: EventPublisher,
    *,
    batch_rows: int = 5_000,
    rejects: BinaryIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoadStats:
    """Publish the file's valid events (``valid_events``) to the event topic, where the
    warehouse sink writes each once — for a running platform, whose API owns the embedded
    warehouse; ``written`` counts what was published."""
    stats = LoadStats()
    batch: list[Event] = []
    for event in valid_events(path, stats, rejects, progress):
        batch.append(event)
        if len(batch) >= batch_rows:
            stats.written += await publisher.publish_many(batch)
            batch.clear()
    if batch:
        stats.written += await publisher.publish_many(batch)
    return stats
