"""Loading an NDJSON file of events into the warehouse through validation and dedup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from projections.compact import compact_rollups
from projections.writer import EventWriter, Positioned
from sanjiang.events import EventError, decode_event


@dataclass
class LoadStats:
    lines: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0


def load_ndjson(
    path: Path,
    writer: EventWriter,
    *,
    batch_rows: int = 20_000,
    rejects: BinaryIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoadStats:
    """Validate every line like the platform does and write new events; bad lines are counted
    and copied to ``rejects`` (with the reason) rather than stopping the load. The small
    rollups are compacted at the end (``projections.compact``)."""
    stats = LoadStats()
    batch: list[Positioned] = []
    with path.open("rb") as handle:
        for line in handle:
            if progress is not None:
                progress(len(line))
            if not line.strip():
                continue
            stats.lines += 1
            try:
                batch.append(Positioned(decode_event(line)))
            except EventError as exc:
                stats.rejected += 1
                if rejects is not None:
                    rejects.write(f"# line {stats.lines}: {exc.reason}: {exc.detail}\n".encode())
                    rejects.write(line if line.endswith(b"\n") else line + b"\n")
                continue
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
