"""A station's state as one table record, written whole, so a decision is recorded with
everything it changed or not at all.

A record written in pieces (one per activity, booking, answer…) was seen torn by a worker
killed between two pieces: its successor found a demand without the answer that created it,
decided the command again, and answered ``duplicate_id`` — a second, different decision. One
record per station cannot be torn. To keep it small, the answers kept are the latest
``KEEP_ANSWERS`` (a command is read again only until its offset is committed, or when its
sender asks again within minutes).

Pure: the worker keeps the records in a Faust table whose changelog a restarted or rebalanced
worker recovers them from.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import msgspec

from sanjiang.commands.state import StationState

#: answers kept per station in its record (the newest)
KEEP_ANSWERS = 500

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(StationState)


def station_record(state: StationState) -> bytes:
    """The station's record: its state as JSON, with the newest ``KEEP_ANSWERS`` answers."""
    if len(state.decided) > KEEP_ANSWERS:
        drop = len(state.decided) - KEEP_ANSWERS
        for command_id in list(islice(state.decided, drop)):  # oldest first: insertion order
            del state.decided[command_id]
    return _ENCODER.encode(state)


def state_from_record(station_id: str, record: Any) -> StationState:
    """The station's state from its record (a fresh state when there is none)."""
    if record is None:
        return StationState(station_id)
    state = _DECODER.decode(record)
    if state.station_id != station_id:
        raise ValueError(f"the record of {station_id} holds {state.station_id}")
    return state
