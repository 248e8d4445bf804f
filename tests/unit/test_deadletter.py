"""The dead-letter headers (``sanjiang.kafka.deadletter``): read back as written, whatever
shape the client hands them in, and readable when parts are missing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sanjiang.kafka.deadletter import DETAIL_LIMIT, Rejection
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
