"""Live simulation: the simulator's events released on the wall clock through kiosk SDKs.

Every device (kiosk or staff console) of the simulated network gets its own outbox and
deliverer, exactly like a real one; events go through the HTTP ingest (with a device key
registered for the run) or straight to Kafka. The run starts at today's midnight: what the
network did earlier today is released at once (the platform sees it as buffered, late
uploads), then events follow the clock. ``speed`` > 1 compresses time after the start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from api.keys import DeviceKind, KeyStore
from api.services import key_store_path
from producers.delivery import Deliverer
from producers.outbox import Outbox
from producers.simulator import Emission, SimulationConfig, simulate
from producers.transport import HttpTransport, KafkaTransport, Transport
from sanjiang.events import Event
from sanjiang.network import Network
from sanjiang.pseudonym import Pseudonymizer
from sanjiang.settings import Settings
from sanjiang.taxonomy import Taxonomy

log = logging.getLogger(__name__)
Via = Literal["http", "kafka"]


@dataclass
class _Device:
    outbox: Outbox
    deliverer: Deliverer
    task: asyncio.Task[None]


class LiveRun:
    """Feeds simulated emissions to per-device outboxes as the (warped) clock reaches them."""

    def __init__(
        self,
        settings: Settings,
        network: Network,
        taxonomy: Taxonomy,
        pseudonymize: Pseudonymizer,
        *,
        seed: int,
        speed: float = 1.0,
        via: Via = "http",
        api_url: str | None = None,
        report: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.network = network
        self.taxonomy = taxonomy
        self.pseudonymize = pseudonymize
        self.seed = seed
        self.speed = speed
        self.via = via
        self.api_url = api_url or f"http://{settings.api_host}:{settings.api_port}"
        self.report = report
        self.folder = outbox_folder(settings)
        self._devices: dict[str, _Device] = {}
        self._stop = asyncio.Event()
        self.released = 0

    def _transport(self, source: str, station_id: str) -> Transport:
        if self.via == "kafka":
            return KafkaTransport(self.settings)
        kind_text, _, device_id = source.partition(":")
        kind: DeviceKind = "console" if kind_text == "console" else "kiosk"
        store = KeyStore(key_store_path(self.settings))
        try:
            store.revoke(device_id, kind)  # a fresh key per run; the simulator keeps none
            key = store.add(device_id, station_id, kind)
        finally:
            store.close()
        return HttpTransport(self.api_url, key)

    def _device(self, event: Event) -> _Device:
        device_key = f"{event.source}@{event.station_id}"
        device = self._devices.get(device_key)
        if device is None:
            name = device_key.replace(":", "_").replace("@", "_")
            outbox = Outbox(self.folder / f"{name}.db")
            deliverer = Deliverer(outbox, self._transport(event.source, event.station_id))
            task = asyncio.create_task(deliverer.run(self._stop))
            device = self._devices[device_key] = _Device(outbox, deliverer, task)
        return device

    def warp(self, emission: Emission, t0: datetime) -> tuple[datetime, Event]:
        """When to release an emission, and the event as the device records it then."""
        if emission.emit_at <= t0 or self.speed == 1.0:
            return emission.emit_at, emission.event
        release = t0 + (emission.emit_at - t0) / self.speed
        occurred = emission.event.occurred_at
        if occurred > t0:
            occurred = t0 + (occurred - t0) / self.speed
        return release, emission.event.model_copy(update={"occurred_at": occurred})

    async def run(self, days: int = 3650) -> None:
        """Run until cancelled (or ``days`` of simulated time are through)."""
        t0 = datetime.now(UTC)
        today = t0.astimezone(self.network.tz).date()
        self.report(
            f"simulating the network live from {today} (seed {self.seed}, speed {self.speed:g}x, "
            f"via {self.via}); today's events so far are released at once"
        )
        last_report = time.monotonic()
        emissions = simulate(
            self.network,
            self.taxonomy,
            start=today,
            days=days,
            seed=self.seed,
            pseudonymize=self.pseudonymize,
            config=SimulationConfig(),
        )
        try:
            for emission in emissions:
                release, event = self.warp(emission, t0)
                wait = (release - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._device(event).outbox.put(event)
                self.released += 1
                if time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    pending = sum(d.outbox.counts().pending for d in self._devices.values())
                    self.report(
                        f"released {self.released:,} events from {len(self._devices)} devices; "
                        f"{pending:,} waiting in outboxes"
                    )
                elif wait <= 0 and self.released % 2000 == 0:
                    await asyncio.sleep(0)  # let deliverers run during the catch-up burst
        finally:
            self._stop.set()
            await asyncio.gather(*(d.task for d in self._devices.values()), return_exceptions=True)
            for device in self._devices.values():
                device.outbox.close()


def outbox_folder(settings: Settings) -> Path:
    """Where the simulated devices keep their outboxes."""
    return settings.var_dir / "simulator"
