"""Writing events and rejections to Kafka through the project's producer settings.

Every event value is signed (see :mod:`sanjiang.kafka.signing`): callers hand in event models,
which the platform only builds validated, so the signature tells the warehouse sink it need not
validate them again. Dead letters are never signed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from sanjiang.events.codec import encode_event
from sanjiang.events.envelope import Event
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.deadletter import Rejection
from sanjiang.kafka.signing import EventSigner, signer_for
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings


class EventPublisher:
    """Publishes signed events keyed by station; ``publish`` returns once Kafka acknowledged
    (acks=all).

    Only validated events may be passed: the signature vouches for them. (``model_copy`` with
    ``update`` skips validation; the platform uses it only to stamp ``received_at``/``late``.)
    """

    def __init__(
        self, settings: Settings, topics: Topics | None = None, signer: EventSigner | None = None
    ) -> None:
        self.topics = topics or Topics.from_settings(settings)
        self._signer = signer or signer_for(settings)
        self._producer: AIOKafkaProducer = make_producer(settings)

    async def start(self) -> None:
        """Connect to the cluster (raises if it cannot be reached)."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush pending sends and disconnect."""
        await self._producer.stop()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def publish(self, event: Event) -> Any:
        """Send one event and wait for the acknowledgement; returns the record metadata."""
        value = encode_event(event)
        return await self._producer.send_and_wait(
            self.topics.for_event(event),
            value,
            key=event.key,
            headers=self._signer.headers(value),
        )

    async def publish_many(self, events: Iterable[Event]) -> int:
        """Send events pipelined (batched by the producer) and wait for every acknowledgement."""
        futures = []
        for event in events:
            value = encode_event(event)
            futures.append(
                await self._producer.send(
                    self.topics.for_event(event),
                    value,
                    key=event.key,
                    headers=self._signer.headers(value),
                )
            )
        for future in futures:
            await future
        return len(futures)

    async def dead_letter(self, raw: bytes, reason: str, detail: str, origin: str) -> Any:
        """Record a rejected event with why it was rejected (headers) and its original bytes."""
        headers = Rejection(reason, detail, origin, datetime.now(UTC)).headers()
        return await self._producer.send_and_wait(self.topics.deadletter, raw, headers=headers)
