"""Resident demands (需求采集): submissions and votes at station kiosks.

Figures:

- A drop-in visitor submits a demand with probability ``demand_submit_rate`` (9%) and votes on
  one with ``demand_vote_rate`` (22%); activity attendees do so at a fifth of those rates.
- Family mix follows the survey: each submission's (and each vote's) family is drawn in
  proportion to the families' ``survey_share`` (normalized: 文体 0.352, 场地预约 0.336,
  生活 0.312). A Weyl (golden-ratio) sequence is used instead of independent draws so that even
  a few days of demand show the survey's ordering, as the survey itself is a stable fact.
- Within a family the category follows the resident's group (the elderly ask for health
  consultation and fitness, children for science and handcraft, young talent for talent and
  employment services, …).
- Votes go to open demands (last 30 days) of that family at the same station, preferring
  demands that already have votes; failing that to any station's (information is shared over
  the network); failing that the voter submits a demand of that family instead.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import accumulate
from typing import TYPE_CHECKING

from producers.simulator.population import Group, Resident
from sanjiang.events.payloads import DemandSubmitted, DemandVoted
from sanjiang.taxonomy import Taxonomy

if TYPE_CHECKING:
    from producers.simulator.world import World

OPEN_FOR = timedelta(days=30)
INTEREST_DAYS = 14
NETWORK_SCAN = 300
GOLDEN = (math.sqrt(5) - 1) / 2

#: group -> category -> relative weight within its family (default 1.0).
CATEGORY_PREFS: dict[Group, dict[str, float]] = {
    "elderly": {
        "fitness_wellness": 2.0,
        "calligraphy_painting": 1.8,
        "handcraft": 1.2,
        "online_culture": 0.8,
        "science_practice": 0.3,
        "health_consult": 2.5,
        "elderly_legal_help": 2.0,
        "talent_employment": 0.1,
    },
    "children": {
        "science_practice": 3.0,
        "handcraft": 2.0,
        "calligraphy_painting": 1.5,
        "exhibition": 0.6,
        "online_culture": 0.4,
        "health_consult": 0.5,
        "elderly_legal_help": 0.1,
        "talent_employment": 0.1,
    },
    "teens": {
        "science_practice": 2.5,
        "fitness_wellness": 1.5,
        "online_culture": 1.5,
        "cooking_home": 0.6,
        "health_consult": 0.3,
        "elderly_legal_help": 0.1,
        "talent_employment": 0.8,
    },
    "youth": {
        "fitness_wellness": 2.0,
        "online_culture": 1.5,
        "exhibition": 1.2,
        "handcraft": 0.8,
        "talent_employment": 3.0,
        "cooking_home": 1.5,
        "health_consult": 0.6,
        "elderly_legal_help": 0.3,
    },
    "new_employment": {
        "fitness_wellness": 1.2,
        "talent_employment": 2.5,
        "health_consult": 2.0,
        "cooking_home": 1.5,
        "elderly_legal_help": 1.5,
    },
    "adults": {
        "cooking_home": 2.0,
        "health_consult": 1.5,
        "fitness_wellness": 1.5,
    },
}

SUMMARIES: dict[str, tuple[str, ...]] = {
    "handcraft": ("希望多开手工课", "想学剪纸和中国结"),
    "exhibition": ("希望办居民作品展", "想看社区老照片展"),
    "fitness_wellness": ("希望增加太极和八段锦", "晚上想有健身课"),
    "science_practice": ("希望给孩子开科普课", "想带孩子做科学实验"),
    "calligraphy_painting": ("想学书法", "希望开国画班"),
    "online_culture": ("想学用智能手机", "希望有线上读书会"),
    "venue_booking": ("希望活动室周末可预约", "想预约场地排练合唱", "希望延长场地开放时间"),
    "cooking_home": ("想学家常菜", "希望有家政服务培训"),
    "health_consult": ("希望定期量血压", "想听慢病管理讲座"),
    "elderly_legal_help": ("希望有法律咨询", "需要助老服务"),
    "talent_employment": ("希望有求职辅导", "骑手想了解劳动权益"),
}


class FamilySampler:
    """Survey families in proportion to their shares, as a low-discrepancy sequence."""

    def __init__(self, taxonomy: Taxonomy, rng: random.Random) -> None:
        total = sum(f.survey_share for f in taxonomy.families)
        self.families = tuple(f.id for f in taxonomy.families)
        self.cum = tuple(accumulate(f.survey_share / total for f in taxonomy.families))
        self._phase = rng.random()
        self._n = 0

    def next(self) -> str:
        """The next family id."""
        self._n += 1
        u = (self._phase + self._n * GOLDEN) % 1.0
        return self.families[min(bisect_right(self.cum, u), len(self.families) - 1)]


@dataclass(slots=True)
class Demand:
    """A submitted demand, who voted for it, and whether an activity answers it yet."""

    demand_id: str
    station_id: str
    category: str
    family: str
    submitted_at: datetime
    author: str
    voters: set[str] = field(default_factory=set)
    linked: bool = False


class DemandBoard:
    """Open demands per station and family, and recent interest per station and category."""

    def __init__(self, taxonomy: Taxonomy, rng: random.Random) -> None:
        self.taxonomy = taxonomy
        self.submit_mix = FamilySampler(taxonomy, rng)
        self.vote_mix = FamilySampler(taxonomy, rng)
        self.categories_of: dict[str, tuple[str, ...]] = {
            f.id: tuple(c.id for c in taxonomy.categories if c.family == f.id)
            for f in taxonomy.families
        }
        self._at_station: dict[tuple[str, str], list[Demand]] = {}
        self._in_family: dict[str, list[Demand]] = {}
        self._daily: dict[date, Counter[tuple[str, str]]] = {}

    def add(self, demand: Demand) -> None:
        """Put a new demand on the board."""
        self._at_station.setdefault((demand.station_id, demand.family), []).append(demand)
        self._in_family.setdefault(demand.family, []).append(demand)
        self.note_interest(demand.station_id, demand.category, demand.submitted_at.date())

    def note_interest(self, station_id: str, category: str, day: date) -> None:
        """Count a demand event (submission or vote) for the station's recent interest."""
        self._daily.setdefault(day, Counter())[(station_id, category)] += 1

    def interest(self, station_id: str, day: date) -> Counter[str]:
        """Demand events per category at the station over the last 14 days."""
        result: Counter[str] = Counter()
        for offset in range(INTEREST_DAYS):
            counts = self._daily.get(day - timedelta(days=offset))
            if counts:
                for (station, category), n in counts.items():
                    if station == station_id:
                        result[category] += n
        return result

    def votable(self, station_id: str, family: str, voter: str, at: datetime) -> list[Demand]:
        """Open demands a resident may vote on: here first, else anywhere in the network."""

        def fits(d: Demand) -> bool:
            return d.submitted_at < at and d.author != voter and voter not in d.voters

        local = [d for d in self._at_station.get((station_id, family), ()) if fits(d)]
        if local:
            return local
        return [d for d in self._in_family.get(family, [])[-NETWORK_SCAN:] if fits(d)]

    def open_for_category(self, station_id: str, category: str, at: datetime) -> list[Demand]:
        """Demands of a category at the station not yet answered by an activity."""
        family = self.taxonomy.category_by_id[category].family
        return [
            d
            for d in self._at_station.get((station_id, family), ())
            if d.category == category and not d.linked and d.submitted_at < at
        ]

    def category_for(self, rng: random.Random, family: str, group: Group) -> str:
        """A category of ``family`` as a resident of ``group`` would ask for."""
        options = self.categories_of[family]
        prefs = CATEGORY_PREFS[group]
        return rng.choices(options, weights=[prefs.get(c, 1.0) for c in options])[0]

    def forget_before(self, moment: datetime) -> None:
        """Close demands older than 30 days and drop old interest counts."""
        cutoff = moment - OPEN_FOR
        for key, demands in self._at_station.items():
            self._at_station[key] = [d for d in demands if d.submitted_at >= cutoff]
        for family, demands in self._in_family.items():
            self._in_family[family] = [d for d in demands if d.submitted_at >= cutoff]
        for day in [d for d in self._daily if d < moment.date() - timedelta(days=INTEREST_DAYS)]:
            del self._daily[day]


def demand_at_kiosk(
    world: World, resident: Resident, station_id: str, at: datetime, *, vote: bool
) -> None:
    """Schedule a resident's demand submission (or vote) at a station kiosk at ``at``."""
    world.at(at, partial(_act, world, resident, station_id, at, vote))


def _act(world: World, resident: Resident, station_id: str, at: datetime, vote: bool) -> None:
    board, rng = world.demands, world.rng
    if vote:
        family = board.vote_mix.next()
        candidates = board.votable(station_id, family, resident.raw_id, at)
        if candidates:
            weights = [1.0 + len(d.voters) for d in candidates]
            demand = rng.choices(candidates, weights=weights)[0]
            demand.voters.add(resident.raw_id)
            board.note_interest(station_id, demand.category, at.date())
            payload = DemandVoted(
                demand_id=demand.demand_id,
                category=demand.category,
                age_band=resident.age_band,
                minor=resident.minor,
            )
            world.emitter.kiosk(payload, station_id=station_id, at=at, resident=resident)
            return
    else:
        family = board.submit_mix.next()
    category = board.category_for(rng, family, resident.group)
    demand = Demand(world.ids.next("DEM"), station_id, category, family, at, resident.raw_id)
    board.add(demand)
    summary = rng.choice(SUMMARIES.get(category, ("希望增加相关服务",)))
    submitted = DemandSubmitted(
        demand_id=demand.demand_id,
        category=category,
        summary=summary,
        age_band=resident.age_band,
        minor=resident.minor,
    )
    world.emitter.kiosk(submitted, station_id=station_id, at=at, resident=resident)
