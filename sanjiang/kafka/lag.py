"""How far a consumer group is behind a topic: what it has not committed yet.

The warehouse sink commits only after its write (views included) is done, so its group's lag
reaching 0 means the warehouse holds every record published before the measure.
"""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from sanjiang.kafka.client import admin_client, make_consumer
from sanjiang.kafka.topics import partition_counts
from sanjiang.settings import Settings


async def group_lag(settings: Settings, group_id: str, topic: str) -> int | None:
    """Records of ``topic`` the group has not committed; None if the topic does not exist."""
    count = (await partition_counts(settings, [topic]))[topic]
    if count == 0:
        return None
    partitions = [TopicPartition(topic, p) for p in range(count)]
    consumer = make_consumer(settings, group_id=None)
    admin = admin_client(settings)
    await consumer.start()
    await admin.start()
    try:
        ends = await consumer.end_offsets(partitions)
        try:
            committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
        except KafkaError:  # the group has no coordinator yet: nothing committed
            committed = {}
        done = {tp: meta.offset for tp, meta in committed.items() if meta is not None}
        return sum(max(0, int(end) - max(0, int(done.get(tp, 0)))) for tp, end in ends.items())
    finally:
        await consumer.stop()
        await admin.close()
