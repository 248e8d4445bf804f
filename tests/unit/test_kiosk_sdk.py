"""Kiosk SDK without a platform: pseudonyms at the edge, the durable outbox, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from producers.delivery import Backoff
from producers.kiosk import Kiosk
from producers.outbox import Outbox
from sanjiang.events import decode_event, encode_event
from sanjiang.events.catalog import DECIDED_TYPES
from sanjiang.keyfile import load_or_create_key
from sanjiang.pseudonym import Pseudonymizer

KEY = bytes(range(32))


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    clock = iter(
        datetime(2026, 11, 20, 9, tzinfo=UTC) + timedelta(seconds=i) for i in range(10_000)
    )
    return Kiosk(
        station_id="WS-R03",
        kiosk_id="WS-R03-K1",
        outbox=Outbox(tmp_path / "outbox.db"),
        pseudonymize=Pseudonymizer(KEY),
        clock=lambda: next(clock),
    )


def test_pseudonyms_are_keyed_stable_and_hide_the_identifier() -> None:
    one, other = Pseudonymizer(KEY), Pseudonymizer(bytes(32))
    assert one("310113195001011234") == one(" 310113195001011234 ")  # normalized
    assert one("310113195001011234") != other("310113195001011234")  # keyed
    assert one("A") != one("B")
    assert len(one("x")) == 32
    assert "secret" in repr(one) and KEY.hex() not in repr(one)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymizer(b"short")


def test_every_action_stores_a_valid_event_without_the_raw_id(kiosk: Kiosk) -> None:
    raw_id = "13800138000"
    events = [
        kiosk.check_in(raw_id, "WS-R03-ROOM1", age_band="0-13"),
        kiosk.check_out(raw_id, "visit-1", "WS-R03-ROOM1"),
        kiosk.check_in(raw_id, "WS-R03-ROOM1", activity_id="act-1", visit_id="v2"),
        kiosk.evaluate(raw_id, "act-1", 5, "很好"),
        kiosk.heartbeat("1.4.2", 3600),
    ]
    assert {e.type for e in events} == {
        "checkin.recorded", "checkout.recorded", "evaluation.submitted", "kiosk.heartbeat",
    }  # fmt: skip
    assert not {e.type for e in events} & DECIDED_TYPES  # decisions are commands
    assert events[0].payload.minor is True  # type: ignore[attr-defined]
    pending = kiosk.outbox.pending(100)
    assert [item.event_id for item in pending] == [str(e.event_id) for e in events]
    for item, event in zip(pending, events, strict=True):
        assert raw_id.encode() not in item.body
        assert decode_event(item.body) == event
        assert event.source == "kiosk:WS-R03-K1" and event.station_id == "WS-R03"
    assert events[-1].resident is None


def test_outbox_survives_reopen_and_settles_only_once(tmp_path: Path, kiosk: Kiosk) -> None:
    events = [kiosk.evaluate(f"r{i}", "act-1", 4) for i in range(5)]
    kiosk.outbox.put(events[0])  # the same event again is ignored
    kiosk.outbox.close()
    reopened = Outbox(tmp_path / "outbox.db")
    items = reopened.pending(10)
    assert len(items) == 5
    reopened.record_failure([items[0].seq], "broker down")
    reopened.mark_delivered([i.seq for i in items[:3]])
    reopened.mark_rejected(items[3].seq, "invalid: nope")
    reopened.mark_delivered([items[3].seq])  # settled rows do not change state again
    counts = reopened.counts()
    assert (counts.pending, counts.delivered, counts.rejected) == (1, 3, 1)
    assert reopened.rejected() == [(items[3].event_id, "invalid: nope")]
    assert reopened.pending(10)[0].body == encode_event(events[4])


def test_backoff_grows_and_is_capped() -> None:
    backoff, rng = Backoff(initial_s=0.5, maximum_s=30), random.Random(1)
    assert all(0 <= backoff.delay(1, rng) <= 1.0 for _ in range(100))
    assert max(backoff.delay(30, rng) for _ in range(200)) <= 30
    assert max(backoff.delay(10, rng) for _ in range(200)) > 10


def test_key_file_is_created_once_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "pseudonym.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key and len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
