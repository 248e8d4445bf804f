"""The API's side of the command path: send a command to its station's decider and wait for
the answer on the replies topic.

Every API process reads the whole replies topic from where it was when the process started
(the topic holds answers for every API process; each keeps its own). A command waits for its
answer for ``command_timeout_s``; one that times out is still decided (it is in the log), and
asking again with the same ``command_id`` returns the decision made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sanjiang.commands.model import Command
from sanjiang.kafka.client import make_consumer, make_producer
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings

log = logging.getLogger("sanjiang.api.commands")


class DecisionPendingError(Exception):
    """No answer within the time allowed (the command is in the log and will be decided)."""


class CommandBus:
    """Send commands, await their answers."""

    def __init__(self, settings: Settings) -> None:
        self.topics = Topics.from_settings(settings)
        self.timeout_s = settings.command_timeout_s
        self._settings = settings
        self._producer: AIOKafkaProducer = make_producer(settings, linger_ms=0)
        self._consumer: AIOKafkaConsumer | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect, and be at the end of the replies topic before any command is sent."""
        await self._producer.start()
        consumer = make_consumer(self._settings, group_id=None, fetch_max_wait_ms=20)
        await consumer.start()
        partitions = consumer.partitions_for_topic(self.topics.replies) or {0}
        assigned = [TopicPartition(self.topics.replies, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the position now: answers from here on are read
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read_replies(consumer))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        await self._producer.stop()

    async def ask(self, command: Command) -> dict[str, Any]:
        """The decider's answer to ``command`` (``DecisionPendingError`` after the timeout)."""
        command_id = str(command.command_id)
        future = self._waiting.get(command_id)
        if future is None:
            future = self._waiting[command_id] = asyncio.get_running_loop().create_future()
        try:
            await self._producer.send_and_wait(
                self.topics.commands, command.model_dump_json().encode(), key=command.key
            )
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            raise DecisionPendingError(command_id) from None
        finally:
            self._waiting.pop(command_id, None)

    async def _read_replies(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    if record.key is None:
                        continue
                    future = self._waiting.pop(record.key.decode(), None)
                    if future is not None and not future.done():
                        future.set_result(orjson.loads(record.value))
