"""Facts: what the live fold reads of an event, by the signed path and by the full path.

A signed, current record's fact is decoded straight from its bytes; every other record is
validated (and upcast) first. Both must give the same fact, with the same values as the event
model, or the live numbers would depend on how an event reached the worker.
"""

from __future__ import annotations

import gc
import typing
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings

from sanjiang.events import Event, EventError, decode_event, encode_event
from sanjiang.events import payloads as p
from sanjiang.events.catalog import EVENT_TYPES
from sanjiang.events.codec import new_event
from sanjiang.kafka.signing import EventSigner
from streams.facts import FACT_TYPES, PAYLOADS, Fact, FactPayload, fact_of, read_fact
from streams.reader import Batch
from streams.state import LiveState
from streams.worker import fold_batch
from tests import simulated
from tests.strategies import events
from tests.unit.test_live_state import NETWORK
from tests.unit.test_upcasting import V1_EVALUATION

SIGNER = EventSigner(b"0123456789abcdef" * 2)
OTHER = EventSigner(b"fedcba9876543210" * 2)


def decode_fact(value: bytes, headers: list[tuple[str, bytes]], signer: EventSigner) -> Fact:
    """A record's fact as the worker gets it: the reader checks the signature, the fold
    process reads the fact."""
    return read_fact(value, signer.verify(value, headers))


def payload_fields(cls: type[FactPayload]) -> tuple[str, ...]:
    return tuple(cls.__struct_fields__)


def assert_matches(fact: Fact, event: Event) -> None:
    """Every field of the fact holds the event model's value."""
    assert event.type == fact.TYPE and type(fact) is FACT_TYPES[event.type]
    assert fact.event_id == str(event.event_id)
    for name in ("schema_version", "occurred_at", "received_at", "station_id", "resident"):
        assert getattr(fact, name) == getattr(event, name), name
    assert fact.late is event.late
    for name in payload_fields(type(fact.payload)):
        assert getattr(fact.payload, name) == getattr(event.payload, name, None), name


def test_every_event_type_has_a_fact_reading_only_fields_it_has() -> None:
    assert set(FACT_TYPES) == set(EVENT_TYPES)
    for name, fact_type in FACT_TYPES.items():
        event_type = EVENT_TYPES[name]
        assert fact_type.VERSION == event_type.VERSION
        payload = typing.get_type_hints(fact_type)["payload"]
        model_fields = typing.get_type_hints(event_type)["payload"].model_fields
        for field in payload_fields(payload):
            # activity_id is on every fact payload: None where the type has none (for heat)
            assert field in model_fields or field == "activity_id", (name, field)


@pytest.fixture(scope="module")
def day() -> list[Event]:
    """One simulated day: every kind of event the network emits, as the platform stamps them."""
    emissions = simulated.emissions(date(2026, 11, 16), days=1, seed=5)
    events = [e.event.model_copy(update={"received_at": e.emit_at}) for e in emissions]
    # and a cancelled booking (none that day)
    confirmed = next(e for e in events if e.type == "booking.confirmed")
    cancelled = new_event(
        p.BookingCancelled(booking_id=confirmed.payload.booking_id),  # type: ignore[attr-defined]
        station_id=confirmed.station_id,
        source=confirmed.source,
        occurred_at=confirmed.occurred_at + timedelta(minutes=5),
    )
    return [*events, cancelled.model_copy(update={"received_at": cancelled.occurred_at})]


def test_both_paths_give_the_events_values(day: list[Event]) -> None:
    assert {event.type for event in day} >= set(PAYLOADS)  # every type whose payload it reads
    for event in day:
        value = encode_event(event)
        fast = decode_fact(value, SIGNER.headers(value), SIGNER)
        full = decode_fact(value, [], SIGNER)
        assert fast == full == fact_of(event)
        assert_matches(fast, event)


@settings(max_examples=300, deadline=None)
@given(events())
def test_both_paths_agree_on_any_valid_event(event: Event) -> None:
    value = encode_event(event)
    assert decode_fact(value, SIGNER.headers(value), SIGNER) == decode_fact(value, [], SIGNER)
    assert_matches(fact_of(event), event)


def test_unsigned_or_badly_signed_invalid_records_are_refused() -> None:
    value = b'{"type":"checkin.recorded","schema_version":1}'
    for headers in ([], OTHER.headers(value)):
        with pytest.raises(EventError) as caught:
            decode_fact(value, headers, SIGNER)
        assert caught.value.reason == "invalid"


def test_a_badly_signed_valid_event_is_validated_and_folds(day: list[Event]) -> None:
    value = encode_event(day[0])
    assert decode_fact(value, OTHER.headers(value), SIGNER) == fact_of(day[0])


def test_a_signed_record_that_is_no_event_takes_the_full_path() -> None:
    for value, reason in [(b"{not json", "malformed_json"), (b"[1]", "not_an_object")]:
        with pytest.raises(EventError) as caught:
            decode_fact(value, SIGNER.headers(value), SIGNER)
        assert caught.value.reason == reason


def test_a_signed_old_version_is_upcast_first() -> None:
    fact = decode_fact(V1_EVALUATION, SIGNER.headers(V1_EVALUATION), SIGNER)
    assert fact == fact_of(decode_event(V1_EVALUATION))
    payload: Any = fact.payload
    assert (fact.schema_version, payload.rating) == (2, 4)  # score 8 -> 4 stars


def test_facts_stay_out_of_the_garbage_collector(day: list[Event]) -> None:
    # the fold makes one a record; untracked, they add nothing to collections of the state
    fact = fact_of(day[0])
    assert not gc.is_tracked(fact) and not gc.is_tracked(fact.payload)


def test_a_reader_batch_folds_its_valid_events_and_counts_the_rest() -> None:
    first, second = (
        encode_event(event) for event in simulated.events(date(2026, 11, 17), 1, 5)[:2]
    )
    batch = Batch(
        key="t.events:0",
        next_offset=4,
        values=[first, second, b"{not json", b'{"type": "checkin.recorded"}'],
        verified=bytes([1, 0, 0, 1]),  # signed; unsigned (validated in full); two invalid ones
        highwaters={},
    )
    state = LiveState(NETWORK)
    invalid, last = fold_batch(state, batch)
    assert invalid == 2 and state.applied == 2
    assert last == fact_of(decode_event(second))
