"""Identifiers: UUIDv7 (RFC 9562) for events, time-ordered so logs and tables sort by creation."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7; monotonic within this process (a 12-bit counter orders ids of one millisecond).

    ``unix_ms`` pins the timestamp (for deterministic simulation); the random part stays random.
    """
    global _last_ms, _counter
    with _lock:
        ms = int(time.time() * 1000) if unix_ms is None else unix_ms
        if unix_ms is None and ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            if unix_ms is None:
                _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        rand_a = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_from_rng(unix_ms: int, rand: int) -> uuid.UUID:
    """A UUIDv7 built from a caller's random bits (74 used): deterministic ids for a seeded run."""
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_unix_ms(value: uuid.UUID) -> int:
    """The millisecond timestamp inside a UUIDv7."""
    return value.int >> 80


def uuid7_derived(parent: uuid.UUID, index: int) -> uuid.UUID:
    """The ``index``-th UUIDv7 derived from ``parent`` (a command's id): the same every time,
    so an event written again after a crash is a duplicate, not a second event. It carries the
    parent's millisecond and, for the first 4,096, orders by ``index``."""
    digest = hashlib.blake2b(parent.bytes + index.to_bytes(8, "big"), digest_size=8).digest()
    rand = min(index, 0xFFF) << 62 | int.from_bytes(digest, "big") & ((1 << 62) - 1)
    return uuid7_from_rng(uuid7_unix_ms(parent), rand)
