"""The event stream: build a run's world, then simulate it day by day and yield emissions.

Each local day: seed the day's exogenous decisions (staff designs, drop-in visits, booking
requests; on the first day also the activities published before the run), execute every
decision of the day in time order, add the kiosks' heartbeats, then yield the emissions due
before midnight. Nothing generated later can be due earlier (actions never emit in their
past), so the output is sorted by ``emit_at`` while memory holds only about a week ahead.

Randomness: one ``random.Random(seed)`` derives the streams of the run (population, behaviour,
emission details, event ids) and the outage schedule; the wall clock and the global RNG are
never used, so the same arguments give the same events, event ids included.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from producers.simulator import activities, bookings, visits
from producers.simulator.clock import OpeningBook, day_start
from producers.simulator.config import SimulationConfig
from producers.simulator.demands import DemandBoard
from producers.simulator.emitter import Emission, Emitter
from producers.simulator.heartbeats import KioskSetup, emit_heartbeats, fleet
from producers.simulator.kiosks import Outages, kiosks
from producers.simulator.population import build_population
from producers.simulator.reservations import VenueCalendar
from producers.simulator.rhythms import Timing
from producers.simulator.world import IdFactory, World, station_staff
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy

#: How long state is kept behind the current day (evaluations come up to 2 days late).
KEEP = timedelta(days=3)


def simulate(
    network: Network,
    taxonomy: Taxonomy,
    *,
    start: date,
    days: int,
    seed: int,
    pseudonymize: Callable[[str], str],
    config: SimulationConfig = SimulationConfig(),  # noqa: B008 - frozen, immutable default
) -> Iterator[Emission]:
    """Simulate the network for local dates ``start .. start + days - 1``.

    Yields emissions lazily, sorted by ``emit_at`` (ties in a fixed order). Events are those
    the kiosks and staff consoles would send; residents appear only as ``pseudonymize(raw_id)``.
    The same arguments always give the same emissions.
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    return _run(network, taxonomy, start, days, seed, pseudonymize, config)


def _build(
    network: Network,
    taxonomy: Taxonomy,
    start: date,
    days: int,
    seed: int,
    pseudonymize: Callable[[str], str],
    config: SimulationConfig,
) -> tuple[World, tuple[KioskSetup, ...]]:
    master = random.Random(seed)
    population_rng = random.Random(master.getrandbits(64))
    behaviour_rng = random.Random(master.getrandbits(64))
    emission_rng = random.Random(master.getrandbits(64))
    id_rng = random.Random(master.getrandbits(64))
    fleet_rng = random.Random(master.getrandbits(64))
    outage_tag = master.getrandbits(64)
    tag = f"{random.Random(f'{seed}:{start.isoformat()}').getrandbits(24):06x}"

    tz = network.tz
    book = OpeningBook(network)
    kiosk_list = kiosks(network)
    kiosks_at: dict[str, list[str]] = {}
    for kiosk_id, station_id in kiosk_list:
        kiosks_at.setdefault(station_id, []).append(kiosk_id)
    population = build_population(network, population_rng, config.active_share, pseudonymize)
    outages = Outages(
        book,
        dict(kiosk_list),
        tag=outage_tag,
        rate=config.outage_rate_per_kiosk_day,
        min_minutes=config.outage_min_minutes,
        max_minutes=config.outage_max_minutes,
    )
    emitter = Emitter(
        population=population,
        outages=outages,
        kiosks_at={s: tuple(k) for s, k in kiosks_at.items()},
        rng=emission_rng,
        id_rng=id_rng,
        duplicate_rate=config.duplicate_rate,
        run_end=day_start(start + timedelta(days=days), tz),
    )
    world = World(
        network=network,
        taxonomy=taxonomy,
        config=config,
        rng=behaviour_rng,
        book=book,
        timing=Timing(book),
        population=population,
        calendar=VenueCalendar(
            {
                venue.id: timedelta(minutes=venue.booking_rules.buffer_minutes)
                for venue in network.venues.values()
            }
        ),
        demands=DemandBoard(taxonomy, behaviour_rng),
        emitter=emitter,
        ids=IdFactory(tag),
        staff=station_staff(network),
        now=day_start(start, tz),
    )
    return world, fleet(kiosk_list, fleet_rng)


def _run(
    network: Network,
    taxonomy: Taxonomy,
    start: date,
    days: int,
    seed: int,
    pseudonymize: Callable[[str], str],
    config: SimulationConfig,
) -> Iterator[Emission]:
    world, kiosk_fleet = _build(network, taxonomy, start, days, seed, pseudonymize, config)
    tz = network.tz
    for offset in range(days):
        day = start + timedelta(days=offset)
        if offset == 0:
            activities.backfill(world, day)
        activities.seed_day(world, day)
        bookings.seed_day(world, day)
        visits.seed_day(world, day)
        midnight = day_start(day + timedelta(days=1), tz)
        world.run_until(midnight)
        # Heartbeats come last, to report what the day's outages queued; the day is not yet
        # released, so they may occur earlier than the current instant.
        world.emitter.now = day_start(day, tz)
        emit_heartbeats(world, kiosk_fleet, day)
        world.emitter.now = midnight
        yield from world.emitter.release(midnight)
        _forget(world, day)
    yield from world.emitter.flush()


def _forget(world: World, day: date) -> None:
    """Drop state no future decision can need (keeps long runs flat in memory)."""
    oldest = day - KEEP
    world.book.forget_before(oldest)
    world.timing.forget_before(oldest)
    world.emitter.outages.forget_before(oldest)
    world.calendar.forget_before(day_start(oldest, world.book.tz))
    world.demands.forget_before(day_start(day, world.book.tz))
