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


def test_a_changed_dead_letter_retention_reaches_the_existing_topic(
    kafka_settings: Settings,
) -> None:
    """Dead letters are kept SANJIANG_DEADLETTER_RETENTION_DAYS; changing it changes the topic
    that exists (and nothing else of it)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async def retention(topics: Topics) -> dict[str, str]:
        """The topic's settings, once the broker describes them (a new topic's take a moment)."""
        admin = admin_client(kafka_settings)
        await admin.start()
        try:
            for _ in range(300):
                configs = await admin.describe_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, topics.deadletter)]
                )
                entries = {
                    name: value
                    for response in configs
                    for resource in response.resources
                    for name, value, *_ in resource[4]
                }
                if entries:
                    return entries
                await asyncio.sleep(0.1)
        finally:
            await admin.close()
        raise AssertionError(f"{topics.deadletter} was never described")

    thirty = Topics("retention-test", 1, deadletter_retention_days=30)
    first = asyncio.run(ensure_topics(kafka_settings, thirty))
    assert thirty.deadletter in first.created and first.changed == []
    assert asyncio.run(retention(thirty))["retention.ms"] == str(30 * 24 * 3600 * 1000)
    seven = Topics("retention-test", 1, deadletter_retention_days=7)
    second = asyncio.run(ensure_topics(kafka_settings, seven))
    assert second.changed == [f"{seven.deadletter}: set retention.ms={7 * 24 * 3600 * 1000}"]
    after = asyncio.run(retention(seven))
    assert after["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert after["cleanup.policy"] == "delete"
    assert asyncio.run(ensure_topics(kafka_settings, seven)).changed == []
