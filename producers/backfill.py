"""Backfill: a simulated history written as NDJSON, as the platform would have accepted it
(its decisions made by the deciders: ``decided``).

Each line is one event with ``received_at`` = when its device handed it over (so late uploads
carry ``late``), in the order the platform received them; re-sent duplicates appear twice,
as they would in the Kafka log. No Kafka is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import BinaryIO

from producers.simulator import Emission
from sanjiang.events import encode_event
from sanjiang.events.codec import stamp_received


def write_backfill(
    emissions: Iterable[Emission],
    out: BinaryIO,
    late_after: timedelta,
    progress: Callable[[Emission], None] | None = None,
) -> int:
    """Write every emission as one NDJSON line; returns the number of lines."""
    lines = 0
    for emission in emissions:
        event = stamp_received(emission.event, emission.emit_at, late_after)
        out.write(encode_event(event))
        out.write(b"\n")
        lines += 1
        if progress is not None:
            progress(emission)
    return lines
