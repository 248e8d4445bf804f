"""The Faust worker: folds the event and telemetry topics into a ``LiveState`` and publishes
the live views to the ``<prefix>.live`` topic four times a second (only views that changed); alerts
open and close on the same timer (so silence is noticed without an event) and go to
``<prefix>.alerts`` and to the ``alerts`` view. A restarted worker re-opens the alerts that
still hold, with a new start time.

Recovery: the worker rebuilds its state from the log on every start — it joins with a fresh
consumer group and reads the topics from the beginning — so a crashed or restarted worker
ends with exactly the numbers of a from-scratch replay; the fold's dedup on ``event_id`` makes
re-reading harmless. (One worker per deployment for now: the state is not partitioned.)
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust

from sanjiang.events import EventError, decode_event
from sanjiang.kafka.topics import Topics
from sanjiang.network import Network, load_network
from sanjiang.settings import Settings
from streams.publish import LivePublisher
from streams.state import LiveState

log = logging.getLogger(__name__)
#: How often views are published. An event waits for the next tick: up to this long. A tick
#: costs ~1-2 ms (only views that can have changed are rendered), so 4 a second is cheap.
PUBLISH_INTERVAL_S = 0.25
#: The fold takes events in batches of up to FOLD_BATCH, or what arrived within FOLD_WITHIN_S:
#: under load batches fill at once; at low rates the window bounds how long an event waits.
FOLD_BATCH, FOLD_WITHIN_S = 2000, 0.02


def streams_datadir(settings: Settings) -> Path:
    """The worker's Faust data directory: under the var folder, one for every start (the app
    id changes per start, the folder does not)."""
    return settings.var_dir / "streams"


def create_app(settings: Settings, network: Network | None = None) -> faust.App:
    """A Faust app for this deployment; nothing connects until the worker starts."""
    topics = Topics.from_settings(settings)
    datadir = streams_datadir(settings)
    datadir.mkdir(parents=True, exist_ok=True)  # Faust itself only makes the last level
    app = faust.App(
        f"{settings.topic_prefix}-streams-{int(time.time() * 1000)}",
        broker=f"kafka://{settings.bootstrap_servers}",
        store="memory://",
        datadir=datadir,  # not Faust's default, ``<app id>-data`` in the working directory
        web_enabled=False,
        topic_replication_factor=1,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
    )
    state = LiveState(
        network or load_network(),
        grace=timedelta(hours=settings.live_grace_h),
        offline_after=timedelta(seconds=settings.kiosk_offline_after_s),
    )
    invalid = {"count": 0}
    source = app.topic(
        topics.events, topics.telemetry, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    live = app.topic(topics.live, key_type=bytes, value_type=bytes, value_serializer="raw")
    alerts_topic = app.topic(
        topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    publisher = LivePublisher()

    @app.agent(source)
    async def fold(stream: Any) -> None:
        async for values in stream.take(FOLD_BATCH, within=FOLD_WITHIN_S):
            for value in values:
                try:
                    state.apply(decode_event(value))
                except EventError:
                    invalid["count"] += 1

    @app.timer(PUBLISH_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def publish() -> None:
        tick = publisher.tick(state, datetime.now(UTC))
        for key, value in tick.alerts:
            await alerts_topic.send(key=key, value=value)
        for key, value in tick.views:
            await live.send(key=key, value=value)

    app.live_state = state  # type: ignore[attr-defined]  # for tests and introspection
    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in this process until interrupted (``sanjiang streams``)."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel="WARN")
    worker.execute_from_commandline()
