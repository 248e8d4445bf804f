"""A station's snapshot: its state as one table record, with the offsets it holds the log to.

The log is the truth (``replay``); a snapshot only shortens the replay after a takeover, so
it is written every few seconds, not with each decision, and one record per station cannot
be torn. To keep it small, the answers kept are the newest ``KEEP_ANSWERS``: a command is read
again only after the last snapshot (whose answers are all kept until the next), or when its
sender asks again within minutes.

A record is the JSON compressed (zlib) and written as text (``z1:`` and base64: the table's
values are JSON strings): a busy station's JSON passed the broker's 1 MB message limit after two
weeks of simulated history, and the deciders died writing it. On 14 simulated days the records
are 6.5-8.4 times smaller than their JSON (the flagship center's: 2.28 MB of JSON, 270 KB).
Records of the JSON itself (written before) are still read.

Pure: the worker keeps the records in a Faust table whose changelog a restarted or rebalanced
worker recovers them from.
"""

from __future__ import annotations

import base64
import zlib
from itertools import islice
from typing import Any

import msgspec

from sanjiang.commands.replay import Through
from sanjiang.commands.state import StationState

#: answers kept per station in its record (the newest)
KEEP_ANSWERS = 500
#: the mark of a compressed record (a JSON one starts with ``{``)
COMPRESSED = b"z1:"
#: a record longer than this is not written (the broker's default limit is 1 MB a message);
#: the station's log is replayed from its previous record instead, which is only slower
MAX_RECORD_BYTES = 900_000


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
    compressed = zlib.compress(_ENCODER.encode(StationRecord(state, through)), 1)
    return COMPRESSED + base64.b64encode(compressed)


def read_record(station_id: str, record: Any) -> tuple[StationState, Through]:
    """The station's state and offsets from its record (a fresh state, holding nothing of
    the log, when there is none)."""
    if record is None:
        return StationState(station_id), Through()
    raw = record.encode() if isinstance(record, str) else bytes(record)
    if raw.startswith(COMPRESSED):
        raw = zlib.decompress(base64.b64decode(raw[len(COMPRESSED) :]))
    read = _DECODER.decode(raw)
    if read.state.station_id != station_id:
        raise ValueError(f"the record of {station_id} holds {read.state.station_id}")
    return read.state, read.through
