"""Writing events and rejections to Kafka through the project's producer settings.

Every event value is signed (see :mod:`sanjiang.kafka.signing`): callers hand in event models,
which the platform only builds validated, so the signature tells the warehouse sink it need not
validate them again. Dead letters are never signed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from sanjiang.events.codec import encode_event
from sanjiang.events.envelope import Event
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.deadletter import Rejection, redact
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
        self,
        settings: Settings,
        topics: Topics | None = None,
        signer: EventSigner | None = None,
        **overrides: Any,
    ) -> None:
        """``overrides``: producer settings that differ from the project's (``make_producer``)."""
        self.topics = topics or Topics.from_settings(settings)
        self._signer = signer or signer_for(settings)
        self._producer: AIOKafkaProducer = make_producer(settings, **overrides)

    async def start(self) -> None:
        """Connect to the cluster (raises if it cannot be reached)."""
        await self._producer.start()

    async def ready(self) -> None:
        """Wait until the cluster describes the event topic (raises if it cannot: a missing
        topic is waited for up to the producer's request timeout)."""
        await self._producer.partitions_for(self.topics.events)

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
        """Send events pipelined (batched by the producer) and wait for every acknowledgement;
        raises the first error if any event was not acknowledged."""
        outcomes = await self.try_publish_many(events)
        for outcome in outcomes:
            if outcome is not None:
                raise outcome
        return len(outcomes)

    async def try_publish_many(self, events: Iterable[Event]) -> list[Exception | None]:
        """Send events pipelined and wait for them; each event's outcome, in order: None once
        Kafka acknowledged it, else the error (after a send that could not even be queued, the
        rest are not sent and carry that error)."""
        futures: list[asyncio.Future[Any]] = []
        outcomes: list[Exception | None] = []
        pending = list(events)
        for event in pending:
            value = encode_event(event)
            try:
                futures.append(
                    await self._producer.send(
                        self.topics.for_event(event),
                        value,
                        key=event.key,
                        headers=self._signer.headers(value),
                    )
                )
            except Exception as exc:
                outcomes = [exc] * (len(pending) - len(futures))
                break
        acknowledged: list[Exception | None] = []
        for future in futures:  # in order, as publish_many always awaited them
            try:
                await future
            except Exception as exc:
                acknowledged.append(exc)
            else:
                acknowledged.append(None)
        return acknowledged + outcomes

    async def dead_letter(self, raw: bytes, reason: str, detail: str, origin: str) -> None:
        """Record one rejected event: why (headers) and its redacted shape (value)."""
        await self.dead_letter_many([(raw, reason, detail)], origin)

    async def dead_letter_many(
        self, rejected: Sequence[tuple[bytes, str, str]], origin: str
    ) -> None:
        """Record rejected events (raw bytes, reason, detail), pipelined like ``publish_many``:
        each value is the body's redacted shape (``deadletter.redact``), never the body itself,
        so nothing a resident wrote is kept and no value can be too large for the broker."""
        now = datetime.now(UTC)
        futures = [
            await self._producer.send(
                self.topics.deadletter,
                redact(raw),
                headers=Rejection(reason, detail, origin, now).headers(),
            )
            for raw, reason, detail in rejected
        ]
        for future in futures:
            await future
