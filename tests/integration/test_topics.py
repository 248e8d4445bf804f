"""`topics ensure` on the real broker: partitions, retention, idempotence."""

from __future__ import annotations

import asyncio

import pytest

from sanjiang.kafka.client import admin_client
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings

pytestmark = pytest.mark.integration


def test_topics_are_created_once_with_the_spec(kafka_settings: Settings) -> None:
    topics = Topics("ensure-test", event_partitions=4)

    async def scenario() -> tuple[object, object, list[dict[str, object]], object]:
        first = await ensure_topics(kafka_settings, topics)
        second = await ensure_topics(kafka_settings, topics)
        admin = admin_client(kafka_settings)
        await admin.start()
        try:
            described = await admin.describe_topics([topics.events, topics.deadletter])
            from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

            configs = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topics.events)]
            )
        finally:
            await admin.close()
        return first, second, described, configs

    first, second, described, configs = asyncio.run(scenario())
    assert sorted(first.created) == sorted(s.name for s in topics.specs())  # type: ignore[attr-defined]
    assert second.created == [] and len(second.existing) == len(topics.specs())  # type: ignore[attr-defined]
    partitions = {d["topic"]: len(d["partitions"]) for d in described}  # type: ignore[arg-type]
    assert partitions == {topics.events: 4, topics.deadletter: 1}
    entries = {
        name: value
        for response in configs  # type: ignore[attr-defined]
        for resource in response.resources
        for name, value, *_ in resource[4]
    }
    assert entries["retention.ms"] == "-1"
    assert entries["retention.bytes"] == "-1"
