"""The API's copy of the live views: it reads the compacted ``<prefix>.live`` topic (written by
the stream worker) from the start, keeps the latest document per view, and numbers every
change so server-sent-event clients can resume after ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from sanjiang.kafka.client import make_consumer
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from sanjiang.supervisor import STATUS_FILE

HISTORY = 5000  #: changes kept for clients that reconnect


class LiveViews:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = Topics.from_settings(settings).live
        self.views: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.history: deque[tuple[int, str, bytes]] = deque(maxlen=HISTORY)
        self._changed = asyncio.Condition()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the live topic until ``stop`` is set."""
        consumer = make_consumer(self.settings, group_id=None)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic) or {0}
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                records = [r for rs in batch.values() for r in rs]
                if records:
                    await self._update(records)
        finally:
            await consumer.stop()

    async def _update(self, records: list[Any]) -> None:
        await self._put([(record.key.decode(), record.value) for record in records])

    async def _put(self, changes: list[tuple[str, bytes]]) -> None:
        async with self._changed:
            for name, body in changes:
                self.views[name] = orjson.loads(body)
                self.seq += 1
                self.history.append((self.seq, name, body))
            self._changed.notify_all()

    async def follow_processes(
        self, logs_dir: Path, stop: asyncio.Event, every_s: float = 1.0
    ) -> None:
        """Publish the supervisor's ``processes.json`` (``sanjiang up``) as the ``processes``
        view whenever it changes: which process runs, restarts, or was given up on."""
        seen: bytes | None = None
        path = logs_dir / STATUS_FILE
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                body = path.read_bytes()
                if body != seen:
                    seen = body
                    with contextlib.suppress(orjson.JSONDecodeError):
                        document = {"view": "processes", **orjson.loads(body)}
                        await self._put([("processes", orjson.dumps(document))])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    async def changes_after(self, seq: int, timeout_s: float) -> list[tuple[int, str, bytes]]:
        """Changes numbered after ``seq`` (waiting up to ``timeout_s`` for one); if ``seq`` is
        older than the history kept, the current value of every view instead."""
        async with self._changed:
            if self.seq <= seq:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self.seq > seq), timeout_s
                    )
            if self.history and self.history[0][0] > seq + 1:
                return [(self.seq, name, orjson.dumps(doc)) for name, doc in self.views.items()]
            return [item for item in self.history if item[0] > seq]


async def read_live_topic(settings: Settings, timeout_s: float = 10.0) -> dict[str, dict[str, Any]]:
    """The latest document of every live view, read once from the start of the topic."""
    topic = Topics.from_settings(settings).live
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    views: dict[str, dict[str, Any]] = {}
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            positions = [await consumer.position(p) for p in partitions]
            if all(pos >= ends[p] for pos, p in zip(positions, partitions, strict=True)):
                break
            if asyncio.get_running_loop().time() > deadline:
                break
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    views[record.key.decode()] = orjson.loads(record.value)
    finally:
        await consumer.stop()
    return views
