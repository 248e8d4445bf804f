"""A station's snapshot: its state as one table record, with the offsets it holds the log to.

The log is the truth (``replay``); a snapshot only shortens the replay after a takeover, so
it is written every few seconds, not with each decision, and one record per station cannot
be torn. To keep it small, the answers kept are the newest ``KEEP_ANSWERS``: a command is read
again only after the last snapshot (whose answers are all kept until the next), or when its
sender asks again within minutes.

Pure: the worker keeps the records in a Faust table whose changelog a restarted or rebalanced
worker recovers them from.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import msgspec

from sanjiang.commands.replay import Through
from sanjiang.commands.state import StationState

#: answers kept per station in its record (the newest)
KEEP_ANSWERS = 500


class StationRecord(msgspec.Struct, frozen=True):
    state: StationState
    through: Through


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(StationRecord)


def station_record(state: StationState, through: Through) -> bytes:
    """The station's record: its state as JSON, with the newest ``KEEP_ANSWERS`` answers
    (older ones are dropped from ``state`` too), and where it holds the log to."""
    if len(state.decided) > KEEP_ANSWERS:
        drop = len(state.decided) - KEEP_ANSWERS
        for command_id in list(islice(state.decided, drop)):  # oldest first: insertion order
            del state.decided[command_id]
    return _ENCODER.encode(StationRecord(state, through))


def read_record(station_id: str, record: Any) -> tuple[StationState, Through]:
    """The station's state and offsets from its record (a fresh state, holding nothing of
    the log, when there is none)."""
    if record is None:
        return StationState(station_id), Through()
    read = _DECODER.decode(record)
    if read.state.station_id != station_id:
        raise ValueError(f"the record of {station_id} holds {read.state.station_id}")
    return read.state, read.through
