"""A first run's history: weeks of the simulated network published to the event topic, so a
new deployment's screens, dashboards and week comparisons have something to compare with.

It runs up to the moment it is published, and its decisions are the deciders' (``decided``:
made in process, at the times the simulated people asked), so the live deciders rebuild their
states from it and the live simulator continues the same world from there.

The events go where kiosks' events go — the event topic — with the times the simulated devices
handed them over (``received_at``), so the warehouse sink writes them and the stream worker folds
them into the days they belong to, as if the platform had been running. It happens once: a
marker (``<var_dir>/history.json``) says it was done, and a deployment whose event topic already
holds events (real ones) gets none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from producers.decided import Decided
from producers.simulator import simulate
from sanjiang.commands.context import Reference
from sanjiang.events import Event
from sanjiang.events.codec import stamp_received
from sanjiang.kafka.client import make_consumer
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics
from sanjiang.network import Network
from sanjiang.settings import Settings
from sanjiang.taxonomy import Taxonomy

BATCH = 5_000


@dataclass(frozen=True)
class History:
    """What the marker records."""

    first_day: str
    last_day: str
    seed: int
    events: int
    published_at: str
    #: the deciders' answers to the history's commands: ``accepted`` or the reason refused
    decisions: dict[str, int] = field(default_factory=dict)


def marker_path(settings: Settings) -> Path:
    return settings.var_dir / "history.json"


def loaded(settings: Settings) -> History | None:
    """The history a previous run published, if any."""
    try:
        return History(**orjson.loads(marker_path(settings).read_bytes()))
    except (FileNotFoundError, orjson.JSONDecodeError, TypeError):
        return None


async def topic_is_empty(settings: Settings) -> bool:
    """Whether the event topic holds no record at all (a deployment never fed)."""
    topic = Topics.from_settings(settings).events
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            partitions = [TopicPartition(topic, p) for p in range(settings.event_partitions)]
        ends = await consumer.end_offsets(partitions)
        return sum(int(end) for end in ends.values()) == 0
    finally:
        await consumer.stop()


async def publish_history(
    settings: Settings,
    network: Network,
    taxonomy: Taxonomy,
    pseudonymize: Callable[[str], str],
    *,
    days: int,
    seed: int,
    progress: Callable[[date], None] = lambda _: None,
    now: datetime | None = None,
) -> History:
    """Simulate the ``days`` local days before today and today up to now, decide its
    decisions, and publish the events as the devices handed them over (``progress`` gets each
    day as it is reached); writes the marker."""
    now = now or datetime.now(UTC)
    today = now.astimezone(network.tz).date()
    first = today - timedelta(days=days)
    late_after = timedelta(seconds=settings.late_after_s)
    count = 0
    batch: list[Event] = []
    reached = first
    async with EventPublisher(settings) as publisher:
        decided = Decided(
            simulate(
                network, taxonomy, start=first, days=days + 1, seed=seed, pseudonymize=pseudonymize
            ),
            Reference(network, taxonomy),
        )
        for emission in decided:
            if emission.emit_at > now:
                break  # handed over later than now: the live feed's, not history
            batch.append(stamp_received(emission.event, emission.emit_at, late_after))
            day = emission.emit_at.astimezone(network.tz).date()
            if day > reached:
                progress(day)
                reached = day
            if len(batch) >= BATCH:
                count += await publisher.publish_many(batch)
                batch.clear()
        if batch:
            count += await publisher.publish_many(batch)
    history = History(
        first_day=first.isoformat(),
        last_day=today.isoformat(),
        seed=seed,
        events=count,
        published_at=now.isoformat(timespec="seconds"),
        decisions=dict(decided.answers),
    )
    marker_path(settings).parent.mkdir(parents=True, exist_ok=True)
    marker_path(settings).write_bytes(orjson.dumps(asdict(history)))
    return history
