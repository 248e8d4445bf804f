"""Every event type round-trips through JSON unchanged, for any valid content (hypothesis)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanjiang.events import ANY_EVENT, EVENT_TYPES, Event, decode_event, encode_event
from tests.strategies import PAYLOAD_DATA, PAYLOAD_OF, events


def test_every_event_type_has_a_strategy() -> None:
    assert set(PAYLOAD_OF.values()) == set(PAYLOAD_DATA)
    assert len(EVENT_TYPES) >= 17


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_roundtrip_each_type(event_type: str, data: st.DataObject) -> None:
    event = data.draw(events(event_type))
    wire = encode_event(event)
    decoded = decode_event(wire)
    assert decoded == event
    assert type(decoded) is type(event)
    assert encode_event(decoded) == wire
    raw = orjson.loads(wire)
    assert raw["type"] == event_type
    assert raw["schema_version"] == EVENT_TYPES[event_type].VERSION


@settings(max_examples=200, deadline=None)
@given(events())
def test_union_adapter_agrees_with_codec(event: Event) -> None:
    assert ANY_EVENT.validate_json(encode_event(event)) == event


@given(events())
def test_events_are_immutable(event: Event) -> None:
    with pytest.raises(ValueError, match="frozen"):
        event.station_id = "elsewhere"  # type: ignore[misc]
