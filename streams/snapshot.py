"""A ``LiveState`` and the source offsets it reflects, to bytes and back (no I/O).

The worker checkpoints its state this way (``streams.checkpoint``) so a restarted worker goes
on from its last checkpoint instead of refolding the whole log. The format is explicit (no
pickle: the bytes come from a Kafka topic, and must not be able to run code):

    b"SJLS" | version (1 byte) | lengths of the JSON and visits parts (4 bytes each,
    big-endian) | JSON | visits | ids

``visits`` is the visits as msgspec writes them (JSON, one array per visit: in C, without a
Python list per visit, which made up a third of the time of a dump). ``ids`` is the ``seen``
event ids, as their 36 ASCII characters each, then one 2-byte index per id into the JSON's list
of days (the local day an id counted on, for pruning). Everything else, including the offsets,
is in the JSON part (instants as orjson writes them, RFC 3339: in C, far
faster than ``isoformat``). Derived data (occupancy counts, the stations-per-day index, the
activities held and the bookings confirmed per venue and day, caches) is rebuilt on load. A
snapshot of another version loads as ``None``: the worker then rebuilds from the log, which is
always correct.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec
import orjson

from streams.state import ActivityLive, BookingLive, DayCounters, LiveState
from streams.visit import Visit

#: 2: event ids as text (they were 16-byte UUIDs); 3: visits in their own part; 4: what the
#: judgement of conflicts reads (named activities, first check-ins, presence at venues); 5: and
#: whether an activity requires registration, and who holds its places; 6: the bookings
#: utilization reads
MAGIC, VERSION = b"SJLS", 6
_ID = 36  #: characters of an event id (a UUID's canonical text)
_HEADER = struct.Struct(">4sBII")
_VISITS = msgspec.json.Decoder(dict[str, Visit])

Offsets = dict[str, int]  #: "<topic>:<partition>" -> the next offset to read


@dataclass
class Snapshot:
    state: LiveState
    offsets: Offsets
    extra: dict[str, Any]


def dump(state: LiveState, offsets: Offsets, extra: Mapping[str, Any] | None = None) -> bytes:
    """The state and the offsets it reflects, as bytes; ``extra``: what else the worker keeps
    beside the state (JSON-ready; its open alerts)."""
    days = sorted(set(state.seen.values()))
    day_index = {day: i for i, day in enumerate(days)}
    document = {
        "offsets": offsets,
        "extra": dict(extra or {}),
        "seen_days": [day.isoformat() for day in days],
        "days": [
            [day.isoformat(), station, _counters(counters)]
            for (day, station), counters in state.days.items()
        ],
        "activities": [[key, _activity(a)] for key, a in state.activities.items()],
        "bookings": [[key, _booking(b)] for key, b in state.bookings.items()],
        "heat": [[level, key, value] for (level, key), value in state.heat.items()],
        "kiosks": [[k, at, station] for k, (at, station) in state.kiosks.items()],
        "checkins_at": [
            [venue, day.isoformat(), [[at, resident] for at, resident in checkins]]
            for (venue, day), checkins in state.checkins_at.items()
        ],
        "watermark": state.watermark,
        "arrival_clock": state.arrival_clock,
        "too_late": state.too_late,
        "applied": state.applied,
        "pruned_before": state.pruned_before,
        "day_revisions": [[day.isoformat(), n] for day, n in state.day_revisions.items()],
        "heat_revision": state.heat_revision,
    }
    body = orjson.dumps(document)
    ids = "".join(state.seen).encode("ascii")
    if len(ids) != _ID * len(state.seen):
        raise ValueError("an event id is not a UUID's canonical text")
    indexes = array("H", map(day_index.__getitem__, state.seen.values()))
    if sys.byteorder == "little":
        indexes.byteswap()  # big-endian, as the format says
    visits = msgspec.json.encode(state.visits)
    header = _HEADER.pack(MAGIC, VERSION, len(body), len(visits))
    return b"".join((header, body, visits, ids, indexes.tobytes()))


def load(data: bytes, make_state: Callable[[], LiveState]) -> Snapshot | None:
    """The state, offsets and extra in ``data`` (a fresh state from ``make_state`` filled in),
    or ``None`` if ``data`` is not a snapshot of this version."""
    if len(data) < _HEADER.size:
        return None
    magic, version, length, visits_length = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        return None
    start = _HEADER.size
    document = orjson.loads(data[start : start + length])
    visits = _VISITS.decode(data[start + length : start + length + visits_length])
    rest = memoryview(data)[start + length + visits_length :]
    count = len(rest) // (_ID + 2)
    seen_days = [date.fromisoformat(d) for d in document["seen_days"]]
    indexes = struct.unpack_from(f">{count}H", rest, _ID * count)
    ids = bytes(rest[: _ID * count]).decode("ascii")
    state = make_state()
    state.seen = {ids[_ID * i : _ID * i + _ID]: seen_days[indexes[i]] for i in range(count)}
    for day_text, station, counters in document["days"]:
        day = date.fromisoformat(day_text)
        state.days[(day, station)] = _counters_from(counters)
        state.stations_on[day].add(station)
    for visit in visits.values():
        visit.counted_in = None  # occupancy is counted again at the first read
    state.visits = visits
    for key, activity in document["activities"]:
        state.activities[key] = _activity_from(activity)
    for key, booking in document["bookings"]:
        state.bookings[key] = _booking_from(booking)
    for level, key, value in document["heat"]:
        state.heat[(level, key)] = value
    state.kiosks = {k: (_req(at), station) for k, at, station in document["kiosks"]}
    state.checkins_at = {
        (venue, date.fromisoformat(day)): [(_req(at), resident) for at, resident in checkins]
        for venue, day, checkins in document["checkins_at"]
    }
    state.reindex()
    state.watermark = _dt(document["watermark"])
    state.arrival_clock = _dt(document["arrival_clock"])
    state.too_late = document["too_late"]
    state.applied = document["applied"]
    state.pruned_before = _dt(document["pruned_before"])
    for day_text, n in document["day_revisions"]:
        state.day_revisions[date.fromisoformat(day_text)] = n
    state.heat_revision = document["heat_revision"]
    return Snapshot(state, dict(document["offsets"]), dict(document["extra"]))


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _req(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _version(version: tuple[datetime, str]) -> list[Any]:
    return [version[0], version[1]]


def _version_from(raw: list[str]) -> tuple[datetime, str]:
    return (datetime.fromisoformat(raw[0]), raw[1])


def _counters(c: DayCounters) -> dict[str, Any]:
    return {
        "checkins": c.checkins,
        "residents": sorted(c.residents),
        "bookings_requested": c.bookings_requested,
        "bookings_confirmed": c.bookings_confirmed,
        "no_shows": c.no_shows,
        "registrations": c.registrations,
        "registration_cancellations": c.registration_cancellations,
        "demands": c.demands,
        "late_events": c.late_events,
        "revision": c.revision,
        "demand_by_category": dict(c.demand_by_category),
        "unknown_venue": c.unknown_venue,
        "other_station": c.other_station,
        "named": c.named,
        "evaluations": [
            [resident, activity, *_version(version), rating]
            for (resident, activity), (version, rating) in c.evaluations.items()
        ],
    }


def _counters_from(raw: dict[str, Any]) -> DayCounters:
    counters = DayCounters(
        checkins=raw["checkins"],
        residents=set(raw["residents"]),
        bookings_requested=raw["bookings_requested"],
        bookings_confirmed=raw["bookings_confirmed"],
        no_shows=raw["no_shows"],
        registrations=raw["registrations"],
        registration_cancellations=raw["registration_cancellations"],
        demands=raw["demands"],
        late_events=raw["late_events"],
        revision=raw["revision"],
        unknown_venue=raw["unknown_venue"],
        other_station=raw["other_station"],
        named=dict(raw["named"]),
    )
    counters.demand_by_category.update(raw["demand_by_category"])
    for resident, activity, at, event_id, rating in raw["evaluations"]:
        counters.evaluations[(resident, activity)] = (_version_from([at, event_id]), rating)
    return counters


#: ActivityLive fields that hold an instant (the others are plain JSON values)
_INSTANTS = {"starts_at", "ends_at"}


def _activity(a: ActivityLive) -> dict[str, Any]:
    return {
        "capacity": a.capacity,
        "venue_id": a.venue_id,
        "category": a.category,
        "station_id": a.station_id,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "published": a.published,
        "cancelled": a.cancelled,
        "registration_required": a.registration_required,
        "registrations": sorted(a.registrations),
        "cancelled_registrations": sorted(a.cancelled_registrations),
        "holders": sorted(a.holders),
        "firsts": [
            [resident, *_version(version), day.isoformat(), station, venue_kind]
            for resident, (version, day, station, venue_kind) in a.firsts.items()
        ],
        "present": sorted(a.present),
        "depends": [[day.isoformat(), station] for day, station in sorted(a.depends)],
        "last_day": a.last_day.isoformat() if a.last_day else None,
        "versions": {
            name: [*_version(version), value] for name, (version, value) in a.versions.items()
        },
    }


def _activity_from(raw: dict[str, Any]) -> ActivityLive:
    versions: dict[str, tuple[tuple[datetime, str], Any]] = {}
    for name, (at, event_id, value) in raw["versions"].items():
        versions[name] = (
            _version_from([at, event_id]),
            _dt(value) if name in _INSTANTS else value,
        )
    return ActivityLive(
        capacity=raw["capacity"],
        venue_id=raw["venue_id"],
        category=raw["category"],
        station_id=raw["station_id"],
        starts_at=_dt(raw["starts_at"]),
        ends_at=_dt(raw["ends_at"]),
        published=raw["published"],
        cancelled=raw["cancelled"],
        registration_required=raw["registration_required"],
        registrations=set(raw["registrations"]),
        cancelled_registrations=set(raw["cancelled_registrations"]),
        holders={(rid, resident) for rid, resident in raw["holders"]},
        firsts={
            resident: (_version_from([at, event_id]), date.fromisoformat(day), station, kind)
            for resident, at, event_id, day, station, kind in raw["firsts"]
        },
        present=set(raw["present"]),
        depends={(date.fromisoformat(day), station) for day, station in raw["depends"]},
        # absent from checkpoints written before it was kept: heard of at the next event
        last_day=date.fromisoformat(raw["last_day"]) if raw.get("last_day") else None,
        versions=versions,
    )


def _booking(b: BookingLive) -> list[Any]:
    confirmed = None if b.confirmed is None else _version(b.confirmed)
    last_day = b.last_day.isoformat() if b.last_day else None
    return [confirmed, b.venue_id, b.starts_at, b.ends_at, b.cancelled, last_day]


def _booking_from(raw: list[Any]) -> BookingLive:
    confirmed, venue_id, starts_at, ends_at, cancelled, last_day = raw
    return BookingLive(
        confirmed=None if confirmed is None else _version_from(confirmed),
        venue_id=venue_id,
        starts_at=_dt(starts_at),
        ends_at=_dt(ends_at),
        cancelled=cancelled,
        last_day=date.fromisoformat(last_day) if last_day else None,
    )
