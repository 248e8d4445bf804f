"""The Faust worker: folds the event and telemetry topics into a ``LiveState``
(``streams.worker``) and publishes the live views to the ``<prefix>.live`` topic ten times a
second (only views that changed); alerts open and close on the same timer (so silence is noticed
without an event) and go to ``<prefix>.alerts`` and to the ``alerts`` view. The open alerts are
checkpointed with the state: a restarted worker keeps their start, and ends those that no
longer hold.

Recovery: every ``live_checkpoint_s`` the state and the source offsets it reflects are
checkpointed to the compacted ``<prefix>.streams-changelog`` topic (``streams.checkpoint``). A
crashed or restarted worker loads the latest checkpoint and reads on from its offsets, so it
ends with exactly the numbers of a from-scratch replay, having re-read only what came after the
checkpoint. Views are published only once the checkpoint is restored.

Rejected events are counted per day and reason by a Faust agent over ``<prefix>.deadletter``
into a Faust table with a changelog (``streams.rejections``), shown in the ``pipeline`` view.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust

from sanjiang import metrics
from sanjiang.kafka.deadletter import Rejection
from sanjiang.kafka.faustapp import faust_app
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.network import Network, load_network
from sanjiang.settings import Settings
from sanjiang.taxonomy import load_taxonomy
from streams.publish import LivePublisher
from streams.rejections import counted, rejection_day
from streams.state import LiveState
from streams.worker import LiveWorker

log = logging.getLogger(__name__)
#: How often views are published. An event waits for the next tick: up to this long (event to
#: SSE p99 <= 250 ms needs it well under that). A tick costs ~2-3 ms at a day of state (only
#: views that can have changed are rendered): ten a second is ~3% of a core.
PUBLISH_INTERVAL_S = 0.1


def streams_datadir(settings: Settings) -> Path:
    """The worker's Faust data directory: under the var folder, one for every start (the app
    id changes per start, the folder does not)."""
    return settings.var_dir / "streams"


def create_app(settings: Settings, network: Network | None = None) -> faust.App:
    """A Faust app for this deployment; nothing connects until the worker starts."""
    topics = Topics.from_settings(settings)
    app = faust_app(settings, "streams", streams_datadir(settings))
    network = network or load_network(settings.network_file)
    live = app.topic(topics.live, key_type=bytes, value_type=bytes, value_serializer="raw")
    alerts_topic = app.topic(
        topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw"
    )
    taxonomy = load_taxonomy()
    publisher = LivePublisher(category_names={c.id: c.name for c in taxonomy.categories})
    worker = LiveWorker(
        settings,
        lambda: LiveState(
            network,
            grace=timedelta(hours=settings.live_grace_h),
            days_kept=settings.live_days_kept,
            offline_after=timedelta(seconds=settings.kiosk_offline_after_s),
        ),
        extra=lambda: {"alerts": publisher.tracker.documents()},
        on_restore=lambda extra: publisher.tracker.restore(extra.get("alerts", [])),
    )
    rejections = app.Table("rejections", partitions=1, key_type=str)  # JSON values
    deadletter = app.topic(
        topics.deadletter, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    @app.agent(deadletter)
    async def count_rejections(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            rejection = Rejection.from_headers(message.headers)
            day = rejection_day(rejection, message.timestamp, network.tz).isoformat()
            updated = counted(rejections.get(day), rejection.reason, message.offset)
            if updated is not None:
                rejections[day] = updated

    def worker_status() -> dict[str, Any]:
        today = datetime.now(network.tz).date().isoformat()
        counts = rejections.get(today) or {}
        return {
            **worker.status.document(),
            "ids_kept": len(worker.state.seen),  # for dedup; pruned as days close
            "rejected_today": counts.get("count", 0),
            "rejected_by_reason": counts.get("by_reason", {}),
        }

    @app.task  # type: ignore[untyped-decorator]
    async def fold() -> None:
        await worker.run()

    @app.timer(PUBLISH_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def publish() -> None:
        if not worker.ready.is_set():
            return  # not before the checkpoint is restored: it would publish empty views
        tick = publisher.tick(worker.state, datetime.now(UTC), worker_status())
        for key, value in tick.alerts:
            await alerts_topic.send(key=key, value=value)
        for key, value in tick.views:
            await live.send(key=key, value=value)

    @app.timer(settings.live_checkpoint_s)  # type: ignore[untyped-decorator]
    async def checkpoint() -> None:
        await worker.checkpoint()

    metrics.LAG.watch("streams", worker.partition_lag)
    app.live_worker = worker  # type: ignore[attr-defined]  # for tests and introspection
    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in this process until interrupted (``sanjiang streams``)."""
    asyncio.run(ensure_topics(settings))  # before Faust subscribes to them
    app = create_app(settings)
    metrics.expose("streams")
    metrics.serve("streams", settings.metrics_host, settings.streams_metrics_port)
    worker = faust.Worker(app, loglevel=settings.faust_log_level)
    worker.execute_from_commandline()
