"""Live simulation: the simulated network on the wall clock, through the platform's doors.

What the simulated people decide (staff design, publish, approve; residents register, book,
submit and vote) is asked for as commands (``asks``), sent through ``POST /v1/commands``
with real staff accounts and kiosk keys (``front_door``), and the platform's deciders decide.
What kiosks record (check-ins, evaluations, heartbeats) goes as events: every kiosk gets its
own outbox and deliverer, exactly like a real one, through the HTTP ingest (with a device key
registered for the run) or straight to Kafka (``--via kafka``: commands then go to the
command topic).

The simulated world continues the first run's history (``history``: same seed, from its first
day), so the activities and demands of the history are the ones residents register for and
vote on; it is simulated up to now and released from there — or from the end of the history,
if it was published just before — then events follow the clock. ``speed`` > 1 compresses time
after the start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from api.keys import DeviceKind, KeyStore
from api.services import key_store_path
from producers.asks import Asks
from producers.delivery import Deliverer
from producers.front_door import CommandTopic, FrontDoor
from producers.history import loaded
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
#: a history published this recently is continued from its end (a first run), not from now
CONTINUE_WITHIN = timedelta(hours=1)


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
        self.asked = 0
        self.front: FrontDoor | CommandTopic | None = None

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

    def _world_start(self, now: datetime) -> tuple[date, datetime]:
        """The first day of the simulated world and the moment from which it is released."""
        today = now.astimezone(self.network.tz).date()
        history = loaded(self.settings)
        if history is None or history.seed != self.seed:
            return today, now
        published = datetime.fromisoformat(history.published_at)
        resume = published if now - published < CONTINUE_WITHIN else now
        return date.fromisoformat(history.first_day), resume

    async def run(self, days: int = 3650) -> None:
        """Run until cancelled (or ``days`` of simulated time are through)."""
        t0 = datetime.now(UTC)
        first, resume = self._world_start(t0)
        self.report(
            f"simulating the network live from {first} (seed {self.seed}, speed {self.speed:g}x, "
            f"via {self.via}); the simulated world is caught up to "
            f"{resume.astimezone(self.network.tz):%Y-%m-%d %H:%M:%S} first"
        )
        self.front = (
            FrontDoor(self.settings, self.api_url)
            if self.via == "http"
            else (CommandTopic(self.settings))
        )
        asks = Asks()
        last_report = time.monotonic()
        emissions = simulate(
            self.network,
            self.taxonomy,
            start=first,
            days=days,
            seed=self.seed,
            pseudonymize=self.pseudonymize,
            config=SimulationConfig(),
        )
        caught_up = False
        try:
            for emission in emissions:
                asked = asks.of(emission.event)  # drafts and demands are remembered throughout
                answers = asks.due(emission.emit_at)
                if emission.emit_at <= resume:
                    continue  # the history's, or a time the platform was not fed
                if not caught_up:
                    caught_up = True
                    self.report(f"caught up in {time.monotonic() - last_report:.0f} s; live now")
                release, event = self.warp(emission, t0)
                wait = (release - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
                if asked is None:
                    self._device(event).outbox.put(event)
                    self.released += 1
                for ask in [*answers, *(asked or [])]:
                    self.front.ask(ask)
                    self.asked += 1
                if time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    self.report(self.progress())
                elif wait <= 0 and (self.released + self.asked) % 2000 == 0:
                    await asyncio.sleep(0)  # let deliverers run during the catch-up burst
        finally:
            self._stop.set()
            await asyncio.gather(*(d.task for d in self._devices.values()), return_exceptions=True)
            for device in self._devices.values():
                device.outbox.close()
            await self.front.close()

    def progress(self) -> str:
        """One line on what was sent and how the platform answered."""
        pending = sum(d.outbox.counts().pending for d in self._devices.values())
        line = (
            f"released {self.released:,} events from {len(self._devices)} devices "
            f"({pending:,} waiting in outboxes)"
        )
        if self.front is not None:
            answers = self.front.answers
            accepted = answers.get("accepted", 0) + answers.get("sent", 0)
            refused = ", ".join(
                f"{reason} {n:,}"
                for reason, n in answers.most_common()
                if reason not in ("accepted", "sent")
            )
            line += (
                f"; {self.asked:,} commands asked, {accepted:,} accepted"
                f"{f' (refused: {refused})' if refused else ''}, {self.front.pending():,} queued"
            )
        return line


def outbox_folder(settings: Settings) -> Path:
    """Where the simulated devices keep their outboxes."""
    return settings.var_dir / "simulator"
