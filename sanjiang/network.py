"""The station network (1+4+28+X): stations, the residents they serve, their venues and hours.

Loaded from ``sanjiang/data/network.yaml`` and validated on load; pure data and lookups.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from sanjiang.events.types import Capacity, Ident

StationKind = Literal["center", "grid", "residential", "partner"]
VenueKind = Literal["space", "room", "hall", "kitchen", "gym", "studio", "outdoor"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: The shape of the network named by the article: 1 center, 4 grid and 28 residential stations.
EXPECTED_COUNTS: dict[StationKind, int] = {"center": 1, "grid": 4, "residential": 28}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpeningInterval(_Frozen):
    """One opening interval of a day, local time, ``start < end``."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> OpeningInterval:
        """Parse ``"08:30-20:30"``."""
        try:
            start, end = text.split("-")
            return cls(start=time.fromisoformat(start), end=time.fromisoformat(end))
        except ValueError as exc:
            raise ValueError(f"opening interval {text!r}: expected HH:MM-HH:MM ({exc})") from None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"{self.start}-{self.end}: end must be after start")
        return self

    @property
    def hours(self) -> float:
        """Length in hours."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (end - start) / 60


class BookingRules(_Frozen):
    """How a venue may be booked (reference data; the defaults suit a community room)."""

    #: a request waits for a manager's approval; otherwise it is confirmed at once
    approval_required: StrictBool = True
    min_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 30
    max_minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 240
    #: how far ahead a booking may start
    max_days_ahead: Annotated[int, Field(ge=0, le=365)] = 30
    #: the gap kept free between two uses of the venue (cleaning, setting up)
    buffer_minutes: Annotated[int, Field(ge=0, le=240)] = 15

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes must be at least min_minutes")
        return self


class Venue(_Frozen):
    """A room or space that activities use and residents may book."""

    id: Ident
    name: Annotated[str, Field(min_length=1, max_length=60)]
    kind: VenueKind
    capacity: Capacity
    bookable: StrictBool
    opening_hours: dict[Weekday, tuple[OpeningInterval, ...]]
    booking_rules: BookingRules = BookingRules()

    @field_validator("opening_hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        parsed: dict[str, list[object]] = {}
        for day, intervals in value.items():
            if not isinstance(intervals, list):
                raise ValueError(f"{day}: expected a list of HH:MM-HH:MM")
            parsed[day] = [OpeningInterval.parse(i) if isinstance(i, str) else i for i in intervals]
        return parsed

    @model_validator(mode="after")
    def _hours_ordered(self) -> Self:
        for day, intervals in self.opening_hours.items():
            for before, after in pairwise(intervals):
                if after.start < before.end:
                    raise ValueError(f"{self.id} {day}: opening intervals overlap or are unsorted")
        return self

    def intervals_on(self, day: date) -> tuple[OpeningInterval, ...]:
        """Opening intervals on a local calendar date."""
        return self.opening_hours.get(WEEKDAYS[day.weekday()], ())

    @property
    def weekly_hours(self) -> float:
        """Opening hours in a week."""
        return sum(i.hours for day in self.opening_hours.values() for i in day)


class Station(_Frozen):
    """A service station. Residential stations have a population; others serve stations."""

    id: Ident
    kind: StationKind
    name: Annotated[str, Field(min_length=1, max_length=60)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    population: Annotated[int, Field(gt=0)] | None = None
    serves: Literal["all"] | tuple[Ident, ...] | None = None
    venues: Annotated[tuple[Venue, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _population_or_serves(self) -> Self:
        if self.kind == "residential":
            if self.population is None or self.serves is not None:
                raise ValueError(f"{self.id}: a residential station has a population, not serves")
        elif self.population is not None or self.serves is None:
            raise ValueError(
                f"{self.id}: a {self.kind} station lists what it serves, no population"
            )
        for venue in self.venues:
            if not venue.id.startswith(self.id + "-"):
                raise ValueError(f"venue {venue.id} must be prefixed by its station id {self.id}-")
        return self


class Subdistrict(_Frozen):
    id: Ident
    name: str
    district: str
    city: str
    area_km2: Annotated[float, Field(gt=0)]
    residents: Annotated[int, Field(gt=0)]
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value


class Network(_Frozen):
    """The whole network, validated: shape 1+4+28+X, unique ids, consistent populations."""

    sample_data: StrictBool
    subdistrict: Subdistrict
    stations: tuple[Station, ...]

    @model_validator(mode="after")
    def _invariants(self) -> Self:
        ids = [s.id for s in self.stations]
        if len(set(ids)) != len(ids):
            raise ValueError("station ids must be unique")
        venue_ids = [v.id for s in self.stations for v in s.venues]
        if len(set(venue_ids)) != len(venue_ids):
            raise ValueError("venue ids must be unique across the network")
        for kind, expected in EXPECTED_COUNTS.items():
            found = sum(1 for s in self.stations if s.kind == kind)
            if found != expected:
                raise ValueError(f"expected {expected} {kind} station(s), found {found}")
        residential = {s.id for s in self.stations if s.kind == "residential"}
        for station in self.stations:
            if isinstance(station.serves, tuple):
                unknown = set(station.serves) - residential
                if unknown or not station.serves:
                    raise ValueError(f"{station.id} serves unknown residential stations {unknown}")
        grids = [s for s in self.stations if s.kind == "grid"]
        covered = [r for g in grids for r in (g.serves if isinstance(g.serves, tuple) else ())]
        if sorted(covered) != sorted(residential):
            raise ValueError("the grid stations must partition the residential stations")
        total = sum(s.population or 0 for s in self.stations)
        if total != self.subdistrict.residents:
            raise ValueError(
                f"residential populations sum to {total}, "
                f"subdistrict has {self.subdistrict.residents}"
            )
        return self

    @cached_property
    def by_id(self) -> dict[str, Station]:
        return {s.id: s for s in self.stations}

    @cached_property
    def venues(self) -> dict[str, Venue]:
        """Venue id -> venue."""
        return {v.id: v for s in self.stations for v in s.venues}

    @cached_property
    def venue_station(self) -> dict[str, str]:
        """Venue id -> the id of the station it belongs to."""
        return {v.id: s.id for s in self.stations for v in s.venues}

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.subdistrict.timezone)

    def station(self, station_id: str) -> Station:
        try:
            return self.by_id[station_id]
        except KeyError:
            raise KeyError(f"unknown station {station_id!r}") from None

    def served_residential(self, station_id: str) -> tuple[str, ...]:
        """Ids of the residential stations whose residents a station serves."""
        station = self.station(station_id)
        if station.kind == "residential":
            return (station.id,)
        if station.serves == "all":
            return tuple(s.id for s in self.stations if s.kind == "residential")
        return tuple(station.serves or ())

    def population(self, station_id: str | None = None) -> int:
        """Residents served by a station, or by the whole network when ``station_id`` is None."""
        if station_id is None:
            return self.subdistrict.residents
        return sum(self.by_id[r].population or 0 for r in self.served_residential(station_id))

    def open_since(self, station_id: str, moment: datetime) -> datetime | None:
        """When the station last opened, if it is open at ``moment`` (one of its venues is);
        None while it is closed. A station without venues has no hours: always open."""
        station = self.station(station_id)
        if not station.venues:
            return datetime.min.replace(tzinfo=self.tz)
        local = moment.astimezone(self.tz)
        day = local.date()
        intervals = sorted(
            (datetime.combine(day, i.start, self.tz), datetime.combine(day, i.end, self.tz))
            for venue in station.venues
            for i in venue.intervals_on(day)
        )
        merged: list[tuple[datetime, datetime]] = []
        for lo, hi in intervals:  # merge overlapping or touching intervals, in order
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return next((lo for lo, hi in merged if lo <= local < hi), None)

    def opening_windows(
        self, venue_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The venue's opening intervals clipped to ``[start, end)``, as local datetimes."""
        venue = self.venues[venue_id]
        tz = self.tz
        start_local, end_local = start.astimezone(tz), end.astimezone(tz)
        windows: list[tuple[datetime, datetime]] = []
        day = start_local.date()
        while day <= end_local.date():
            for interval in venue.intervals_on(day):
                lo = max(datetime.combine(day, interval.start, tz), start_local)
                hi = min(datetime.combine(day, interval.end, tz), end_local)
                if hi > lo:
                    windows.append((lo, hi))
            day += timedelta(days=1)
        return windows


def load_network(path: Path | None = None) -> Network:
    """Load and validate the network file (the packaged sample network by default)."""
    if path is None:
        text = resources.files("sanjiang").joinpath("data/network.yaml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return Network.model_validate(yaml.safe_load(text))
