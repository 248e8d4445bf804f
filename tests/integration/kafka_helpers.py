"""Helpers for tests against the real broker: drain a topic into records."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition

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
    from sanjiang.kafka.lag import group_lag

    return await group_lag(settings, group_id, topic) == 0


async def read_to_end(settings: Settings, topic: str, partitions: int) -> list[Any]:
    """Every record of ``topic`` now (no group), in each partition's order."""
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, n) for n in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
