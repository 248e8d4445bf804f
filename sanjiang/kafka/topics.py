"""Topic layout: names, partitions and retention, and ``ensure_topics`` to create them.

- ``<prefix>.events``: every domain event of both loops, keyed by station id so each station's
  events stay in order; retained forever (the log is the truth projections are rebuilt from).
- ``<prefix>.telemetry``: kiosk heartbeats; high volume, operational only, kept 7 days.
- ``<prefix>.deadletter``: rejected events with the reason in headers and the redacted shape of
  the body (``sanjiang.kafka.deadletter``); kept ``SANJIANG_DEADLETTER_RETENTION_DAYS`` (30),
  long enough to diagnose, no longer than that (PIPL's shortest retention).
- ``<prefix>.alerts``: alerts raised by the stream processor.
- ``<prefix>.live``: the stream processor's current views, compacted (latest per view).
- ``<prefix>.commands``: what people ask the deciders, keyed by station like the events (and
  with as many partitions, so a station's commands and facts meet in one decider); 7 days.
- ``<prefix>.replies``: the deciders' answers, keyed by command id, read by every API process
  (each waits for its own); kept one hour.
- ``<prefix>.streams-changelog``: the stream processor's state checkpoints (``streams.checkpoint``),
  compacted; segments roll hourly or at 64 MiB so superseded checkpoints are cleaned up soon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sanjiang.events.envelope import Event
from sanjiang.settings import Settings

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

FOREVER = "-1"
DAY_MS = 24 * 3600 * 1000
SEVEN_DAYS_MS = str(7 * DAY_MS)
#: settings ``ensure_topics`` brings existing topics to when they differ (never partitions)
RECONCILED = ("retention.ms",)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """Topic names for one deployment (the prefix lets tests and tenants share a cluster)."""

    prefix: str
    event_partitions: int = 6
    deadletter_retention_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            settings.topic_prefix, settings.event_partitions, settings.deadletter_retention_days
        )

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def telemetry(self) -> str:
        return f"{self.prefix}.telemetry"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def live(self) -> str:
        """Snapshots of the live views, keyed by view name (compacted: the latest per view)."""
        return f"{self.prefix}.live"

    @property
    def commands(self) -> str:
        """Commands to the deciders, keyed by station (partitioned as the events are)."""
        return f"{self.prefix}.commands"

    @property
    def replies(self) -> str:
        """The deciders' answers, keyed by command id."""
        return f"{self.prefix}.replies"

    @property
    def streams_changelog(self) -> str:
        """Checkpoints of the stream worker's state (compacted: the latest per key)."""
        return f"{self.prefix}.streams-changelog"

    def for_event(self, event: Event) -> str:
        """The topic an event is written to."""
        return self.telemetry if event.type == "kiosk.heartbeat" else self.events

    def specs(self) -> list[TopicSpec]:
        keep_forever = {
            "retention.ms": FOREVER,
            "retention.bytes": FOREVER,
            "cleanup.policy": "delete",
        }
        return [
            TopicSpec(
                self.events, self.event_partitions, {**keep_forever, "min.insync.replicas": "1"}
            ),
            TopicSpec(self.telemetry, self.event_partitions, {"retention.ms": SEVEN_DAYS_MS}),
            TopicSpec(
                self.deadletter,
                1,
                {
                    "retention.ms": str(self.deadletter_retention_days * DAY_MS),
                    "cleanup.policy": "delete",
                },
            ),
            TopicSpec(
                self.commands,
                self.event_partitions,
                {"retention.ms": SEVEN_DAYS_MS, "min.insync.replicas": "1"},
            ),
            TopicSpec(self.replies, 1, {"retention.ms": str(3600 * 1000)}),
            TopicSpec(self.alerts, 1, {"retention.ms": str(90 * 24 * 3600 * 1000)}),
            TopicSpec(
                self.live, 1, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
            ),
            TopicSpec(
                self.streams_changelog,
                1,
                {
                    "cleanup.policy": "compact",
                    "segment.ms": str(3600 * 1000),
                    "segment.bytes": str(64 * 1024 * 1024),
                },
            ),
        ]


@dataclass(frozen=True)
class EnsureResult:
    created: list[str]
    existing: list[str]
    warnings: list[str]
    changed: list[str] = field(default_factory=list)  #: settings brought to the spec


async def ensure_topics(settings: Settings, topics: Topics | None = None) -> EnsureResult:
    """Create the missing topics (idempotent); report existing ones that differ from the spec."""
    from aiokafka.admin import NewTopic

    from sanjiang.kafka.client import admin_client

    topics = topics or Topics.from_settings(settings)
    admin = admin_client(settings)
    await admin.start()
    try:
        present = set(await admin.list_topics())
        specs = topics.specs()
        missing = [s for s in specs if s.name not in present]
        if missing:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in missing]
            )
        warnings: list[str] = []
        existing = [s for s in specs if s.name in present]
        if existing:
            partitions = await _partitions(admin, [s.name for s in existing])
            for spec in existing:
                if partitions.get(spec.name, 0) < spec.partitions:
                    warnings.append(
                        f"{spec.name} has {partitions.get(spec.name)} partitions, spec says "
                        f"{spec.partitions} (adding partitions would move station keys; left alone)"
                    )
            changed = await _reconcile_configs(admin, existing)
        else:
            changed = []
        return EnsureResult(
            [s.name for s in missing], [s.name for s in existing], warnings, changed
        )
    finally:
        await admin.close()


async def partition_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    """The number of partitions of each named topic (0 for a topic that does not exist)."""
    from sanjiang.kafka.client import admin_client

    admin = admin_client(settings)
    await admin.start()
    try:
        present = set(await admin.list_topics())
        counts = await _partitions(admin, [name for name in names if name in present])
        return {name: counts.get(name, 0) for name in names}
    finally:
        await admin.close()


async def _partitions(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partitions of each of these existing topics."""
    described = await admin.describe_topics(names) if names else []
    return {d["topic"]: len(d["partitions"]) for d in described}


async def _reconcile_configs(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """Bring the ``RECONCILED`` settings of existing topics to the spec (a changed retention
    applies to the topics already there); returns what was changed."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    resources = [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in specs]
    current: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            current[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
    changed: list[str] = []
    for spec in specs:
        present = current.get(spec.name)
        if not present:  # not described yet (just created): it was created with the spec
            continue
        differ = {
            key: spec.config[key]
            for key in RECONCILED
            if key in spec.config and present.get(key) != spec.config[key]
        }
        if not differ:
            continue
        # AlterConfigs replaces a topic's whole set of settings: send every setting of the spec
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=dict(spec.config))]
        )
        changed.append(f"{spec.name}: set {', '.join(f'{k}={v}' for k, v in differ.items())}")
    return changed
