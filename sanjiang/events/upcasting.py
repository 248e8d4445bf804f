"""Upcasters: old schema versions are rewritten to the current one on read, in a chain.

Each upcaster takes the raw event dict at version ``n`` of a type and returns it at ``n + 1``.
They work on plain data before any model is built, so old events in the log never need the
classes that wrote them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

RawEvent = dict[str, Any]
Upcaster = Callable[[RawEvent], RawEvent]

#: (type, from_version) -> upcaster to from_version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that lifts ``event_type`` from ``from_version`` to the next version."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register


class UpcastError(ValueError):
    """An old version that cannot be brought to the current one."""


def upcast(raw: RawEvent, event_type: str, version: int, current: int) -> RawEvent:
    """Apply the chain of upcasters from ``version`` to ``current``; returns a new dict."""
    data = dict(raw)
    while version < current:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UpcastError(f"no upcaster from {event_type} v{version} to v{version + 1}")
        data = step(data)
        version += 1
        data["schema_version"] = version
    return data


@upcaster("evaluation.submitted", 1)
def _evaluation_score_to_rating(raw: RawEvent) -> RawEvent:
    """v1 kiosks asked for a 0..10 score and a ``remark``; v2 asks for 1..5 stars and a ``comment``.

    Each pair of scores maps to one star, so that "satisfied" (rating >= 4) means score >= 7:
    0-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7-8 -> 4, 9-10 -> 5.
    """
    payload = dict(raw.get("payload") or {})
    if "score" in payload:
        score = payload.pop("score")
        if isinstance(score, int) and not isinstance(score, bool) and 0 <= score <= 10:
            payload["rating"] = max(1, math.ceil(score / 2))
        else:
            raise UpcastError(
                f"evaluation.submitted v1: score must be an integer 0..10, got {score!r}"
            )
    if "remark" in payload:
        payload["comment"] = payload.pop("remark")
    return {**raw, "payload": payload}


@upcaster("activity.designed", 1)
def _design_gains_plan(raw: RawEvent) -> RawEvent:
    """v2 only adds optional fields (venue, times, series, release delay): v1 reads as is."""
    return raw


@upcaster("activity.designed", 2)
@upcaster("activity.published", 1)
@upcaster("activity.updated", 1)
def _registration_rule(raw: RawEvent) -> RawEvent:
    """The next versions only add ``registration_required``, optional: an event written before
    reads as is (a design or publication without the rule requires no registration, an update
    leaves it as it was)."""
    return raw
