"""Kiosk heartbeats: every ``heartbeat_interval_s`` (5 min) while the kiosk's station is open.

Each kiosk boots 5-15 min before its station's first opening of the day (``uptime_s`` counts
from then) and beats at a fixed second offset of its own. Heartbeats stop during an outage
(they are not sent late); on reconnection, if the station is open, the kiosk beats at once,
reporting in ``outbox_pending`` the events it is about to upload. 80% of kiosks run app
version 2.4.1, the others 2.3.7.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from producers.simulator.clock import minutes
from producers.simulator.world import World
from sanjiang.events.payloads import KioskHeartbeat

APP_VERSIONS = (("2.4.1", 0.8), ("2.3.7", 0.2))


@dataclass(frozen=True, slots=True)
class KioskSetup:
    """A kiosk as deployed: where, which app version, and the second it beats at."""

    kiosk_id: str
    station_id: str
    app_version: str
    offset: timedelta


def fleet(kiosk_list: list[tuple[str, str]], rng: random.Random) -> tuple[KioskSetup, ...]:
    """Deploy the kiosks: an app version and a beat offset (0-59 s) for each."""
    versions = [v for v, _ in APP_VERSIONS]
    weights = [w for _, w in APP_VERSIONS]
    return tuple(
        KioskSetup(
            kiosk_id,
            station_id,
            rng.choices(versions, weights=weights)[0],
            timedelta(seconds=rng.randrange(60)),
        )
        for kiosk_id, station_id in kiosk_list
    )


def emit_heartbeats(world: World, kiosks: tuple[KioskSetup, ...], day: date) -> None:
    """Every kiosk's heartbeats of ``day`` (call once the day's events are all generated)."""
    interval = timedelta(seconds=world.config.heartbeat_interval_s)
    outages = world.emitter.outages
    for kiosk in kiosks:
        windows = world.book.station_windows(kiosk.station_id, day)
        if not windows:
            continue
        boot = windows[0][0] - minutes(world.rng, 5, 15)
        outage = outages.on(kiosk.kiosk_id, day)
        beats: list[tuple[datetime, int]] = []
        for lo, hi in windows:
            at = lo + kiosk.offset
            while at < hi:
                if outage is None or not outage.start <= at <= outage.end:
                    beats.append((at, 0))
                at += interval
        if outage is not None and world.book.station_open_at(kiosk.station_id, outage.end):
            pending = outages.queued.get((kiosk.kiosk_id, day), 0)
            beats.append((outage.end, pending))
            beats.sort()
        for at, pending in beats:
            payload = KioskHeartbeat(
                kiosk_id=kiosk.kiosk_id,
                app_version=kiosk.app_version,
                outbox_pending=pending,
                uptime_s=int((at - boot).total_seconds()),
            )
            world.emitter.kiosk(
                payload, station_id=kiosk.station_id, at=at, kiosk_id=kiosk.kiosk_id
            )
