"""The simulated residents: who uses the stations, their age bands, focus groups and haunts.

Figures (sample assumptions, not from the source article):

- Active users: ``active_share`` (default 7%) of each residential station's population, about
  7,100 of Wusong's 101,500 residents. Raw ids look like ``WS-R03-000123`` (station + a number
  within its population) and only ever leave the simulator through ``pseudonymize``.
- Groups among active users (community stations skew old): elderly 45% (age bands 60-69 50%,
  70-79 35%, 80+ 15%), children under 14 13%, teens 14-17 4%, young talent 18-34 13%,
  new-employment workers (delivery riders, couriers) 5% (18-34 65%, 35-59 35%), other adults
  35-59 20%.
- Each child has a guardian among the adults (75%) or the 60-69 elderly (25%) of its area.
- Propensity to come varies a lot between residents (log-normal, sigma 0.6): a core of
  regulars and a long tail of occasional visitors.
- Where they go, by group (own residential station / its grid station / the center / a partner
  site serving the area): elderly 55/20/15/10, children 45/20/20/15, teens 30/25/30/15,
  youth 20/20/40/20, new-employment 35/35/20/10, adults 40/20/25/15 (%). Without a partner
  site nearby its share is dropped.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal, TypeVar

from sanjiang.events.types import MINOR_AGE_BANDS, AgeBand
from sanjiang.network import Network

Group = Literal["elderly", "children", "teens", "youth", "new_employment", "adults"]
GROUPS: tuple[Group, ...] = ("elderly", "children", "teens", "youth", "new_employment", "adults")

#: group -> share of active users, and the age bands within the group.
GROUP_SHARES: dict[Group, float] = {
    "elderly": 0.45,
    "children": 0.13,
    "teens": 0.04,
    "youth": 0.13,
    "new_employment": 0.05,
    "adults": 0.20,
}
GROUP_BANDS: dict[Group, tuple[tuple[AgeBand, float], ...]] = {
    "elderly": (("60-69", 0.50), ("70-79", 0.35), ("80+", 0.15)),
    "children": (("0-13", 1.0),),
    "teens": (("14-17", 1.0),),
    "youth": (("18-34", 1.0),),
    "new_employment": (("18-34", 0.65), ("35-59", 0.35)),
    "adults": (("35-59", 1.0),),
}
#: group -> weights of (home, grid, center, partner) stations.
HAUNTS: dict[Group, tuple[float, float, float, float]] = {
    "elderly": (0.55, 0.20, 0.15, 0.10),
    "children": (0.45, 0.20, 0.20, 0.15),
    "teens": (0.30, 0.25, 0.30, 0.15),
    "youth": (0.20, 0.20, 0.40, 0.20),
    "new_employment": (0.35, 0.35, 0.20, 0.10),
    "adults": (0.40, 0.20, 0.25, 0.15),
}
PROPENSITY_SIGMA = 0.6
GRANDPARENT_GUARDIAN_SHARE = 0.25

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resident:
    """One simulated resident (raw id never leaves the simulator un-pseudonymized)."""

    raw_id: str
    home: str
    group: Group
    age_band: AgeBand
    propensity: float
    guardian: str | None = None

    @property
    def minor(self) -> bool:
        """Under 18 (age band 0-13 or 14-17)."""
        return self.age_band in MINOR_AGE_BANDS


class _Pool:
    """Residents with cumulative weights, for weighted picks by bisection."""

    def __init__(self, members: Sequence[tuple[Resident, float]]) -> None:
        self.residents = tuple(r for r, _ in members)
        self.cum = tuple(accumulate(w for _, w in members))

    def pick(self, rng: random.Random) -> Resident | None:
        """A resident drawn by weight (None if the pool is empty)."""
        if not self.cum:
            return None
        return self.residents[bisect_right(self.cum, rng.random() * self.cum[-1])]


class Population:
    """The active residents, the stations each of them uses, and weighted pools to draw from."""

    def __init__(
        self,
        network: Network,
        residents: Sequence[Resident],
        pseudonymize: Callable[[str], str],
    ) -> None:
        self.residents = tuple(residents)
        self.by_id = {r.raw_id: r for r in self.residents}
        self._pseudonymize = pseudonymize
        self._pseudonyms: dict[str, str] = {}
        self.haunts: dict[str, tuple[tuple[str, float], ...]] = {}
        grid_of = {
            r: g.id
            for g in network.stations
            if g.kind == "grid"
            for r in network.served_residential(g.id)
        }
        partners_of: dict[str, list[str]] = {}
        for station in network.stations:
            if station.kind == "partner":
                for r in network.served_residential(station.id):
                    partners_of.setdefault(r, []).append(station.id)
        center = next(s.id for s in network.stations if s.kind == "center")
        station_members: dict[tuple[str, Group | None], list[tuple[Resident, float]]] = {}
        group_members: dict[Group, list[tuple[Resident, float]]] = {g: [] for g in GROUPS}
        for resident in self.residents:
            home_w, grid_w, center_w, partner_w = HAUNTS[resident.group]
            partners = partners_of.get(resident.home, [])
            haunts = [(resident.home, home_w), (grid_of[resident.home], grid_w), (center, center_w)]
            haunts += [(p, partner_w / len(partners)) for p in partners]
            total = sum(w for _, w in haunts)
            self.haunts[resident.raw_id] = tuple((s, w / total) for s, w in haunts)
            group_members[resident.group].append((resident, resident.propensity))
            for station_id, share in haunts:
                member = (resident, resident.propensity * share)
                station_members.setdefault((station_id, resident.group), []).append(member)
                station_members.setdefault((station_id, None), []).append(member)
        self._station_pools = {k: _Pool(v) for k, v in station_members.items()}
        self._group_pools = {g: _Pool(v) for g, v in group_members.items()}
        self.group_sizes = {g: len(v) for g, v in group_members.items()}

    def pick(self, rng: random.Random, station_id: str, group: Group | None) -> Resident | None:
        """A resident who uses ``station_id`` (of ``group`` if given), weighted by propensity."""
        pool = self._station_pools.get((station_id, group))
        return pool.pick(rng) if pool is not None else None

    def pick_in_group(self, rng: random.Random, group: Group) -> Resident | None:
        """Any active resident of ``group``, weighted by propensity."""
        return self._group_pools[group].pick(rng)

    def pseudonym(self, resident: Resident) -> str:
        """The resident's pseudonym (computed once per resident)."""
        found = self._pseudonyms.get(resident.raw_id)
        if found is None:
            found = self._pseudonymize(resident.raw_id)
            self._pseudonyms[resident.raw_id] = found
        return found


def _choose(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    values = [v for v, _ in options]
    return rng.choices(values, weights=[w for _, w in options])[0]


def build_population(
    network: Network,
    rng: random.Random,
    active_share: float,
    pseudonymize: Callable[[str], str],
) -> Population:
    """Draw the active residents of every residential station."""
    residents: list[Resident] = []
    groups = list(GROUP_SHARES.items())
    for station in network.stations:
        if station.kind != "residential" or station.population is None:
            continue
        count = round(station.population * active_share)
        numbers = sorted(rng.sample(range(1, station.population + 1), count))
        drawn: list[tuple[str, Group, AgeBand, float]] = []
        for number in numbers:
            group = _choose(rng, groups)
            band = _choose(rng, GROUP_BANDS[group])
            propensity = math.exp(rng.gauss(0.0, PROPENSITY_SIGMA))
            drawn.append((f"{station.id}-{number:06d}", group, band, propensity))
        adults = [d[0] for d in drawn if d[1] == "adults"]
        grandparents = [d[0] for d in drawn if d[2] == "60-69"]
        for raw_id, group, band, propensity in drawn:
            guardian = None
            if group == "children":
                prefer_grand = rng.random() < GRANDPARENT_GUARDIAN_SHARE
                choices = (grandparents or adults) if prefer_grand else (adults or grandparents)
                guardian = rng.choice(choices) if choices else None
            residents.append(Resident(raw_id, station.id, group, band, propensity, guardian))
    return Population(network, residents, pseudonymize)
