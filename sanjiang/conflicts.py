"""Conflicts: kiosk facts that contradict the platform's decisions. The one definition.

A fact is what a kiosk saw, possibly offline: a check-in (``checkin.recorded``) or an evaluation
(``evaluation.submitted``). It is accepted with its own time and never refused nor dropped for
contradicting a decision (``activity.published``, ``activity.updated``, …, written only by the
deciders); a fact that does contradict one is *flagged* with one kind of conflict, the first of
this list that applies, so the kinds of a fact type add up to its conflicting facts:

==========================  ==================  ============================================
code                        label               the fact
==========================  ==================  ============================================
``unknown_venue``           场馆不存在          a check-in at a venue the network does not have
``venue_of_other_station``  非本站场馆          a check-in at a venue of another station than
                                                the one that recorded it (``station_id``)
``unknown_activity``        活动不存在或未发布  a check-in naming an activity never published
``no_registration``         需报名无名额        a resident's first check-in at a published
                                                activity that requires registration, when that
                                                resident holds no place in it (see below)
``over_capacity``           超出活动容量        a resident's first check-in at a published
                                                activity when that resident comes after the
                                                first ``capacity`` residents (see below)
``not_attended``            评价者未签到        an evaluation from a resident without a
                                                check-in naming the activity, nor one at the
                                                activity's venue during it
==========================  ==================  ============================================

- **Registration** (for ``no_registration``): an activity requires registration when its
  latest ``registration_required`` (from ``activity.published`` and ``activity.updated``, by
  ``Version``; an event of a version before the field counts as false) is true and it was
  never cancelled (``activity.cancelled`` released its registrations: a check-in at a
  cancelled activity is judged as if it required none). A resident *holds a place* in it when a
  ``registration.submitted`` naming the activity names that resident, and no
  ``registration.cancelled`` naming the activity has its ``registration_id``: a registration
  only waitlisted (``registration.waitlisted``), cancelled, or released as a no-show holds
  none. The registrations count whatever their time, as the capacity counts its latest value:
  a place given after the check-in (a waitlisted resident promoted, even after the start)
  clears it, and one released after it (the decider did not know of the check-in yet: an
  offline kiosk) leaves the resident without one — the platform gave the place away. Like
  capacity, it judges residents, by their first check-in naming the activity: later ones are
  not conflicts again.
- **Capacity** counts distinct residents: the residents with a check-in naming the activity
  (any station, any venue, any time) are ranked by their first such check-in, the earliest by
  (``occurred_at``, ``event_id`` as text); the first check-in of each resident ranked past the
  activity's capacity (its latest, after updates) is ``over_capacity``. A resident's later
  check-ins at it are not conflicts again. When the activity requires registration its places
  are the registrations': only residents holding a place are ranked, so one holding a place is
  never pushed past the capacity by residents holding none (those are ``no_registration``,
  which comes first), and one is ``over_capacity`` only if more residents hold places than the
  capacity (which the deciders never allow).
- **Attendance** (for ``not_attended``): the evaluation's resident has a check-in naming the
  activity, or a check-in at the activity's venue in ``[starts_at, ends_at)`` of its latest
  state (whatever those check-ins' own kinds); at any time, before or after the evaluation. An
  evaluation is judged by its (resident, activity) pair, and counted once per pair, as
  satisfaction counts evaluations. (Both facts carry a resident: the catalog requires it.)
- Not kinds: a check-in at a cancelled activity, and an evaluation of an activity never
  published: the latter is ``not_attended`` unless its resident has a check-in naming it,
  which is itself ``unknown_activity``.

**The KPIs** leave out what DESIGN.md says they leave out, and show the conflicts beside them:
participation counts check-ins at venues the network knows (only ``unknown_venue`` check-ins
are left out: a check-in at another station's venue, at an activity never published, without a
place at one that requires registration, or beyond capacity still shows a resident who came);
satisfaction counts the evaluations whose resident attended (``not_attended`` ones are left
out). Utilization and precision are computed from decisions only: no fact, no conflict.

**Late facts and order.** A fact's kind depends on other events — decisions, and other facts
(check-ins that rank residents, or prove attendance) — so it is a function of the *set* of
events known, never of the order they arrived in:

- An evaluation may arrive before the check-in it depends on (a kiosk that was offline uploads
  later). Until that check-in is known the evaluation is ``not_attended``: the live view shows it
  as a conflict and leaves it out of satisfaction; once the check-in arrives the conflict is
  gone and the rating counts, on the evaluation's own day. Likewise a check-in known before its
  activity's publication is ``unknown_activity`` until the publication arrives, a late
  check-in with an earlier time can push another resident past the capacity, and a check-in
  known before its resident's registration is ``no_registration`` until the registration
  arrives (and becomes one again if a cancellation of that registration arrives). So a day's
  conflicts keep changing while facts can still arrive for it, and for the days they depend on
  (even after its own window closed: the live fold then renders that day again).
- The live fold (``streams.state``) sees the events that reached the platform within their own
  day's window (that local day plus the grace, by ``received_at``). For a closed day,
  reconciliation judges the warehouse's facts of that day with those same events: every event,
  decision or fact, admitted when it was received by the end of its own day's window
  (``projections.conflicts.ADMIT_IN_WINDOW``). The KPIs judge with every stored event.
- What the live fold keeps bounds what it can judge: activities until ``days_kept`` (35) days
  after they started and while facts of a day it keeps name them (a fact naming an activity it
  forgot is judged as if it was never published), and check-ins at a venue (for "during it")
  until their day's window closes, so a change of an activity's venue or time arriving later
  would not see them — the deciders refuse such a change once the activity has started.

``classify`` below is the definition as code: pure, over a set of validated events, what the
warehouse's SQL (``projections/conflicts.py``) and the live fold compute incrementally, and what
their tests compare them with.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

UNKNOWN_VENUE: Final = "unknown_venue"
VENUE_OF_OTHER_STATION: Final = "venue_of_other_station"
UNKNOWN_ACTIVITY: Final = "unknown_activity"
NO_REGISTRATION: Final = "no_registration"
OVER_CAPACITY: Final = "over_capacity"
NOT_ATTENDED: Final = "not_attended"

#: The kinds a check-in may have, in the order they are judged (the first that applies).
CHECKIN_KINDS: Final = (
    UNKNOWN_VENUE,
    VENUE_OF_OTHER_STATION,
    UNKNOWN_ACTIVITY,
    NO_REGISTRATION,
    OVER_CAPACITY,
)
#: The kinds an evaluation may have.
EVALUATION_KINDS: Final = (NOT_ATTENDED,)
#: Every kind: its code is what machines read (API, views, SQL), its label what people read.
KINDS: Final = (*CHECKIN_KINDS, *EVALUATION_KINDS)
LABELS: Final[Mapping[str, str]] = {
    UNKNOWN_VENUE: "场馆不存在",
    VENUE_OF_OTHER_STATION: "非本站场馆",
    UNKNOWN_ACTIVITY: "活动不存在或未发布",
    NO_REGISTRATION: "需报名无名额",
    OVER_CAPACITY: "超出活动容量",
    NOT_ATTENDED: "评价者未签到",
}
#: The fact type each kind flags.
FACT_OF: Final[Mapping[str, str]] = {
    **dict.fromkeys(CHECKIN_KINDS, "checkin.recorded"),
    **dict.fromkeys(EVALUATION_KINDS, "evaluation.submitted"),
}


def no_conflicts() -> dict[str, int]:
    """A count per kind, all zero (every kind is always present in counts)."""
    return dict.fromkeys(KINDS, 0)


def venue_conflict(venue_station: Mapping[str, str], station_id: str, venue_id: str) -> str:
    """The kind a check-in has for its venue alone (``""``: none): the first two kinds, which
    need nothing but the network."""
    owner = venue_station.get(venue_id)
    if owner is None:
        return UNKNOWN_VENUE
    if owner != station_id:
        return VENUE_OF_OTHER_STATION
    return ""


Version = tuple[datetime, str]  #: (occurred_at, event_id as text): "latest" and "first" order


@dataclass
class _Activity:
    """An activity as its decisions left it (latest value of each field by ``Version``), and
    its registrations: (registration id, resident) of each ``registration.submitted`` naming
    it, and the registration ids a ``registration.cancelled`` naming it cancelled."""

    published: bool = False
    cancelled: bool = False
    fields: dict[str, tuple[Version, Any]] = field(default_factory=dict)
    submitted: set[tuple[str, str]] = field(default_factory=set)
    withdrawn: set[str] = field(default_factory=set)

    def set(self, name: str, version: Version, value: Any) -> None:
        if value is None or (name == "venue_id" and value == ""):
            return
        current = self.fields.get(name)
        if current is None or current[0] < version:
            self.fields[name] = (version, value)

    def get(self, name: str) -> Any:
        value = self.fields.get(name)
        return None if value is None else value[1]

    def needs_place(self) -> bool:
        """Published, not cancelled, and its latest state requires registration."""
        return self.published and not self.cancelled and bool(self.get("registration_required"))

    def placed(self) -> builtins.set[str]:
        """The residents holding a place: a registration submitted and never cancelled."""
        return {r for rid, r in self.submitted if rid not in self.withdrawn}


@dataclass(frozen=True)
class Judgement:
    """The kind of every fact of a set of events (``""``: no conflict), by ``event_id``, and
    the (resident, activity) pairs that attended."""

    kinds: dict[str, str]
    attended: frozenset[tuple[str, str]]


def classify(events: Iterable[Any], venue_station: Mapping[str, str]) -> Judgement:
    """Judge every fact of ``events`` (validated events, each ``event_id`` once) against the
    decisions and the other facts among them; see the module's docstring for the rules."""
    activities: dict[str, _Activity] = {}
    activity: _Activity | None
    checkins: list[Any] = []
    evaluations: list[Any] = []
    for event in events:
        kind = event.type
        if kind in ("activity.published", "activity.updated"):
            payload = event.payload
            decided = activities.setdefault(payload.activity_id, _Activity())
            version = (event.occurred_at, str(event.event_id))
            decided.published |= kind == "activity.published"
            for name in ("venue_id", "starts_at", "ends_at", "capacity", "registration_required"):
                decided.set(name, version, getattr(payload, name, None))
        elif kind == "activity.cancelled":
            activities.setdefault(event.payload.activity_id, _Activity()).cancelled = True
        elif kind == "registration.submitted":
            registered = activities.setdefault(event.payload.activity_id, _Activity())
            registered.submitted.add((event.payload.registration_id, event.resident or ""))
        elif kind == "registration.cancelled":
            registered = activities.setdefault(event.payload.activity_id, _Activity())
            registered.withdrawn.add(event.payload.registration_id)
        elif kind == "checkin.recorded":
            checkins.append(event)
        elif kind == "evaluation.submitted":
            evaluations.append(event)

    # each resident's first check-in at each activity, then the residents past its capacity
    firsts: dict[str, dict[str, Version]] = {}
    for event in checkins:
        activity_id, resident = event.payload.activity_id, event.resident
        if activity_id and resident:
            version = (event.occurred_at, str(event.event_id))
            mine = firsts.setdefault(activity_id, {})
            if resident not in mine or version < mine[resident]:
                mine[resident] = version
    # ... the residents without a place at one that requires registration, and the ranking
    # for capacity: every resident, or those holding a place when it requires registration
    unplaced: set[str] = set()
    beyond: set[str] = set()
    for activity_id, residents in firsts.items():
        activity = activities.get(activity_id)
        if activity is None or not activity.published:
            continue
        ranked = list(residents.values())
        if activity.needs_place():
            placed = activity.placed()
            unplaced.update(v[1] for r, v in residents.items() if r not in placed)
            ranked = [v for r, v in residents.items() if r in placed]
        capacity = activity.get("capacity")
        if capacity:
            beyond.update(v[1] for v in sorted(ranked)[capacity:])

    kinds: dict[str, str] = {}
    for event in checkins:
        payload = event.payload
        kind = venue_conflict(venue_station, event.station_id, payload.venue_id)
        if not kind and payload.activity_id:
            activity = activities.get(payload.activity_id)
            if activity is None or not activity.published:
                kind = UNKNOWN_ACTIVITY
            elif str(event.event_id) in unplaced:
                kind = NO_REGISTRATION
            elif str(event.event_id) in beyond:
                kind = OVER_CAPACITY
        kinds[str(event.event_id)] = kind

    attended: set[tuple[str, str]] = set()
    wanted = {(e.resident or "", e.payload.activity_id) for e in evaluations}
    for resident, activity_id in wanted:
        if resident and resident in firsts.get(activity_id, {}):
            attended.add((resident, activity_id))
            continue
        activity = activities.get(activity_id)
        if activity is None:
            continue
        venue, starts, ends = (activity.get(n) for n in ("venue_id", "starts_at", "ends_at"))
        if resident and venue and starts and ends:
            for event in checkins:
                if (
                    event.resident == resident
                    and event.payload.venue_id == venue
                    and starts <= event.occurred_at < ends
                ):
                    attended.add((resident, activity_id))
                    break
    for event in evaluations:
        pair = (event.resident or "", event.payload.activity_id)
        kinds[str(event.event_id)] = "" if pair in attended else NOT_ATTENDED
    return Judgement(kinds, frozenset(attended))


def counts_by_day(
    events: Iterable[Any], venue_station: Mapping[str, str], tz: ZoneInfo
) -> dict[tuple[date, str], dict[str, int]]:
    """Conflicts per (local day, station) and kind, as the live fold's day counters and the
    warehouse's per-day counts give them: check-ins one each, evaluations once per (resident,
    activity) pair of that day and station. Only (day, station) with a conflict appear."""
    events = list(events)
    judgement = classify(events, venue_station)
    counts: dict[tuple[date, str], dict[str, int]] = {}
    pairs: set[tuple[date, str, str, str]] = set()
    for event in events:
        kind = judgement.kinds.get(str(event.event_id), "")
        if not kind:
            continue
        day = event.occurred_at.astimezone(tz).date()
        if event.type == "evaluation.submitted":
            pair = (day, event.station_id, event.resident or "", event.payload.activity_id)
            if pair in pairs:
                continue
            pairs.add(pair)
        counts.setdefault((day, event.station_id), no_conflicts())[kind] += 1
    return counts
