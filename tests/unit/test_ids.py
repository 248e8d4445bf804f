"""UUIDv7: version bits, embedded time, and order within one process."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from sanjiang.ids import uuid7, uuid7_from_rng, uuid7_unix_ms


def test_version_variant_and_time() -> None:
    before = int(time.time() * 1000)
    value = uuid7()
    after = int(time.time() * 1000)
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"
    assert before <= uuid7_unix_ms(value) <= after + 1


def test_ids_of_one_process_are_strictly_increasing() -> None:
    ids = [uuid7() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**74 - 1))
def test_seeded_ids_are_valid_and_deterministic(ms: int, rand: int) -> None:
    value = uuid7_from_rng(ms, rand)
    assert value.version == 7
    assert uuid7_unix_ms(value) == ms
    assert uuid7_from_rng(ms, rand) == value
