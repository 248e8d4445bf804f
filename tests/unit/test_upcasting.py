"""Upcasting, tested as a simulated deploy: events written by old firmware are read by new code."""

from __future__ import annotations

import orjson
import pytest

from sanjiang.events import EventError, decode_event
from sanjiang.events import payloads as p
from sanjiang.events.catalog import EvaluationSubmittedEvent
from sanjiang.events.upcasting import UPCASTERS, UpcastError, upcast

# Exactly what a v1 kiosk wrote to the log before the deploy (0..10 score, "remark").
V1_EVALUATION = (
    b'{"event_id":"01936f2a-7c3e-7b1a-9f00-0123456789ab","type":"evaluation.submitted",'
    b'"schema_version":1,"occurred_at":"2025-03-02T10:15:00+08:00","received_at":'
    b'"2025-03-02T10:15:02+08:00","station_id":"WS-R03","source":"kiosk:r03-a","resident":'
    b'"0123456789abcdef0123456789abcdef","payload":{"activity_id":"act-9","score":8,'
    b'"remark":"\xe5\xbe\x88\xe5\xa5\xbd"}}'
)


def test_v1_evaluation_is_read_as_v2() -> None:
    event = decode_event(V1_EVALUATION)
    assert isinstance(event, EvaluationSubmittedEvent)
    assert event.schema_version == 2
    assert event.payload == p.EvaluationSubmitted(activity_id="act-9", rating=4, comment="很好")
    assert str(event.event_id) == "01936f2a-7c3e-7b1a-9f00-0123456789ab"


@pytest.mark.parametrize(
    ("score", "rating"),
    [(0, 1), (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (8, 4), (9, 5), (10, 5)],
)
def test_score_maps_to_stars(score: int, rating: int) -> None:
    raw = orjson.loads(V1_EVALUATION)
    raw["payload"]["score"] = score
    assert decode_event(orjson.dumps(raw)).payload.rating == rating  # type: ignore[attr-defined]


def test_satisfied_means_the_same_before_and_after() -> None:
    # DESIGN.md: satisfied = rating >= 4; on the old scale that is score >= 7.
    for score in range(11):
        raw = orjson.loads(V1_EVALUATION)
        raw["payload"]["score"] = score
        rating = decode_event(orjson.dumps(raw)).payload.rating  # type: ignore[attr-defined]
        assert (rating >= 4) == (score >= 7)


@pytest.mark.parametrize("score", [-1, 11, "8", 7.5, None])
def test_bad_v1_score_is_rejected_with_reason(score: object) -> None:
    raw = orjson.loads(V1_EVALUATION)
    raw["payload"]["score"] = score
    with pytest.raises(EventError) as info:
        decode_event(orjson.dumps(raw))
    assert info.value.reason == "upcast_failed"
    assert "score must be an integer 0..10" in str(info.value)


def test_current_version_passes_through_untouched() -> None:
    raw = orjson.loads(V1_EVALUATION)
    assert upcast(raw, "evaluation.submitted", 2, 2) == raw


def test_a_gap_in_the_chain_is_an_error() -> None:
    assert ("booking.confirmed", 1) not in UPCASTERS
    with pytest.raises(UpcastError, match="no upcaster from booking.confirmed v1 to v2"):
        upcast({}, "booking.confirmed", 1, 2)


# What the deciders wrote before activities could require registration.
V1_PUBLISHED = {
    "event_id": "01936f2a-7c3e-7b1a-9f00-0123456789ac",
    "type": "activity.published",
    "schema_version": 1,
    "occurred_at": "2026-11-20T09:00:00+08:00",
    "station_id": "WS-R03",
    "source": "console:WS-R03-deciders",
    "payload": {
        "activity_id": "act-9",
        "title": "剪纸入门",
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": "WS-R03-ACT",
        "starts_at": "2026-11-24T09:00:00+08:00",
        "ends_at": "2026-11-24T11:00:00+08:00",
        "capacity": 20,
        "target_groups": ["elderly"],
    },
}


def test_activities_published_or_designed_before_the_rule_require_no_registration() -> None:
    published = decode_event(orjson.dumps(V1_PUBLISHED))
    assert published.schema_version == 2
    assert isinstance(published.payload, p.ActivityPublished)
    assert published.payload.registration_required is False
    designed = {
        **V1_PUBLISHED,
        "type": "activity.designed",
        "payload": {
            "activity_id": "act-9",
            "title": "剪纸入门",
            "category": "handcraft",
            "program": "qiaoshou_workshop",
            "target_groups": ["elderly"],
            "planned_capacity": 20,
        },
    }
    for version in (1, 2):
        event = decode_event(orjson.dumps({**designed, "schema_version": version}))
        assert event.schema_version == 3
        assert isinstance(event.payload, p.ActivityDesigned)
        assert event.payload.registration_required is False


def test_an_update_before_the_rule_leaves_it_as_it_was() -> None:
    raw = {
        **V1_PUBLISHED,
        "type": "activity.updated",
        "payload": {"activity_id": "act-9", "capacity": 25},
    }
    event = decode_event(orjson.dumps(raw))
    assert event.schema_version == 2
    assert isinstance(event.payload, p.ActivityUpdated)
    assert (event.payload.capacity, event.payload.registration_required) == (25, None)
    # a version 2 update may change the rule alone
    rule = {
        **raw,
        "schema_version": 2,
        "payload": {"activity_id": "act-9", "registration_required": True},
    }
    assert decode_event(orjson.dumps(rule)).payload.registration_required is True  # type: ignore[attr-defined]
