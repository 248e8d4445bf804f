"""Turning payloads into emitted events: ids, sources, upload delays, outages and duplicates.

- Event ids are UUIDv7 built from the occurrence time and a seeded RNG, so runs repeat exactly.
- Staff consoles (``console:<staff>``) hand events over when they occur.
- Kiosks (``kiosk:<kiosk>``) upload 50 ms .. 1.5 s after the fact; during an outage events
  stay in the outbox and are uploaded on reconnection, in occurred order, at the outage end
  plus 1 ms per second of outage elapsed (the whole outbox drains within seconds).
- ``duplicate_rate`` of kiosk emissions is sent again, identical, 2 s .. 4 min later
  (log-uniform): the at-least-once delivery that consumers must absorb.
- Events occurring after the end of the run are dropped (after drawing the same random numbers,
  so a longer run extends a shorter one with the same seed).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from producers.simulator.clock import unix_ms
from producers.simulator.kiosks import Outages
from producers.simulator.population import Population, Resident
from sanjiang.events import Event, new_event
from sanjiang.events.payloads import Payload
from sanjiang.ids import uuid7_from_rng

UPLOAD_DELAY_MS = (50, 1500)
DUPLICATE_DELAY_S = (2.0, 240.0)
DRAIN_MS_PER_OUTAGE_SECOND = 1
#: The kiosk's first heartbeat after an outage goes out before the outbox drains.
DRAIN_AFTER = timedelta(seconds=2)


@dataclass(frozen=True)
class Emission:
    """One hand-over of an event to the platform.

    ``emit_at`` (tz-aware, never before ``event.occurred_at``) is when the kiosk or console sends
    it; ``event`` is as built by the device: ``received_at`` unset, ``late`` false.
    """

    emit_at: datetime
    event: Event


class Emitter:
    """Builds events and queues their emissions; releases them in ``emit_at`` order."""

    def __init__(
        self,
        *,
        population: Population,
        outages: Outages,
        kiosks_at: dict[str, tuple[str, ...]],
        rng: random.Random,
        id_rng: random.Random,
        duplicate_rate: float,
        run_end: datetime,
    ) -> None:
        self.population = population
        self.outages = outages
        self.kiosks_at = kiosks_at
        self.rng = rng
        self.id_rng = id_rng
        self.duplicate_rate = duplicate_rate
        self.run_end = run_end
        self._heap: list[tuple[datetime, int, Emission]] = []
        self._seq = 0
        #: The simulation's current instant: nothing may occur before it (set by the world).
        self.now: datetime | None = None

    def _check(self, at: datetime) -> None:
        if self.now is not None and at < self.now:
            raise RuntimeError(f"an event occurring at {at} was generated later, at {self.now}")

    def _push(self, emit_at: datetime, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (emit_at, self._seq, Emission(emit_at, event)))

    def _build(
        self,
        payload: Payload,
        station_id: str,
        source: str,
        at: datetime,
        resident: Resident | None,
        id_bits: int,
    ) -> Event:
        return new_event(
            payload,
            station_id=station_id,
            source=source,
            occurred_at=at,
            resident=self.population.pseudonym(resident) if resident is not None else None,
            event_id=uuid7_from_rng(unix_ms(at), id_bits),
        )

    def console(self, payload: Payload, *, station_id: str, staff_id: str, at: datetime) -> None:
        """A staff member's action in the console, sent at once."""
        self._check(at)
        id_bits = self.id_rng.getrandbits(74)
        if at >= self.run_end:
            return
        self._push(at, self._build(payload, station_id, f"console:{staff_id}", at, None, id_bits))

    def kiosk(
        self,
        payload: Payload,
        *,
        station_id: str,
        at: datetime,
        resident: Resident | None = None,
        kiosk_id: str | None = None,
    ) -> None:
        """An event captured by a kiosk of the station (a random one unless ``kiosk_id``)."""
        self._check(at)
        rng = self.rng
        if kiosk_id is None:
            kiosk_id = rng.choice(self.kiosks_at[station_id])
        id_bits = self.id_rng.getrandbits(74)
        delay_ms = rng.randint(*UPLOAD_DELAY_MS)
        duplicated = rng.random() < self.duplicate_rate
        lo, hi = DUPLICATE_DELAY_S
        duplicate_delay = timedelta(seconds=math.exp(rng.uniform(math.log(lo), math.log(hi))))
        if at >= self.run_end:
            return
        outage = self.outages.covering(kiosk_id, at)
        if outage is None:
            emit_at = at + timedelta(milliseconds=delay_ms)
        else:
            elapsed_s = (at - outage.start).total_seconds()
            drain = timedelta(milliseconds=elapsed_s * DRAIN_MS_PER_OUTAGE_SECOND)
            emit_at = outage.end + DRAIN_AFTER + drain
            key = (kiosk_id, at.date())
            self.outages.queued[key] = self.outages.queued.get(key, 0) + 1
        event = self._build(payload, station_id, f"kiosk:{kiosk_id}", at, resident, id_bits)
        self._push(emit_at, event)
        if duplicated:
            self._push(emit_at + duplicate_delay, event)

    def release(self, until: datetime) -> Iterator[Emission]:
        """Emissions due before ``until``, in order (ties: creation order)."""
        heap = self._heap
        while heap and heap[0][0] < until:
            yield heapq.heappop(heap)[2]

    def flush(self) -> Iterator[Emission]:
        """Everything still queued, in order."""
        heap = self._heap
        while heap:
            yield heapq.heappop(heap)[2]
