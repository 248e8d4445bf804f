"""A station's state as table records: one small record per thing (activity, booking, closure,
demand, registration, decided command), so a decision rewrites only what it touched.

Keys are ``<station>|<kind>|<id>``; values plain JSON-able data. ``touched`` names the records
an event changes; ``records_of`` gives their current values (``None``: delete);
``state_from_records`` rebuilds the state from them. Pure: the worker keeps them in a Faust
table, whose changelog a restarted or rebalanced worker recovers them from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from sanjiang.commands.decision import Answer
from sanjiang.commands.state import Activity, Booking, Closure, Demand, StationState
from sanjiang.events import Event

_KINDS: dict[str, tuple[str, type[Any]]] = {
    "activity": ("activities", Activity),
    "booking": ("bookings", Booking),
    "closure": ("closures", Closure),
    "demand": ("demands", Demand),
    "registration": ("registrations", str),
    "decided": ("decided", Answer),
}
#: payload field -> the kind of record it names
_FIELDS = {
    "activity_id": "activity",
    "booking_id": "booking",
    "closure_id": "closure",
    "demand_id": "demand",
    "registration_id": "registration",
    "command_id": "decided",
}


def record_key(station_id: str, kind: str, ident: str) -> str:
    return f"{station_id}|{kind}|{ident}"


def touched(events: Iterable[Event]) -> set[tuple[str, str]]:
    """The (kind, id) of every record these events may have changed."""
    found: set[tuple[str, str]] = set()
    for event in events:
        payload = event.payload
        for name, kind in _FIELDS.items():
            value = getattr(payload, name, None)
            if isinstance(value, str):
                found.add((kind, value))
        for name in ("registration_ids",):
            for value in getattr(payload, name, ()) or ():
                found.add(("registration", value))
    return found


def records_of(state: StationState, keys: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Record key -> its value in ``state`` (``None`` when the thing is gone)."""
    out: dict[str, Any] = {}
    for kind, ident in keys:
        attribute, _ = _KINDS[kind]
        value = getattr(state, attribute).get(ident)
        out[record_key(state.station_id, kind, ident)] = (
            None if value is None else msgspec.to_builtins(value)
        )
    return out


def state_from_records(station_id: str, items: Iterable[tuple[str, Any]]) -> StationState:
    """The station's state from its records (records of other stations are skipped)."""
    state = StationState(station_id)
    prefix = station_id + "|"
    for key, value in items:
        if not key.startswith(prefix) or value is None:
            continue
        _, kind, ident = key.split("|", 2)
        attribute, cls = _KINDS[kind]
        getattr(state, attribute)[ident] = msgspec.convert(value, cls)
    return state
