"""`sanjiang simulate` backfill through the CLI, and the live runner's time warp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from producers.live import LiveRun
from producers.simulator import Emission
from sanjiang.cli import app
from sanjiang.events import decode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.network import load_network
from sanjiang.pseudonym import Pseudonymizer
from sanjiang.settings import load_settings
from sanjiang.taxonomy import load_taxonomy


def test_backfill_file_is_deterministic_and_stamped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANJIANG_PSEUDONYM_KEY", "00112233445566778899aabbccddeeff")
    runner = CliRunner()
    args = ["simulate", "--days", "1", "--seed", "5", "--start", "2026-11-18"]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a.ndjson")])
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "b.ndjson")])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "wrote" in first.output
    data = (tmp_path / "a.ndjson").read_bytes()
    assert data == (tmp_path / "b.ndjson").read_bytes()
    events = [decode_event(line) for line in data.splitlines()]
    assert len(events) > 1000
    assert all(e.received_at is not None and e.received_at >= e.occurred_at for e in events)
    assert any(e.late for e in events)  # kiosk outages upload late
    late_after = timedelta(seconds=300)
    assert all(
        e.late == (e.received_at - e.occurred_at > late_after) for e in events if e.received_at
    )


def test_backfill_needs_an_output() -> None:
    result = CliRunner().invoke(app, ["simulate", "--days", "1"])
    assert result.exit_code == 1
    assert "--out" in result.output


def test_live_warp_compresses_time_after_the_start(tmp_path: Path) -> None:
    settings = load_settings(var_dir=tmp_path)
    run = LiveRun(
        settings, load_network(), load_taxonomy(), Pseudonymizer(b"k" * 32), seed=1, speed=10.0
    )
    t0 = datetime(2026, 11, 20, 10, tzinfo=UTC)

    def emission(minutes: int) -> Emission:
        at = t0 + timedelta(minutes=minutes)
        event = new_event(
            p.BookingNoShow(booking_id="b"), station_id="WS-C", source="console:s", occurred_at=at
        )
        return Emission(emit_at=at, event=event)

    before_release, before_event = run.warp(emission(-30), t0)
    assert before_release == t0 - timedelta(minutes=30)  # catch-up: released at once
    assert before_event.occurred_at == t0 - timedelta(minutes=30)
    after_release, after_event = run.warp(emission(100), t0)
    assert after_release == t0 + timedelta(minutes=10)
    assert after_event.occurred_at == t0 + timedelta(minutes=10)
