"""Moves events from the outbox to the platform: batches, retries with backoff, never drops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass

from producers.outbox import Outbox
from producers.transport import RetryLater, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped."""

    initial_s: float = 0.5
    maximum_s: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.maximum_s, self.initial_s * 2 ** min(failures, 16)))


class Deliverer:
    """Delivers an outbox through a transport; an event leaves ``pending`` only when settled."""

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        *,
        batch_size: int = 500,
        backoff: Backoff | None = None,
        idle_s: float = 0.2,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.idle_s = idle_s
        self._rng = random.Random()
        self._started = False

    async def deliver_once(self) -> int:
        """Deliver one batch; returns how many events were settled (0 if none pending)."""
        batch = self.outbox.pending(self.batch_size)
        if not batch:
            return 0
        if not self._started:
            await self.transport.start()
            self._started = True
        try:
            outcomes = await self.transport.deliver([item.body for item in batch])
        except RetryLater as exc:
            self.outbox.record_failure([item.seq for item in batch], str(exc))
            raise
        delivered = [
            item.seq for item, o in zip(batch, outcomes, strict=True) if o.status == "delivered"
        ]
        self.outbox.mark_delivered(delivered)
        for item, outcome in zip(batch, outcomes, strict=True):
            if outcome.status == "rejected":
                log.warning("event %s rejected: %s", item.event_id, outcome.reason)
                self.outbox.mark_rejected(item.seq, outcome.reason or "rejected")
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, backing off while the platform is unreachable."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    settled = await self.deliver_once()
                    failures = 0
                except RetryLater as exc:
                    failures += 1
                    wait = exc.after_s or self.backoff.delay(failures, self._rng)
                    log.info("delivery failed (%s); retrying in %.1fs", exc, wait)
                    await _sleep_or_stop(stop, wait)
                    continue
                if settled < self.batch_size:
                    await _sleep_or_stop(stop, self.idle_s)
        finally:
            await self.close()

    async def drain(self, timeout_s: float) -> bool:
        """Deliver until the outbox has nothing pending; False if time ran out."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while loop.time() < deadline:
                if self.outbox.counts().pending == 0:
                    return True
                await asyncio.sleep(0.05)
            return self.outbox.counts().pending == 0
        finally:
            stop.set()
            await task

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self.transport.stop()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
