"""How far a consumer group is behind a topic: what it has not committed yet.

The warehouse sink commits only after its write (views included) is done, so its group's lag
reaching 0 means the warehouse holds every record published before the measure.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from sanjiang.kafka.client import admin_client, make_consumer
from sanjiang.kafka.topics import partition_counts
from sanjiang.settings import Settings


class LagProbe:
    """Measures groups' lag per partition with one consumer and one admin client, kept open
    between measures (``start`` once, ``stop`` at the end)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._partitions: dict[str, int] = {}

    async def start(self) -> None:
        consumer = make_consumer(self.settings, group_id=None)
        admin = admin_client(self.settings)
        await consumer.start()
        try:
            await admin.start()
        except BaseException:
            await consumer.stop()
            raise
        self._consumer, self._admin = consumer, admin

    async def stop(self) -> None:
        consumer, admin, self._consumer, self._admin = self._consumer, self._admin, None, None
        try:
            if consumer is not None:
                await consumer.stop()
        finally:
            if admin is not None:
                await admin.close()

    async def partitions(self, topic: str) -> int:
        """The topic's partitions (0 if it does not exist), remembered once known."""
        if not self._partitions.get(topic):
            self._partitions[topic] = (await partition_counts(self.settings, [topic]))[topic]
        return self._partitions[topic]

    async def lag(self, group_id: str, topics: list[str]) -> dict[tuple[str, int], int]:
        """Records of each partition of ``topics`` the group has not committed (a partition
        it never committed counts from 0); topics that do not exist are left out."""
        if self._consumer is None or self._admin is None:
            raise RuntimeError("LagProbe.start() first")
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in range(await self.partitions(topic))
        ]
        if not partitions:
            return {}
        ends = await self._consumer.end_offsets(partitions)
        try:
            committed = await self._admin.list_consumer_group_offsets(
                group_id, partitions=partitions
            )
        except KafkaError:  # the group has no coordinator yet: nothing committed
            committed = {}
        done = {tp: meta.offset for tp, meta in committed.items() if meta is not None}
        return {
            (tp.topic, tp.partition): max(0, int(end) - max(0, int(done.get(tp, 0))))
            for tp, end in ends.items()
        }


async def group_lag(settings: Settings, group_id: str, topic: str) -> int | None:
    """Records of ``topic`` the group has not committed; None if the topic does not exist."""
    probe = LagProbe(settings)
    if await probe.partitions(topic) == 0:
        return None
    await probe.start()
    try:
        return sum((await probe.lag(group_id, [topic])).values())
    finally:
        await probe.stop()
