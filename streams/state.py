"""The live projection as a pure fold: ``LiveState.fold(fact)``, then read with ``now``.

The fold reads ``Fact``s (``streams.facts``: the fields it needs, decoded from an event's
JSON); ``apply(event)`` folds a validated event model. No I/O, no clock: the same code runs in
the stream worker and in a replay, and gives the same numbers for the same events in any order
and with any duplicates (within the grace period).

- Events count in the window (local day, Asia/Shanghai) of their ``occurred_at``. A day's
  window stays open for ``grace`` after it ends, for late uploads from offline kiosks; an event
  that reached the platform (``received_at``) after its window closed is not counted and is
  counted in ``too_late`` instead. Judging by arrival time, not by the order a consumer reads
  partitions in, keeps a replay identical to the live run.
- Duplicates (same ``event_id``) count once. The arrival check comes first, so a copy that
  arrived after its window closed counts in ``too_late`` whether or not the original counted:
  the result does not depend on which copy a consumer read first.
- Memory stays bounded: ``prune(horizon)`` forgets the event ids of days whose window closed
  more than ``PRUNE_MARGIN`` before ``horizon`` (no record arriving after that can count on
  those days anyway), and visits that ended before it. The worker passes the arrival time up to
  which it has read every partition, so ids are forgotten only once no unread record can still
  need them.
- Occupancy: a check-in opens a visit at a venue, its check-out (same ``visit_id``) closes it;
  a visit nobody checked out closes automatically at the end of the opening interval it began
  in, so a forgotten check-out does not inflate occupancy forever. Occupancy is kept per venue
  and station as events arrive and as time passes (``Occupancy``), not recounted per read.
- Revisions: every change of a station's day counters bumps their revision and their day's, and
  heat has one revision, so readers can skip what has not changed since they last looked.
- Satisfaction counts one evaluation per (resident, activity): the latest by
  (occurred_at, event_id), as the KPI does, and only from a resident who attended (a check-in
  naming the activity, or one at its venue during it).
- Conflicts (``sanjiang.conflicts``, the definition and how order and late facts are handled):
  facts are counted as they arrive and judged when read. A check-in's venue kinds need only the
  network and are counted as it is folded; whether a check-in names a published activity, comes
  without a place to one that requires registration or past its capacity, or an evaluation's
  resident attended, depends on other events, so each day's counters keep what those
  judgements need (the activities named, the evaluations) and each activity what they need of
  it (whether it requires registration, who holds a place, its residents' first check-ins, who
  was at its venue during it, and the (day, station) counters that depend on it, whose
  revisions an event changing the judgement bumps). What the live view shows at any moment is
  the judgement of the events folded so far: an evaluation whose check-in has not arrived yet
  is a conflict until it does.
- Heat uses ``sanjiang.heat``: Σ weight × 2^(−age / half-life), kept as a sum scaled to a fixed
  reference time so it does not depend on the order events arrive in.
- Kiosks are offline when they sent no heartbeat for ``offline_after`` while their station was
  open (its venues' hours).
"""

from __future__ import annotations

import builtins
import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sanjiang.conflicts import (
    KINDS,
    NO_REGISTRATION,
    NOT_ATTENDED,
    OVER_CAPACITY,
    UNKNOWN_ACTIVITY,
    UNKNOWN_VENUE,
    VENUE_OF_OTHER_STATION,
    venue_conflict,
)
from sanjiang.events import Event
from sanjiang.events.catalog import EVENT_TYPES
from sanjiang.heat import HALF_LIFE_HOURS, HEAT_TYPES, weight
from sanjiang.kpis import excluded_categories
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy, load_taxonomy
from streams.facts import Fact, fact_of
from streams.visit import Visit

_EPOCH_DAY = date(1970, 1, 1)
#: How long after a day's window closed its event ids are kept: covers clocks of API instances
#: that stamp ``received_at`` disagreeing, and records of a partition not quite in arrival order.
PRUNE_MARGIN = timedelta(hours=1)
#: Heat sums are scaled to this instant: value(t) = stored × 2^(−(t − REF) / half-life).
HEAT_REFERENCE = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


@dataclass(slots=True)
class DayCounters:
    """What one station (or the network) did on one local day."""

    checkins: int = 0
    residents: set[str] = field(default_factory=set)
    bookings_requested: int = 0
    bookings_confirmed: int = 0
    no_shows: int = 0
    registrations: int = 0
    registration_cancellations: int = 0
    demands: int = 0
    late_events: int = 0
    revision: int = 0  #: bumped by every change (see ``LiveState._counters``)
    demand_by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: (resident, activity) -> ((occurred_at, event_id), rating): the latest evaluation
    evaluations: dict[tuple[str, str], tuple[tuple[datetime, str], int]] = field(
        default_factory=dict
    )
    unknown_venue: int = 0  #: check-ins at a venue the network does not have
    other_station: int = 0  #: check-ins at a venue of another station
    #: activity -> check-ins naming it without a venue conflict (judged when read: it may not
    #: be published, or they may come past its capacity)
    named: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The counters that need nothing else; ``LiveState.summary`` adds the judged ones
        (satisfaction, conflicts)."""
        return {
            "checkins": self.checkins,
            "residents": len(self.residents),
            "bookings_requested": self.bookings_requested,
            "bookings_confirmed": self.bookings_confirmed,
            "no_shows": self.no_shows,
            "registrations": self.registrations,
            "registration_cancellations": self.registration_cancellations,
            "demands": self.demands,
            "late_events": self.late_events,
        }


class Occupancy:
    """People in each venue and station at the instant ``at``, kept up to date incrementally.

    A visit counts while ``checkin_at <= at < min(checked_out_at, closes_at)``. A check-in or
    check-out re-counts its visit at ``at``; the instants at which a visit may start or stop
    counting wait until ``at`` moves past them, so the automatic check-out at closing time
    happens without an event: a check-in or check-out stamped later than ``at`` in a heap, and
    closing times in one bucket per instant (a venue's visits of a day share a handful of them,
    so a check-in adds to a list instead of pushing on a heap). Instants are compared as the
    UTC datetimes the events carry (the same ``tzinfo`` object: no offset lookups). Moving
    ``at`` backwards (reading an earlier instant, as a replay or a test may) recounts every
    visit once; the worker's clock only moves forward.
    """

    def __init__(self, venue_station: Mapping[str, str]) -> None:
        self.venue_station = venue_station
        self.at: datetime | None = None
        self.venues: dict[str, int] = {}
        self.stations: dict[str, int] = {}
        self.revision = 0  #: bumped whenever a count changes
        self._due: list[tuple[datetime, str]] = []  #: (instant, visit id), a heap
        self._closing: dict[datetime, list[str]] = {}  #: closing time -> visit ids
        self._closings: list[datetime] = []  #: the keys of ``_closing``, a heap

    def changed(self, visit_id: str, visit: Visit) -> None:
        """A visit was checked in or out: count it again (at ``at``) and note its instants."""
        if self.at is None:
            return  # nothing counted yet: the first read counts everything
        self._recount(visit, self.at)
        self._schedule(visit_id, visit, self.at)

    def advance(self, now: datetime, visits: Mapping[str, Visit]) -> None:
        """Make the counts those of ``now``."""
        if self.at is None or now < self.at:
            self._rebuild(now, visits)
            return
        due, closings = self._due, self._closings
        while due and due[0][0] <= now:
            self._recount_id(heapq.heappop(due)[1], visits, now)
        while closings and closings[0] <= now:
            for visit_id in self._closing.pop(heapq.heappop(closings)):
                self._recount_id(visit_id, visits, now)
        self.at = now

    def _recount_id(self, visit_id: str, visits: Mapping[str, Visit], now: datetime) -> None:
        visit = visits.get(visit_id)
        if visit is not None:  # else pruned (``forget``)
            self._recount(visit, now)

    def forget(self, visits: Mapping[str, Visit]) -> None:
        """Visits dropped from the state: stop counting any that still counted."""
        for visit in visits.values():
            if visit.counted_in is not None:
                self._add(visit.counted_in, -1)
                visit.counted_in = None
                self.revision += 1

    def _schedule(self, visit_id: str, visit: Visit, after: datetime) -> None:
        for moment in (visit.checkin_at, visit.checked_out_at):
            if moment is not None and moment > after:
                heapq.heappush(self._due, (moment, visit_id))
        closes = visit.closes_at
        if closes is not None and closes > after:
            bucket = self._closing.get(closes)
            if bucket is None:
                bucket = self._closing[closes] = []
                heapq.heappush(self._closings, closes)
            bucket.append(visit_id)

    def _recount(self, visit: Visit, now: datetime) -> None:
        venue = visit.venue_id if visit.inside(now) else None
        if venue == visit.counted_in:
            return
        if visit.counted_in is not None:
            self._add(visit.counted_in, -1)
        if venue is not None:
            self._add(venue, 1)
        visit.counted_in = venue
        self.revision += 1

    def _add(self, venue: str, n: int) -> None:
        _count(self.venues, venue, n)
        station = self.venue_station.get(venue)
        if station is not None:
            _count(self.stations, station, n)

    def _rebuild(self, now: datetime, visits: Mapping[str, Visit]) -> None:
        self.venues, self.stations, self._due, self._closing, self._closings = {}, {}, [], {}, []
        for visit_id, visit in visits.items():
            visit.counted_in = None
            self._recount(visit, now)
            self._schedule(visit_id, visit, now)
        self.at = now
        self.revision += 1


def _count(counts: dict[str, int], key: str, n: int) -> None:
    """Add ``n`` to ``counts[key]``, keeping no zero counts."""
    total = counts.get(key, 0) + n
    if total:
        counts[key] = total
    else:
        del counts[key]


#: A resident's first check-in naming an activity: its version (occurred_at, event_id), the
#: (local day, station) whose counters hold it, and its venue conflict ("" for none).
FirstCheckin = tuple[tuple[datetime, str], date, str, str]
#: Where and when an activity is held: venue, start, end.
Placement = tuple[str, datetime | None, datetime | None]


@dataclass(slots=True)
class ActivityLive:
    capacity: int = 0
    venue_id: str = ""
    category: str = ""
    station_id: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    published: bool = False
    cancelled: bool = False
    #: its latest state requires registration (``sanjiang.conflicts``: ``no_registration``)
    registration_required: bool = False
    registrations: set[str] = field(default_factory=set)
    cancelled_registrations: set[str] = field(default_factory=set)
    #: (registration id, resident) of every ``registration.submitted`` naming it
    holders: set[tuple[str, str]] = field(default_factory=set)
    #: resident -> their first check-in naming it (the residents who came, ranked for capacity)
    firsts: dict[str, FirstCheckin] = field(default_factory=dict)
    #: residents with a check-in at its venue during it
    present: set[str] = field(default_factory=set)
    #: (day, station) whose counters judge something about it: check-ins naming it, evaluations
    depends: set[tuple[date, str]] = field(default_factory=set)
    last_day: date | None = None  #: the latest local day of an event about it (``prune``)
    #: field -> (version, value): updates apply by (occurred_at, event_id), in any order
    versions: dict[str, tuple[tuple[datetime, str], Any]] = field(default_factory=dict)

    def set(self, name: str, version: tuple[datetime, str], value: Any) -> None:
        if value is None:
            return
        current = self.versions.get(name)
        if current is None or current[0] < version:
            self.versions[name] = (version, value)
            setattr(self, name, value)

    def attended(self, resident: str) -> bool:
        """Whether ``resident`` came: a check-in naming it, or one at its venue during it."""
        return bool(resident) and (resident in self.firsts or resident in self.present)

    def needs_place(self) -> bool:
        """Published, not cancelled, and its latest state requires registration."""
        return self.published and not self.cancelled and self.registration_required

    def placed(self) -> builtins.set[str]:
        """The residents holding a place: a registration submitted and never cancelled."""
        cancelled = self.cancelled_registrations
        return {resident for rid, resident in self.holders if rid not in cancelled}

    def judged(self, day: date, station: str | None) -> tuple[int, int]:
        """First check-ins without a venue conflict counted on ``day`` (at ``station``, or
        any) that come without a place when it requires registration, and past its capacity
        (the residents holding a place ranked, when it requires registration; else all); (0,
        0) unless it is published."""
        if not self.published:
            return 0, 0
        unplaced = 0
        ranked: list[FirstCheckin] = []
        if self.needs_place():
            placed = self.placed()
            for resident, first in self.firsts.items():
                if resident in placed:
                    ranked.append(first)
                elif first[1] == day and (station is None or first[2] == station) and not first[3]:
                    unplaced += 1
        elif self.capacity <= 0 or len(self.firsts) <= self.capacity:
            return 0, 0
        else:
            ranked = list(self.firsts.values())
        beyond = 0
        if 0 < self.capacity < len(ranked):
            ranked.sort()
            for _, on, at, venue_kind in ranked[self.capacity :]:
                if on == day and (station is None or at == station) and not venue_kind:
                    beyond += 1
        return unplaced, beyond

    def summary(self) -> dict[str, Any]:
        registered = len(self.registrations - self.cancelled_registrations)
        return {
            "capacity": self.capacity,
            "venue_id": self.venue_id,
            "category": self.category,
            "station_id": self.station_id,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "cancelled": self.cancelled,
            "registrations": registered,
            "fill": registered / self.capacity if self.capacity else None,
            "attendance": len(self.firsts),
        }


@dataclass(slots=True)
class BookingLive:
    """A booking as its decisions left it, for utilization: its latest confirmation (by
    (occurred_at, event_id), in any order) and whether it was ever cancelled."""

    confirmed: tuple[datetime, str] | None = None  #: version of the latest confirmation
    venue_id: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    cancelled: bool = False
    last_day: date | None = None  #: the latest local day of an event about it (``prune``)


@dataclass
class LiveState:
    """Everything the live views show, folded from events. Read with an explicit ``now``."""

    network: Network
    grace: timedelta = timedelta(hours=6)
    offline_after: timedelta = timedelta(minutes=15)
    #: closed days whose counters (and activities that started then) are kept, for the views
    #: and the alerts' 7-day baseline; older ones are forgotten by ``prune``
    days_kept: int = 35
    #: event id -> the local day it counted on (kept until that day is pruned)
    seen: dict[str, date] = field(default_factory=dict)
    days: dict[tuple[date, str], DayCounters] = field(
        default_factory=lambda: defaultdict(DayCounters)
    )
    visits: dict[str, Visit] = field(default_factory=dict)
    activities: dict[str, ActivityLive] = field(default_factory=lambda: defaultdict(ActivityLive))
    heat: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    kiosks: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    watermark: datetime | None = None  #: the latest occurred_at seen: the stream's clock
    arrival_clock: datetime | None = None  #: the latest arrival (received_at) seen
    pruned_before: datetime | None = None  #: the horizon of the last ``prune``
    too_late: int = 0
    applied: int = 0
    #: day -> revision of all its counters (each ``DayCounters`` has its own revision)
    day_revisions: dict[date, int] = field(default_factory=lambda: defaultdict(int))
    heat_revision: int = 0
    #: day -> stations with counters that day (an index of ``days``)
    stations_on: dict[date, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: (venue, local day) -> (instant, resident) of the check-ins there with a resident, kept
    #: until the day's window closes: an activity placed there later finds who was there
    checkins_at: dict[tuple[str, date], list[tuple[datetime, str]]] = field(default_factory=dict)
    #: (venue, local day) -> the activities held there that day (an index of ``activities``)
    held: dict[tuple[str, date], set[str]] = field(default_factory=dict)
    #: bookings confirmed or cancelled, and (venue, local day) -> those confirmed for it then
    #: (an index of ``bookings``): utilization reads them (``streams.kpis``)
    bookings: dict[str, BookingLive] = field(default_factory=dict)
    booked: dict[tuple[str, date], set[str]] = field(default_factory=dict)
    #: the service taxonomy (the packaged one if not given): precision leaves some out
    taxonomy: Taxonomy | None = None
    #: the categories precision leaves out (``sanjiang.kpis.excluded_categories``)
    left_out: frozenset[str] = field(init=False, repr=False, default=frozenset())
    #: (``pruned_before``, the first day its prune kept): ``_first_kept_day``
    _kept_from: tuple[datetime, date] | None = field(init=False, repr=False, default=None)
    _occupancy: Occupancy = field(init=False, repr=False)
    _summaries: dict[tuple[date, str], tuple[int, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _window_ends: dict[date, datetime] = field(default_factory=dict, init=False, repr=False)
    _hour_offsets: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    #: UTC hour number -> the local day it lies in (hours split by a local midnight: absent)
    _hour_days: dict[int, date] = field(default_factory=dict, init=False, repr=False)
    _day_numbers: dict[int, date] = field(default_factory=dict, init=False, repr=False)
    #: (venue, day) -> its opening intervals as (start, end) timestamps and the end instant,
    #: and the day's last second (closing time outside opening hours)
    _openings: dict[tuple[str, date], tuple[list[tuple[float, float, datetime]], datetime]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self._venue_station = self.network.venue_station
        self._occupancy = Occupancy(self._venue_station)
        self._tz = self.network.tz
        self.left_out = excluded_categories(self.taxonomy or load_taxonomy())
        self._kept_from = None  # (compiled, an init=False field's default is not set)

    # --- the fold -----------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Fold one validated event in (``fold`` of its fact)."""
        return self.fold(fact_of(event))

    def fold(self, event: Fact) -> bool:
        """Fold one event in; False if it was a duplicate or too late to count.

        The hot path of the worker (every event, tens of thousands a second): instants are
        turned into timestamps once, and the per-day and per-hour facts are cached."""
        occurred = event.occurred_at
        stamp = occurred.timestamp()
        day = self._hour_days.get(int(stamp // 3600)) or self._local_day(stamp, occurred)
        arrived = event.received_at or occurred
        if self.arrival_clock is None or arrived > self.arrival_clock:
            self.arrival_clock = arrived
        closes = self._window_ends.get(day)
        if closes is None:
            closes = self._window_end(day)
        if arrived >= closes:
            self.too_late += 1  # judged by arrival, not by reading order
            return False
        event_id, seen = event.event_id, self.seen
        if event_id in seen:
            return False
        seen[event_id] = day  # one object per day (``local_day``)
        self.applied += 1
        if self.watermark is None or occurred > self.watermark:
            self.watermark = occurred
        handler, heat = _FOLDS[event.TYPE]
        if handler is not None:
            handler(self, event, day, stamp)
        if event.late:
            self._counters(day, event.station_id).late_events += 1
        if heat:  # an evaluation's depends on its rating: its handler adds it
            self._add_heat(event, stamp, heat)
        return True

    def local_day(self, moment: datetime) -> date:
        """The local day of an instant (the same ``date`` object for every instant of a day:
        ``seen`` holds one per event)."""
        stamp = moment.timestamp()
        return self._hour_days.get(int(stamp // 3600)) or self._local_day(stamp, moment)

    def _local_day(self, stamp: float, moment: datetime) -> date:
        """``local_day`` the long way. ``astimezone`` costs microseconds a call, so the zone's
        offset is looked up once per UTC hour and the day computed from the timestamp (exact for
        zones whose offset changes on whole UTC hours, as Asia/Shanghai's and most do). An hour
        that lies within one local day is remembered in ``_hour_days``."""
        hour = int(stamp // 3600)
        offset = self._hour_offsets.get(hour)
        if offset is None:
            utc_offset = moment.astimezone(self._tz).utcoffset()
            offset = self._hour_offsets[hour] = utc_offset.total_seconds() if utc_offset else 0
        day = self._day_number(int((stamp + offset) // 86400))
        first, last = hour * 3600 + offset, hour * 3600 + 3599 + offset
        if first // 86400 == last // 86400:  # the whole hour falls on one local day
            self._hour_days[hour] = day
        return day

    def _day_number(self, number: int) -> date:
        day = self._day_numbers.get(number)
        if day is None:
            day = self._day_numbers[number] = _EPOCH_DAY + timedelta(days=number)
        return day

    def prune(self, horizon: datetime) -> int:
        """Forget the event ids of days whose window closed more than ``PRUNE_MARGIN`` before
        ``horizon``, and the visits whose every instant lies on such a day; returns how many
        ids were dropped. Days more than ``days_kept`` before the horizon's are forgotten
        altogether (``_forget_days``).

        ``horizon`` must be an arrival time such that every record not read yet arrived after
        it (the worker's reading position), else a re-read copy could count twice. Whatever
        arrives after it for a forgotten day is too late to count, so nothing is lost."""
        cutoff = horizon - PRUNE_MARGIN
        self.pruned_before = horizon
        closed = {day for day in set(self.seen.values()) if self.window_closed(day, cutoff)}
        if not closed:
            # No visit to forget either: a visit's last instant lies on the day of its latest
            # event, whose id stays in ``seen`` until that day closes, so the scan of visits
            # runs once per day closing (at a checkpoint, it would pause the fold every time).
            return 0
        before = len(self.seen)
        self.seen = {key: day for key, day in self.seen.items() if day not in closed}
        self.checkins_at = {k: v for k, v in self.checkins_at.items() if k[1] not in closed}
        ended = {
            key: visit
            for key, visit in self.visits.items()
            if self.window_closed(self.local_day(_last_instant(visit)), cutoff)
        }
        for key in ended:
            del self.visits[key]
        self._occupancy.forget(ended)
        self._forget_days(self.local_day(cutoff) - timedelta(days=self.days_kept))
        return before - len(self.seen)

    def _forget_days(self, before: date) -> None:
        """Drop the counters of days before ``before`` (long closed: their final numbers were
        published as ``day:`` views), activities that started before it (their heat has
        decayed below a thousandth by then) or, never published (no start), were last heard of
        before it, unless facts of a day kept name them, and the per-day caches of those
        days."""
        old = [day for day in self.stations_on if day < before]
        for day in old:
            for station in self.stations_on.pop(day):
                self.days.pop((day, station), None)
                self._summaries.pop((day, station), None)
            self.day_revisions.pop(day, None)
        limit = datetime.combine(before, time(), self._tz)
        for key in [key for key, a in self.activities.items() if _gone(a, limit, before)]:
            activity = self.activities.pop(key)
            self.heat.pop(("activity", key), None)
            self._judge_again(activity)  # facts naming it, if any are kept, are judged anew
            self._unplace(key, activity.venue_id, activity.starts_at, activity.ends_at)
        self.held = {k: v for k, v in self.held.items() if k[1] >= before and v}
        self._forget_bookings(limit, before)
        self._window_ends = {d: t for d, t in self._window_ends.items() if d >= before}
        self._openings = {k: v for k, v in self._openings.items() if k[1] >= before}
        self._hour_days = {h: d for h, d in self._hour_days.items() if d >= before}
        first_hour = int(limit.timestamp() // 3600) - 24  # a day of slack for the offset
        self._hour_offsets = {h: o for h, o in self._hour_offsets.items() if h >= first_hour}
        self._day_numbers = {n: d for n, d in self._day_numbers.items() if d >= before}

    def window_closed(self, day: date, now: datetime) -> bool:
        """True once ``day``'s window no longer takes events: from its end plus the grace on
        (an event that arrived at that instant or after is too late; the warehouse, which keeps
        arrivals to the millisecond, admits what arrived before it: ``projections.conflicts``)."""
        closes = self._window_ends.get(day)
        if closes is None:
            closes = self._window_end(day)
        return now >= closes

    def _window_end(self, day: date) -> datetime:
        """The instant from which ``day``'s window is closed (cached in ``_window_ends``), in
        UTC as the events' instants are: comparing instants of different zones costs
        microseconds, of the same ``tzinfo`` object a few nanoseconds."""
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), self._tz)
        closes = self._window_ends[day] = (end + self.grace).astimezone(UTC)
        return closes

    def _counters(self, day: date, station: str) -> DayCounters:
        """The counters of a station's day, about to be changed: bumps their revisions (every
        change of counters goes through here; readers use ``days`` or ``summary``)."""
        counters = self.days.get((day, station))
        if counters is None:
            counters = self.days[(day, station)] = DayCounters()
            self.stations_on[day].add(station)
        counters.revision += 1
        self.day_revisions[day] += 1
        return counters

    def _on_checkin_recorded(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        station, resident, venue_id = event.station_id, event.resident, p.venue_id
        counters = self._counters(day, station)
        counters.checkins += 1
        venue_kind = venue_conflict(self._venue_station, station, venue_id)
        if venue_kind == UNKNOWN_VENUE:
            counters.unknown_venue += 1
        elif venue_kind:
            counters.other_station += 1
        if resident:
            if venue_kind != UNKNOWN_VENUE:  # participation: venues the network knows
                counters.residents.add(resident)
            self._was_at(venue_id, day, event.occurred_at, resident)
        visit = self._visit(p.visit_id, venue_id)
        visit.venue_id = venue_id
        visit.checkin_at = event.occurred_at
        visit.closes_at = self._closing_time(venue_id, stamp, day)
        self._occupancy.changed(p.visit_id, visit)
        activity_id = p.activity_id
        if not activity_id:
            return
        activity = self._activity(activity_id, day)
        if not venue_kind:
            counters.named[activity_id] = counters.named.get(activity_id, 0) + 1
            activity.depends.add((day, station))
        if resident:
            version = (event.occurred_at, event.event_id)
            first = activity.firsts.get(resident)
            if first is None or version < first[0]:
                activity.firsts[resident] = (version, day, station, venue_kind)
                if len(activity.depends) > 1 or (day, station) not in activity.depends:
                    self._judge_again(activity)  # ranks moved, or a resident came elsewhere

    def _was_at(self, venue_id: str, day: date, at: datetime, resident: str) -> None:
        """A resident checked in at a venue: present at the activities held there then."""
        key = (venue_id, day)
        at_venue = self.checkins_at.get(key)
        if at_venue is None:
            at_venue = self.checkins_at[key] = []
        at_venue.append((at, resident))
        held = self.held.get(key)
        if held is None:
            return
        for activity_id in held:
            activity = self.activities[activity_id]
            starts, ends = activity.starts_at, activity.ends_at
            if (
                starts is not None
                and ends is not None
                and starts <= at < ends
                and resident not in activity.present
            ):
                activity.present.add(resident)
                self._judge_again(activity)

    def _judge_again(self, activity: ActivityLive) -> None:
        """Something the judgement of facts about ``activity`` reads changed: bump the revision
        of every (day, station) counters that judge it (those still kept)."""
        for day, station in activity.depends:
            if (day, station) in self.days:
                self._counters(day, station)

    def _placed(self, activity_id: str, activity: ActivityLive, before: Placement) -> None:
        """Its venue or time may have changed (``before``: what they were): index it where and
        when it is held now, and find again who was at its venue during it."""
        venue, starts, ends = activity.venue_id, activity.starts_at, activity.ends_at
        if (venue, starts, ends) == before:
            return
        self._unplace(activity_id, before[0], before[1], before[2])
        present: set[str] = set()
        if venue and starts is not None and ends is not None:
            for day in self._days_of(starts, ends):
                key = (venue, day)
                held = self.held.get(key)
                if held is None:
                    held = self.held[key] = set()
                held.add(activity_id)
                for at, resident in self.checkins_at.get(key, ()):
                    if starts <= at < ends:
                        present.add(resident)
        if present != activity.present:
            activity.present = present
            self._judge_again(activity)

    def _unplace(
        self, activity_id: str, venue: str, starts: datetime | None, ends: datetime | None
    ) -> None:
        """Take an activity out of ``held`` where and when it was held."""
        if venue and starts is not None and ends is not None:
            for day in self._days_of(starts, ends):
                held = self.held.get((venue, day))
                if held is not None:
                    held.discard(activity_id)

    def _days_of(self, starts: datetime, ends: datetime) -> list[date]:
        """The local days ``[starts, ends)`` touches."""
        first = self.local_day(starts)
        last = self.local_day(max(starts, ends - timedelta(microseconds=1)))
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def reindex(self) -> None:
        """Rebuild ``held`` from ``activities`` and ``booked`` from ``bookings`` (after loading
        a snapshot)."""
        self.booked = {}
        for booking_id, booking in self.bookings.items():
            self._book(booking_id, booking.venue_id, booking.starts_at, booking.ends_at)
        self.held = {}
        for activity_id, activity in self.activities.items():
            venue, starts, ends = activity.venue_id, activity.starts_at, activity.ends_at
            if venue and starts is not None and ends is not None:
                for day in self._days_of(starts, ends):
                    self.held.setdefault((venue, day), set()).add(activity_id)

    def _on_checkout_recorded(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        visit = self._visit(p.visit_id, p.venue_id)
        if visit.checked_out_at is None or event.occurred_at < visit.checked_out_at:
            visit.checked_out_at = event.occurred_at
            self._occupancy.changed(p.visit_id, visit)

    def _visit(self, visit_id: str, venue_id: str) -> Visit:
        """The visit ``visit_id``, new at ``venue_id`` if its first event is only now here."""
        visit = self.visits.get(visit_id)
        if visit is None:
            visit = self.visits[visit_id] = Visit(venue_id)
        return visit

    def _activity(self, activity_id: str, day: date) -> ActivityLive:
        """The activity ``activity_id`` (new if first heard of now), heard of on ``day``."""
        activity = self.activities[activity_id]
        if activity.last_day is None or activity.last_day < day:
            activity.last_day = day
        return activity

    def _on_booking_requested(self, event: Fact, day: date, stamp: float) -> None:
        self._counters(day, event.station_id).bookings_requested += 1

    def _on_booking_confirmed(self, event: Fact, day: date, stamp: float) -> None:
        self._counters(day, event.station_id).bookings_confirmed += 1
        self._booking_decided(event, day)

    def _on_booking_cancelled(self, event: Fact, day: date, stamp: float) -> None:
        self._booking_decided(event, day)

    def _on_booking_no_show(self, event: Fact, day: date, stamp: float) -> None:
        self._counters(day, event.station_id).no_shows += 1

    def _on_registration_submitted(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        self._counters(day, event.station_id).registrations += 1
        activity = self._activity(p.activity_id, day)
        activity.registrations.add(p.registration_id)
        activity.holders.add((p.registration_id, event.resident or ""))
        if activity.firsts and activity.needs_place():
            self._judge_again(activity)  # a resident who came may hold a place now
        self._fill_changed(activity)

    def _on_registration_cancelled(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        self._counters(day, event.station_id).registration_cancellations += 1
        activity = self._activity(p.activity_id, day)
        activity.cancelled_registrations.add(p.registration_id)
        if activity.firsts and activity.needs_place():
            self._judge_again(activity)  # a resident who came may hold no place now
        self._fill_changed(activity)

    def _on_demand_submitted(self, event: Fact, day: date, stamp: float) -> None:
        counters = self._counters(day, event.station_id)
        counters.demands += 1
        counters.demand_by_category[event.payload.category] += 1  # type: ignore[attr-defined]

    def _on_demand_voted(self, event: Fact, day: date, stamp: float) -> None:
        self._on_demand_submitted(event, day, stamp)  # a vote counts as a demand

    def _on_evaluation_submitted(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        key = (event.resident or "", p.activity_id)
        version = (event.occurred_at, event.event_id)
        evaluations = self._counters(day, event.station_id).evaluations
        current = evaluations.get(key)
        if current is None or current[0] < version:
            evaluations[key] = (version, p.rating)
        # heard of (its heat is forgotten with it); these counters judge whether they came
        self._activity(p.activity_id, day).depends.add((day, event.station_id))
        self._add_heat(event, stamp, weight(event.TYPE, p.rating))  # every one, as the KPI does

    def _on_activity_published(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        activity = self._activity(p.activity_id, day)
        before = (activity.venue_id, activity.starts_at, activity.ends_at)
        version = (event.occurred_at, event.event_id)
        for name in ("capacity", "venue_id", "category", "starts_at", "ends_at"):
            activity.set(name, version, getattr(p, name))
        activity.set("registration_required", version, p.registration_required)
        activity.set("station_id", version, event.station_id)
        activity.published = True
        self._placed(p.activity_id, activity, before)
        self._supply_changed(activity, before)
        self._judge_again(activity)  # published, and maybe a new capacity or rule

    def _on_activity_updated(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        activity = self._activity(p.activity_id, day)
        before = (activity.venue_id, activity.starts_at, activity.ends_at)
        version = (event.occurred_at, event.event_id)
        for name in ("capacity", "venue_id", "starts_at", "ends_at", "registration_required"):
            activity.set(name, version, getattr(p, name))
        self._placed(p.activity_id, activity, before)
        self._supply_changed(activity, before)
        self._judge_again(activity)  # maybe a new capacity or rule

    def _on_activity_cancelled(self, event: Fact, day: date, stamp: float) -> None:
        p: Any = event.payload
        activity = self._activity(p.activity_id, day)
        if not activity.cancelled:
            activity.cancelled = True
            self._judge_again(activity)  # it requires no registration any more
            self._supply_changed(
                activity, (activity.venue_id, activity.starts_at, activity.ends_at)
            )

    def _on_kiosk_heartbeat(self, event: Fact, day: date, stamp: float) -> None:
        kiosk_id: str = event.payload.kiosk_id  # type: ignore[attr-defined]
        last = self.kiosks.get(kiosk_id)
        if last is None or last[0] < event.occurred_at:
            self.kiosks[kiosk_id] = (event.occurred_at, event.station_id)

    def _add_heat(self, event: Fact, stamp: float, w: float) -> None:
        """Add an event's heat, of weight ``w``."""
        hours = (stamp - _HEAT_REFERENCE_STAMP) / 3600
        scaled = w * math.pow(2.0, hours / HALF_LIFE_HOURS)
        self.heat_revision += 1
        self.heat[("station", event.station_id)] += scaled
        activity_id = event.payload.activity_id
        if activity_id:
            self.heat[("activity", activity_id)] += scaled

    def _closing_time(self, venue_id: str, stamp: float, day: date) -> datetime | None:
        """The end of the opening interval of ``venue_id`` that the instant ``stamp`` (a
        timestamp, on local ``day``) falls in; 23:59:59 local outside opening hours; ``None`` for
        an unknown venue. In UTC, as the events' instants are: comparing instants of different
        zones costs microseconds (``Visit.inside`` compares them at every recount)."""
        key = (venue_id, day)
        openings = self._openings.get(key)
        if openings is None:
            venue = self.network.venues.get(venue_id)
            if venue is None:
                return None
            tz = self._tz
            openings = self._openings[key] = (
                [
                    (
                        datetime.combine(day, interval.start, tz).timestamp(),
                        datetime.combine(day, interval.end, tz).timestamp(),
                        datetime.combine(day, interval.end, tz).astimezone(UTC),
                    )
                    for interval in venue.intervals_on(day)
                ],
                datetime.combine(day, time(23, 59, 59), tz).astimezone(UTC),
            )
        intervals, day_end = openings
        for start, end, closes in intervals:
            if start <= stamp < end:
                return closes
        return day_end  # outside opening hours

    # --- what utilization and precision read (``streams.kpis``) --------------------------

    def _booking_decided(self, event: Fact, day: date) -> None:
        """A booking confirmed or cancelled: keep its latest confirmation (venue and time) and
        whether it was cancelled, index it by venue and day, and bump the counters of the days
        it took before and takes now."""
        p: Any = event.payload
        booking_id: str = p.booking_id
        booking = self.bookings.get(booking_id)
        if booking is None:
            booking = self.bookings[booking_id] = BookingLive()
        if booking.last_day is None or booking.last_day < day:
            booking.last_day = day
        before: Placement = (booking.venue_id, booking.starts_at, booking.ends_at)
        if event.TYPE == "booking.cancelled":
            booking.cancelled = True
        else:
            version = (event.occurred_at, event.event_id)
            if booking.confirmed is not None and not booking.confirmed < version:
                return  # an earlier confirmation (or this one again): nothing changes
            booking.confirmed = version
            booking.venue_id = p.venue_id or ""
            booking.starts_at, booking.ends_at = p.starts_at, p.ends_at
            self._unbook(booking_id, before[0], before[1], before[2])
            self._book(booking_id, booking.venue_id, booking.starts_at, booking.ends_at)
        self._takes(before[0], before[1], before[2])
        if (booking.venue_id, booking.starts_at, booking.ends_at) != before:
            self._takes(booking.venue_id, booking.starts_at, booking.ends_at)

    def _book(
        self, booking_id: str, venue: str, starts: datetime | None, ends: datetime | None
    ) -> None:
        if venue and starts is not None and ends is not None:
            for day in self._days_of(starts, ends):
                key = (venue, day)
                booked = self.booked.get(key)
                if booked is None:
                    booked = self.booked[key] = set()
                booked.add(booking_id)

    def _unbook(
        self, booking_id: str, venue: str, starts: datetime | None, ends: datetime | None
    ) -> None:
        if venue and starts is not None and ends is not None:
            for day in self._days_of(starts, ends):
                booked = self.booked.get((venue, day))
                if booked is not None:
                    booked.discard(booking_id)

    def _supply_changed(self, activity: ActivityLive, before: Placement) -> None:
        """A decision about an activity (where, when, capacity, published, cancelled): bump the
        counters of the days it took before and takes now at its venue's station."""
        self._takes(before[0], before[1], before[2])
        if (activity.venue_id, activity.starts_at, activity.ends_at) != before:
            self._takes(activity.venue_id, activity.starts_at, activity.ends_at)

    def _fill_changed(self, activity: ActivityLive) -> None:
        """A registration of a published activity came or went: bump the counters of the day it
        starts at its venue's station (its fill rate is theirs; the registration itself counts
        on the day and at the station that decided it)."""
        if not activity.published or activity.starts_at is None:
            return
        station = self._venue_station.get(activity.venue_id)
        if station is not None:
            day = self.local_day(activity.starts_at)
            first_kept = self._first_kept_day()
            if first_kept is None or day >= first_kept:
                self._counters(day, station)

    def _takes(self, venue: str, starts: datetime | None, ends: datetime | None) -> None:
        """Bump the counters of the station owning ``venue`` on every day ``[starts, ends)``
        touches (creating them: a station's utilization and supply of a day are in its day's
        counters even when nothing else happened there), except days already forgotten."""
        station = self._venue_station.get(venue) if venue else None
        if station is None or starts is None or ends is None:
            return
        first_kept = self._first_kept_day()
        for day in self._days_of(starts, ends):
            if first_kept is None or day >= first_kept:
                self._counters(day, station)

    def _first_kept_day(self) -> date | None:
        """The first day whose counters the last ``prune`` kept (None: nothing pruned yet)."""
        horizon = self.pruned_before
        if horizon is None:
            return None
        kept = self._kept_from
        if kept is None or kept[0] != horizon:
            first = self.local_day(horizon - PRUNE_MARGIN) - timedelta(days=self.days_kept)
            kept = self._kept_from = (horizon, first)
        return kept[1]

    def _forget_bookings(self, limit: datetime, before: date) -> None:
        """Forget the bookings that ended before ``limit`` (the first kept day's start) or,
        never confirmed, were last heard of before ``before``, and their index entries."""
        gone = [
            key
            for key, b in self.bookings.items()
            if (b.starts_at is not None and max(b.starts_at, b.ends_at or b.starts_at) < limit)
            or (b.starts_at is None and b.last_day is not None and b.last_day < before)
        ]
        for key in gone:
            del self.bookings[key]
        self.booked = {k: v for k, v in self.booked.items() if k[1] >= before and v}

    # --- reading ------------------------------------------------------------------------

    def summary(self, day: date, station: str) -> dict[str, Any]:
        """One station's counters of one day (computed once per revision; do not modify)."""
        counters = self.days.get((day, station))
        if counters is None:
            return self._judged(DayCounters(), day, station)
        cached = self._summaries.get((day, station))
        if cached is not None and cached[0] == counters.revision:
            return cached[1]
        summary = self._judged(counters, day, station)
        self._summaries[(day, station)] = (counters.revision, summary)
        return summary

    def _judged(self, counters: DayCounters, day: date, station: str | None) -> dict[str, Any]:
        """``counters``' summary with what is judged against the activities now: satisfaction
        over the evaluations whose resident attended, and the conflicts by kind
        (``sanjiang.conflicts``); ``station`` None for counters summed over the network."""
        conflicts = dict.fromkeys(KINDS, 0)
        conflicts[UNKNOWN_VENUE] = counters.unknown_venue
        conflicts[VENUE_OF_OTHER_STATION] = counters.other_station
        activities = self.activities
        for activity_id, n in counters.named.items():
            activity = activities.get(activity_id)
            if activity is None or not activity.published:
                conflicts[UNKNOWN_ACTIVITY] += n
            else:
                unplaced, beyond = activity.judged(day, station)
                conflicts[NO_REGISTRATION] += unplaced
                conflicts[OVER_CAPACITY] += beyond
        evaluations = satisfied = 0
        for (resident, activity_id), (_, rating) in counters.evaluations.items():
            activity = activities.get(activity_id)
            if activity is not None and activity.attended(resident):
                evaluations += 1
                if rating >= 4:
                    satisfied += 1
            else:
                conflicts[NOT_ATTENDED] += 1
        summary = counters.summary()
        summary["evaluations"] = evaluations
        summary["satisfied_evaluations"] = satisfied
        summary["satisfaction"] = satisfied / evaluations if evaluations else None
        summary["conflicts"] = conflicts
        return summary

    def revision(self, day: date, station: str) -> int:
        """The revision of a station's counters of one day (0: none yet)."""
        counters = self.days.get((day, station))
        return 0 if counters is None else counters.revision

    def today(self, now: datetime, station: str | None = None) -> dict[str, Any]:
        """Today's counters (local day of ``now``) for a station, or the network summed."""
        day = self.local_day(now)
        if station is not None:
            return dict(self.summary(day, station))
        return self.network_summary(day)

    def network_summary(self, day: date) -> dict[str, Any]:
        """One day's counters summed over the network's stations (as the warehouse's network
        scope does: a station the network does not have is in no scope)."""
        total = DayCounters()
        stations = self.network.by_id
        for station_id in self.stations_on.get(day, ()):
            if station_id not in stations:
                continue
            counters = self.days[(day, station_id)]
            total.checkins += counters.checkins
            total.residents |= counters.residents
            total.bookings_requested += counters.bookings_requested
            total.bookings_confirmed += counters.bookings_confirmed
            total.no_shows += counters.no_shows
            total.registrations += counters.registrations
            total.registration_cancellations += counters.registration_cancellations
            total.demands += counters.demands
            total.late_events += counters.late_events
            total.unknown_venue += counters.unknown_venue
            total.other_station += counters.other_station
            for activity_id, n in counters.named.items():
                total.named[activity_id] = total.named.get(activity_id, 0) + n
            for key, value in counters.evaluations.items():
                if key not in total.evaluations or total.evaluations[key][0] < value[0]:
                    total.evaluations[key] = value
        return self._judged(total, day, None)

    def conflicts_by_station(self, now: datetime) -> dict[str, dict[str, int]]:
        """Today's conflicts of every station that has some, by kind."""
        day = self.local_day(now)
        found: dict[str, dict[str, int]] = {}
        for station in sorted(self.stations_on.get(day, ())):
            conflicts: dict[str, int] = self.summary(day, station)["conflicts"]
            if any(conflicts.values()):
                found[station] = conflicts
        return found

    def occupancy(self, now: datetime) -> dict[str, int]:
        """People in each venue now: open visits begun by ``now`` and not auto-closed."""
        self._occupancy.advance(now, self.visits)
        return dict(self._occupancy.venues)

    def station_occupancy(self, now: datetime) -> dict[str, int]:
        """People in each station's venues now."""
        self._occupancy.advance(now, self.visits)
        return dict(self._occupancy.stations)

    def heat_decay(self, now: datetime) -> float:
        """The factor taking the heat sums, kept at ``HEAT_REFERENCE``, to ``now``."""
        hours = (now - HEAT_REFERENCE).total_seconds() / 3600
        return math.pow(2.0, -hours / HALF_LIFE_HOURS)

    def heat_at(self, level: str, key: str, now: datetime) -> float:
        return self.heat.get((level, key), 0.0) * self.heat_decay(now)

    def scaled_heat_by(self, level: str) -> dict[str, float]:
        """Heat sums of every station or category at ``HEAT_REFERENCE`` (a category's is the
        sum over its activities, whichever order their publication and heat events arrived
        in); every key decays by the same factor, so their order holds at any time."""
        sums: dict[str, float] = defaultdict(float)
        for (kind, key), scaled in self.heat.items():
            if level == "station" and kind == "station":
                sums[key] += scaled
            elif level == "category" and kind == "activity":
                category = self.activities[key].category if key in self.activities else ""
                if category:
                    sums[category] += scaled
        return dict(sums)

    def heat_by(self, level: str, now: datetime) -> dict[str, float]:
        """Heat at ``now`` of every station or category."""
        factor = self.heat_decay(now)
        return {key: total * factor for key, total in self.scaled_heat_by(level).items()}

    def offline_kiosks(self, now: datetime) -> list[str]:
        """Kiosks silent for ``offline_after`` while their station was open: a kiosk switched
        off at closing time is not offline, and one silent since it opened is only after the
        threshold has passed since opening."""
        offline = []
        for kiosk, (last, station) in self.kiosks.items():
            opened = self._open_since(station, now)
            if opened is not None and now - max(last, opened) > self.offline_after:
                offline.append(kiosk)
        return sorted(offline)

    def _open_since(self, station: str, now: datetime) -> datetime | None:
        if station not in self.network.by_id:
            return _ALWAYS  # no hours known: always open
        return self.network.open_since(station, now)


_ALWAYS = datetime.min.replace(tzinfo=UTC)


def _gone(activity: ActivityLive, limit: datetime, before: date) -> bool:
    """An activity to forget: it started before ``limit`` or, never published, was last heard
    of before ``before`` — and no counters of a day kept judge facts about it (an evaluation
    two days after the activity still needs it)."""
    for day, _ in activity.depends:
        if day >= before:
            return False
    if activity.starts_at is not None:  # (the later of its start and end: what it takes)
        return max(activity.starts_at, activity.ends_at or activity.starts_at) < limit
    return activity.last_day is not None and activity.last_day < before


def _last_instant(visit: Visit) -> datetime:
    """The latest instant a visit has (it has at least one: a check-in or a check-out)."""
    instants = [t for t in (visit.checkin_at, visit.checked_out_at, visit.closes_at) if t]
    return max(instants) if instants else datetime.min.replace(tzinfo=UTC)


#: event type -> its handler in the fold (if any) and its heat weight (0: none, or an
#: evaluation's, which depends on the rating: its handler adds it)
_FOLDS: dict[str, tuple[Callable[[LiveState, Fact, date, float], None] | None, float]] = {
    name: (
        getattr(LiveState, "_on_" + name.replace(".", "_"), None),
        weight(name) if name in HEAT_TYPES else 0.0,
    )
    for name in EVENT_TYPES
}
_HEAT_REFERENCE_STAMP = HEAT_REFERENCE.timestamp()
