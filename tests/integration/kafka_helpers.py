"""Helpers for tests against the real broker: drain a topic into records."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sanjiang.kafka.client import make_consumer
from sanjiang.settings import Settings


async def consume(
    settings: Settings, topic: str, group_id: str, expected: int, timeout_s: float = 30.0
) -> list[Any]:
    """Read records from the start of ``topic`` until ``expected`` arrived (or time out)."""
    consumer = make_consumer(settings, topic, group_id=group_id)
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
        await consumer.commit()
    finally:
        await consumer.stop()
    return records


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def group_caught_up(settings: Settings, group_id: str, topic: str) -> bool:
    """Whether ``group_id`` has committed every record of ``topic`` (a sink commits only after
    its write, views included, is done)."""
    from aiokafka import TopicPartition
    from aiokafka.errors import KafkaError

    from sanjiang.kafka.client import admin_client
    from sanjiang.kafka.topics import partition_counts

    consumer = make_consumer(settings, group_id=None)
    admin = admin_client(settings)
    await consumer.start()
    await admin.start()
    try:
        count = (await partition_counts(settings, [topic]))[topic]
        partitions = [TopicPartition(topic, p) for p in range(count)]
        if not partitions:
            return False
        ends = await consumer.end_offsets(partitions)
        try:
            committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
        except KafkaError:  # the group has no coordinator yet: nothing committed
            return False
        done = {tp: meta.offset for tp, meta in committed.items() if meta is not None}
        return all(end == 0 or done.get(tp, -1) >= end for tp, end in ends.items())
    finally:
        await consumer.stop()
        await admin.close()
