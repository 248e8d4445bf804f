"""The local broker's lifecycle on a private broker: restart and crash keep the log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sanjiang.cli import app
from sanjiang.events import Event, decode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.kafka.broker import LocalKafka
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings
from tests.conftest import local_kafka_settings
from tests.integration.kafka_helpers import consume

pytestmark = pytest.mark.integration


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[tuple[LocalKafka, Settings]]:
    settings = local_kafka_settings(tmp_path / "var")
    broker = LocalKafka(settings)
    try:
        yield broker, settings
    finally:
        broker.stop()


def _events(n: int, tag: str) -> list[Event]:
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    return [
        new_event(
            p.BookingNoShow(booking_id=f"{tag}-{i}"),
            station_id=f"WS-R{i % 28 + 1:02d}",
            source="console",
            occurred_at=start + timedelta(seconds=i),
        )
        for i in range(n)
    ]


async def _publish(settings: Settings, topics: Topics, events: list[Event]) -> None:
    await ensure_topics(settings, topics)
    async with EventPublisher(settings, topics) as publisher:
        await publisher.publish_many(events)


def _read_ids(settings: Settings, topics: Topics, group: str, expected: int) -> set[str]:
    records = asyncio.run(consume(settings, topics.events, group, expected, timeout_s=60))
    return {str(decode_event(r.value).event_id) for r in records}


def test_start_status_stop_and_the_log_survives_restart_and_crash(
    private_broker: tuple[LocalKafka, Settings],
) -> None:
    broker, settings = private_broker
    assert not broker.status().running

    first = broker.start()
    assert first.running and first.answering and first.pid is not None
    assert broker.start().pid == first.pid  # starting again is a no-op
    assert broker.is_formatted()

    topics = Topics("lifecycle")
    before_restart = _events(200, "a")
    asyncio.run(_publish(settings, topics, before_restart))

    assert broker.stop() is True
    assert not broker.status().running
    assert broker.stop() is False  # stopping again is harmless

    broker.start()
    ids = _read_ids(settings, topics, "after-restart", len(before_restart))
    assert ids == {str(e.event_id) for e in before_restart}

    after_crash = _events(100, "b")
    asyncio.run(_publish(settings, topics, after_crash))
    assert broker.kill() is True  # kill -9: acknowledged events must still be there
    broker.start()
    ids = _read_ids(settings, topics, "after-crash", len(before_restart) + len(after_crash))
    assert ids == {str(e.event_id) for e in before_restart + after_crash}


def test_cli_status_reports_and_exit_codes(
    private_broker: tuple[LocalKafka, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, settings = private_broker
    monkeypatch.setenv("SANJIANG_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SANJIANG_KAFKA_PORT", str(settings.kafka_port))
    monkeypatch.setenv("SANJIANG_KAFKA_CONTROLLER_PORT", str(settings.kafka_controller_port))
    monkeypatch.setenv("SANJIANG_KAFKA_HEAP", settings.kafka_heap)
    runner = CliRunner()

    stopped = runner.invoke(app, ["kafka", "status"])
    assert stopped.exit_code == 3 and "stopped" in stopped.output

    started = runner.invoke(app, ["kafka", "start"])
    assert started.exit_code == 0, started.output
    assert "answering" in started.output
    ensured = runner.invoke(app, ["topics", "ensure"])
    assert ensured.exit_code == 0 and "created  sanjiang.events" in ensured.output
    assert runner.invoke(app, ["kafka", "status"]).exit_code == 0
    assert runner.invoke(app, ["kafka", "stop"]).exit_code == 0
    assert not broker.status().running
