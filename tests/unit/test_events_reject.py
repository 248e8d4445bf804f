"""Bad input is rejected with a clear message naming the field and the problem."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sanjiang.events import EventError, decode_event, encode_event, from_raw
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event

VALID_PUBLISHED: dict[str, Any] = {
    "event_id": "01936f2a-7c3e-7b1a-9f00-0123456789ab",
    "type": "activity.published",
    "schema_version": 1,
    "occurred_at": "2026-11-20T09:00:00+08:00",
    "received_at": None,
    "station_id": "WS-C",
    "source": "console:staff-1",
    "resident": None,
    "payload": {
        "activity_id": "act-1",
        "title": "巧手工坊·剪纸",
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": "WS-C-SHARE",
        "starts_at": "2026-11-21T14:00:00+08:00",
        "ends_at": "2026-11-21T16:00:00+08:00",
        "capacity": 30,
        "target_groups": ["elderly", "children"],
    },
}


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = orjson.loads(orjson.dumps(VALID_PUBLISHED))
    change(raw)
    assert isinstance(raw, dict)
    return raw


def test_the_valid_example_is_valid() -> None:
    event = from_raw(mutated(lambda r: None))
    assert event.type == "activity.published"


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "numeric occurred_at (not seconds since 1970)",
        lambda r: r.update(occurred_at=1763600400),
        "invalid",
        "occurred_at: Value error, expected an ISO 8601 date-time",
    ),
    (
        "numeric starts_at",
        lambda r: r["payload"].update(starts_at=1763600400.5),
        "invalid",
        "starts_at: Value error, expected an ISO 8601 date-time",
    ),
    (
        "naive occurred_at",
        lambda r: r.update(occurred_at="2026-11-20T09:00:00"),
        "invalid",
        "occurred_at: Input should have timezone info",
    ),
    (
        "capacity zero",
        lambda r: r["payload"].update(capacity=0),
        "invalid",
        "payload.capacity: Input should be greater than 0",
    ),
    (
        "capacity as string",
        lambda r: r["payload"].update(capacity="30"),
        "invalid",
        "payload.capacity: Input should be a valid integer",
    ),
    (
        "unknown payload field",
        lambda r: r["payload"].update(phone="13800000000"),
        "invalid",
        "payload.phone: Extra inputs are not permitted",
    ),
    (
        "unknown envelope field",
        lambda r: r.update(name="张三"),
        "invalid",
        "name: Extra inputs are not permitted",
    ),
    (
        "missing payload field",
        lambda r: r["payload"].pop("venue_id"),
        "invalid",
        "payload.venue_id: Field required",
    ),
    (
        "ends before start",
        lambda r: r["payload"].update(ends_at="2026-11-21T13:00:00+08:00"),
        "invalid",
        "ends_at must be after starts_at",
    ),
    (
        "title too long",
        lambda r: r["payload"].update(title="长" * 81),
        "invalid",
        "payload.title: String should have at most 80 characters",
    ),
    (
        "bad station id",
        lambda r: r.update(station_id="WS C"),
        "invalid",
        "station_id: String should match pattern",
    ),
    (
        "bad source",
        lambda r: r.update(source="somewhere"),
        "invalid",
        "source: String should match pattern",
    ),
    (
        "uuid4 event id",
        lambda r: r.update(event_id=str(uuid.uuid4())),
        "invalid",
        "event_id: Value error, event_id must be a UUIDv7",
    ),
    (
        "empty target groups",
        lambda r: r["payload"].update(target_groups=[]),
        "invalid",
        "payload.target_groups: List should have at least 1 item",
    ),
    (
        "unknown target group",
        lambda r: r["payload"].update(target_groups=["aliens"]),
        "invalid",
        "payload.target_groups.0: Input should be",
    ),
    (
        "unknown type",
        lambda r: r.update(type="activity.exploded"),
        "unknown_type",
        "unknown event type 'activity.exploded'",
    ),
    ("missing type", lambda r: r.pop("type"), "missing_type", "type: required string"),
    (
        "future version",
        lambda r: r.update(schema_version=9),
        "unknown_version",
        "activity.published v9 is newer than this platform knows (v2)",
    ),
    (
        "version zero",
        lambda r: r.update(schema_version=0),
        "bad_version",
        "schema_version: required positive integer",
    ),
    (
        "bad pseudonym",
        lambda r: r.update(resident="13800000000"),
        "invalid",
        "resident: String should match pattern",
    ),
    (
        "resident action without resident",
        lambda r: r.update(
            type="registration.submitted",
            payload={"registration_id": "r1", "activity_id": "a1"},
        ),
        "invalid",
        "resident: required for registration.submitted",
    ),
]


@pytest.mark.parametrize(("case", "change", "reason", "message"), CASES, ids=[c[0] for c in CASES])
def test_rejects_with_reason(
    case: str, change: Callable[[dict[str, Any]], None], reason: str, message: str
) -> None:
    with pytest.raises(EventError) as info:
        from_raw(mutated(change))
    assert info.value.reason == reason
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("rating", "ok"), [(0, False), (1, True), (5, True), (6, False), (4.5, False), (True, False)]
)
def test_rating_is_an_integer_one_to_five(rating: object, ok: bool) -> None:
    event = new_event(
        p.EvaluationSubmitted(activity_id="a", rating=3),
        station_id="WS-C",
        source="api",
        occurred_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        resident="0123456789abcdef0123456789abcdef",
    )
    raw = orjson.loads(encode_event(event))
    raw["payload"]["rating"] = rating
    if ok:
        assert decode_event(orjson.dumps(raw)).payload == p.EvaluationSubmitted(
            activity_id="a", rating=rating
        )
    else:
        with pytest.raises(EventError, match="payload.rating"):
            decode_event(orjson.dumps(raw))


def test_minor_flag_must_match_age_band() -> None:
    with pytest.raises(ValueError, match="minor must be True for age band 0-13"):
        p.RegistrationSubmitted(registration_id="r", activity_id="a", age_band="0-13", minor=False)
    assert p.RegistrationSubmitted(
        registration_id="r", activity_id="a", age_band="14-17", minor=True
    ).minor


def test_update_must_change_something() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        p.ActivityUpdated(activity_id="a")
    with pytest.raises(ValueError, match="change together"):
        p.ActivityUpdated.model_validate(
            {"activity_id": "a", "starts_at": "2026-11-21T14:00:00+08:00"}
        )


@pytest.mark.parametrize(
    ("text", "reason"),
    [(b"{not json", "malformed_json"), (b"[1, 2]", "not_an_object"), (b'"x"', "not_an_object")],
)
def test_malformed_text(text: bytes, reason: str) -> None:
    with pytest.raises(EventError) as info:
        decode_event(text)
    assert info.value.reason == reason
