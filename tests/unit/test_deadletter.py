"""The dead-letter headers (``sanjiang.kafka.deadletter``): read back as written, whatever
shape the client hands them in, and readable when parts are missing."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import orjson

from sanjiang.kafka.deadletter import BODY_LIMIT, DETAIL_LIMIT, Rejection, redact
from streams.rejections import rejection_day

AT = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # 00:30 on the 28th in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_headers_read_back_as_written() -> None:
    rejection = Rejection("invalid_event", "payload.visit_id: missing", "api", AT)
    headers = rejection.headers()
    assert Rejection.from_headers(headers) == rejection
    assert Rejection.from_headers(dict(headers)) == rejection  # some clients give a mapping
    assert Rejection.from_headers(tuple(headers)) == rejection


def test_a_long_detail_is_cut() -> None:
    headers = Rejection("invalid_event", "x" * (DETAIL_LIMIT + 10), "api", AT).headers()
    assert len(Rejection.from_headers(headers).detail) == DETAIL_LIMIT


def test_missing_or_unreadable_parts() -> None:
    assert Rejection.from_headers(None) == Rejection("unknown", "", "", None)
    unreadable = Rejection.from_headers([("reason", b"invalid_json"), ("rejected_at", b"soon")])
    assert unreadable == Rejection("invalid_json", "", "", None)


def test_the_day_of_a_rejection_is_local() -> None:
    with_time = Rejection("invalid_json", "", "api", AT)
    assert rejection_day(with_time, 0, SHANGHAI) == date(2026, 11, 28)
    without = Rejection("invalid_json", "", "api", None)  # the record's timestamp decides
    assert rejection_day(without, AT.timestamp(), SHANGHAI) == date(2026, 11, 28)


def test_a_rejected_body_keeps_its_shape_not_what_residents_wrote() -> None:
    body = orjson.dumps(
        {
            "event_id": "01936f2a-7c3e-7b1a-9f00-0123456789ab",
            "type": "evaluation.submitted",
            "schema_version": 2,
            "occurred_at": "2026-11-20T09:00:00+08:00",
            "station_id": "WS-R03",
            "source": "kiosk:WS-R03-K1",
            "resident": "310101199001011234",  # an identity-card number where a pseudonym goes
            "payload": {
                "activity_id": "A1",
                "rating": 9,
                "comment": "张三 说很好",
                "visit_id": "13800138000",  # a phone number in an id field
                "extra": [{"name": "李四"}, 13800138000],
            },
        }
    )
    kept = orjson.loads(redact(body))
    assert kept["type"] == "evaluation.submitted" and kept["station_id"] == "WS-R03"
    assert kept["occurred_at"] == "2026-11-20T09:00:00+08:00" and kept["schema_version"] == 2
    assert kept["payload"]["activity_id"] == "A1" and kept["payload"]["rating"] == 9
    assert kept["resident"] == "<redacted: 18 chars>"
    assert kept["payload"]["comment"] == "<redacted: 6 chars>"
    assert kept["payload"]["visit_id"] == "<redacted: 11 chars>"
    assert kept["payload"]["extra"] == [{"name": "<redacted: 2 chars>"}, "<redacted: number>"]
    text = redact(body).decode()
    assert "张三" not in text and "李四" not in text and "1380013" not in text


def test_what_is_not_json_or_too_large_keeps_its_size_and_hash() -> None:
    assert orjson.loads(redact(b"\xff{not json"))["redacted"] == "not JSON"
    huge = orjson.dumps({f"field{i}": list(range(20)) for i in range(5000)})
    kept = redact(huge)
    assert len(kept) <= BODY_LIMIT
    stub = orjson.loads(kept)
    assert stub["redacted"] == "too large" and stub["bytes"] == len(huge)
    assert stub["sha256"] == hashlib.sha256(huge).hexdigest()[:32]
    deep: object = "x"
    for _ in range(50):
        deep = [deep]
    assert b"nested" in redact(orjson.dumps(deep))
