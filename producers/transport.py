"""How a kiosk's outbox reaches the platform: straight to Kafka, or through the HTTP ingest.

A transport takes a batch of encoded events and says, per event, whether the platform now has
it (``delivered``, including duplicates it already had) or refused it for good (``rejected``,
with the reason). Anything else — network down, broker down, 5xx, 429 — raises
:class:`RetryLater` and the events stay in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import httpx2

from sanjiang.events import EventError, decode_event
from sanjiang.events.codec import stamp_received
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.settings import Settings


class RetryLater(Exception):  # noqa: N818 - it is an instruction, not an error report
    """Delivery failed for now; try again after ``after_s`` seconds (or the backoff)."""

    def __init__(self, message: str, after_s: float | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s


@dataclass(frozen=True)
class Outcome:
    status: Literal["delivered", "rejected"]
    reason: str | None = None


class Transport(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, bodies: list[bytes]) -> list[Outcome]:
        """One outcome per body, in order; raises RetryLater when nothing was delivered."""
        ...


class KafkaTransport:
    """Writes to Kafka with the project's producer; the platform stamps ``received_at`` here."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._publisher: EventPublisher | None = None  # made in start(): it needs the loop
        self._late_after = timedelta(seconds=settings.late_after_s)

    async def start(self) -> None:
        publisher = EventPublisher(self._settings)
        try:
            await publisher.start()
        except Exception as exc:
            await publisher.stop()  # a producer that failed to start is not reused
            raise RetryLater(f"Kafka unreachable: {type(exc).__name__}: {exc}") from exc
        self._publisher = publisher

    async def stop(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None

    async def deliver(self, bodies: list[bytes]) -> list[Outcome]:
        now = datetime.now(UTC)
        outcomes: list[Outcome] = []
        events = []
        for body in bodies:
            try:
                events.append(stamp_received(decode_event(body), now, self._late_after))
                outcomes.append(Outcome("delivered"))
            except EventError as exc:
                outcomes.append(Outcome("rejected", f"{exc.reason}: {exc.detail}"))
        if self._publisher is None:
            raise RuntimeError("KafkaTransport.start() was not called")
        try:
            await self._publisher.publish_many(events)
        except Exception as exc:
            raise RetryLater(f"Kafka: {type(exc).__name__}: {exc}") from exc
        return outcomes


class HttpTransport:
    """POSTs batches as NDJSON to ``/v1/events`` with the kiosk's key."""

    def __init__(self, base_url: str, key: str, timeout_s: float = 30.0) -> None:
        self._url = base_url.rstrip("/") + "/v1/events"
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
        self._timeout = timeout_s
        self._client: httpx2.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx2.AsyncClient(timeout=self._timeout)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def deliver(self, bodies: list[bytes]) -> list[Outcome]:
        if self._client is None:
            raise RuntimeError("HttpTransport.start() was not called")
        try:
            response = await self._client.post(
                self._url, content=b"\n".join(bodies) + b"\n", headers=self._headers
            )
        except httpx2.HTTPError as exc:
            raise RetryLater(f"ingest unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (202, 400, 403) and "results" in response.text[:200]:
            results = response.json()["results"]
            return [
                Outcome("rejected", f"{r['reason']}: {r.get('detail', '')}")
                if r["status"] == "rejected"
                else Outcome("delivered")
                for r in results
            ]
        retry_after = response.headers.get("retry-after")
        after = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise RetryLater(f"ingest answered {response.status_code}: {response.text[:300]}", after)
