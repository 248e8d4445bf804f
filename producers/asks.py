"""The simulator's decisions as commands: what its staff and residents ask the platform.

The simulator models people who decide — staff design and publish activities, approve or
reject bookings; residents register, book, submit and vote for demands — and writes what
they decide as events. On the platform, decisions are the deciders' to make: ``Asks`` turns
each such event into the command that asks for it, with the role of whoever would ask
(operator, manager, or the station's kiosk for a resident), and leaves facts (check-ins,
evaluations, heartbeats) as events. A command's id derives from the event's, so an emission
sent twice is the same command, answered once.

A draft (``activity.designed`` without a venue or time) is asked for when the simulated
staff publish it, with the venue and time they chose: design, then publish.

The simulator does not model how staff handle demands; the station's manager here does what
the article describes: a daily-life demand (食堂, 卫生, 法律) is accepted (受理) and dispatched
(派单) to the partner unit at once, due in three days, and answered (答复) some time later —
one in three after its due date, so the scheduler marks it overdue first; a demand an activity
is designed for is accepted, linked to the activity and answered when it is published.
"""

from __future__ import annotations

import heapq
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from sanjiang.commands import model as m
from sanjiang.commands.model import Command
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7_derived

AskRole = Literal["operator", "manager", "kiosk"]
#: the partner unit a daily-life demand of each category is dispatched to
DISPATCH_UNITS = {
    "cooking_home": "社区食堂",
    "health_consult": "社区卫生服务中心",
    "elderly_legal_help": "街道法律服务所",
}
DISPATCH_DUE = timedelta(days=3)


@dataclass(frozen=True)
class Ask:
    """One command someone at a station would send for a simulated decision."""

    command_id: UUID
    station_id: str
    role: AskRole
    source: str
    body: m.Body

    @property
    def actor(self) -> str:
        """Who asks: the staff member or kiosk its source names."""
        return self.source.partition(":")[2]

    def command(self, issued_at: datetime) -> Command:
        """The command as the platform receives it at ``issued_at``."""
        return Command(
            command_id=self.command_id,
            station_id=self.station_id,
            issued_at=issued_at,
            actor=self.actor,
            role=self.role,
            source=self.source,
            body=self.body,
        )


class Asks:
    """Turns simulated events into asks; remembers drafts until they are published."""

    def __init__(self) -> None:
        self._drafts: dict[str, p.ActivityDesigned] = {}
        #: demand id -> the station it was submitted at (which decides about it)
        self._demand_station: dict[str, str] = {}
        #: demands the station's manager accepted
        self._accepted: set[str] = set()
        #: activity id -> the demands its draft answers (until it is published)
        self._linked: dict[str, list[str]] = {}
        #: answers the managers will give: (when, seq, ask)
        self._answers: list[tuple[datetime, int, Ask]] = []

    def due(self, until: datetime) -> list[Ask]:
        """The managers' answers to dispatched demands due by ``until``, in time order."""
        due: list[Ask] = []
        while self._answers and self._answers[0][0] <= until:
            due.append(heapq.heappop(self._answers)[2])
        return due

    def of(self, event: Event) -> list[Ask] | None:
        """The commands that ask for the decision ``event`` records, in order ([] for a
        draft, asked for when published); None for a fact, to send as an event."""
        payload = event.payload
        bodies = self._bodies(event, payload)
        if bodies is None:
            return None
        station_id = event.station_id
        if isinstance(payload, p.DemandSubmitted):
            self._demand_station[payload.demand_id] = station_id
        elif isinstance(payload, p.DemandVoted):
            # residents vote for demands anywhere in the network; a demand is its station's
            station_id = self._demand_station.get(payload.demand_id, station_id)
        asks = [
            Ask(uuid7_derived(event.event_id, i), station_id, role, event.source, body)
            for i, (role, body) in enumerate(bodies)
        ]
        return asks + self._handling(event, payload, len(asks))

    def _handling(self, event: Event, payload: p.Payload, first: int) -> list[Ask]:
        """What the station's manager asks in answer to the event (see the module's doc)."""
        station_id, at = event.station_id, event.occurred_at
        bodies: list[m.Body] = []
        if isinstance(payload, p.DemandSubmitted) and payload.category in DISPATCH_UNITS:
            demand_id = payload.demand_id
            self._accepted.add(demand_id)
            bodies += [
                m.AcceptDemand(demand_id=demand_id),
                m.DispatchDemand(
                    demand_id=demand_id,
                    dispatch_id=f"{demand_id}-x1"[:64],
                    unit=DISPATCH_UNITS[payload.category],
                    due_at=at + DISPATCH_DUE,
                ),
            ]
            # answered within 1-4.5 days (by the demand's id, so every run is the same)
            spread = zlib.crc32(demand_id.encode()) % 1000 / 1000
            answer_at = at + timedelta(days=1 + 3.5 * spread)
            answer = m.AnswerDemand(
                demand_id=demand_id,
                answer=f"已转{DISPATCH_UNITS[payload.category]}办理，已回复居民",
            )
            ask = Ask(
                uuid7_derived(event.event_id, first + 2),
                station_id,
                "manager",
                _desk(station_id),
                answer,
            )
            heapq.heappush(self._answers, (answer_at, len(self._answers) + first, ask))
        elif isinstance(payload, p.ActivityPublished):
            draft_demands = self._linked.pop(payload.activity_id, [])
            for demand_id in draft_demands:
                if self._demand_station.get(demand_id) != station_id:
                    continue  # another station's demand: its staff handle it
                if demand_id not in self._accepted:
                    self._accepted.add(demand_id)
                    bodies.append(m.AcceptDemand(demand_id=demand_id))
                bodies += [
                    m.LinkDemand(demand_id=demand_id, activity_ids=[payload.activity_id]),
                    m.AnswerDemand(
                        demand_id=demand_id, answer=f"已安排活动：{payload.title}"[:500]
                    ),
                ]
        return [
            Ask(
                uuid7_derived(event.event_id, first + 3 + i),
                station_id,
                "manager",
                _desk(station_id),
                body,
            )
            for i, body in enumerate(bodies)
        ]

    def _bodies(self, event: Event, payload: p.Payload) -> list[tuple[AskRole, m.Body]] | None:
        resident = event.resident
        match payload:
            case p.ActivityDesigned():
                self._drafts[payload.activity_id] = payload
                return []
            case p.ActivityPublished():
                draft = self._drafts.pop(payload.activity_id, None)
                if draft is not None:
                    self._linked[payload.activity_id] = list(draft.demand_ids)
                design = m.DesignActivity(
                    activity_id=payload.activity_id,
                    title=payload.title,
                    category=payload.category,
                    program=payload.program,
                    venue_id=payload.venue_id,
                    starts_at=payload.starts_at,
                    ends_at=payload.ends_at,
                    capacity=payload.capacity,
                    target_groups=payload.target_groups,
                    demand_ids=draft.demand_ids[:20] if draft is not None else [],
                    registration_required=payload.registration_required,
                )
                publish = m.PublishActivity(activity_id=payload.activity_id)
                return [("operator", design), ("operator", publish)]
            case p.ActivityUpdated():
                changes = payload.model_dump(exclude_unset=True)
                return [("operator", m.UpdateActivity(**changes))]
            case p.ActivityCancelled():
                cancel = m.CancelActivity(activity_id=payload.activity_id, reason=payload.reason)
                return [("operator", cancel)]
            case p.BookingRequested() if resident is not None:
                request = m.RequestBooking(
                    booking_id=payload.booking_id,
                    venue_id=payload.venue_id,
                    starts_at=payload.starts_at,
                    ends_at=payload.ends_at,
                    attendees=payload.attendees,
                    purpose=payload.purpose,
                    resident=resident,
                )
                return [("kiosk", request)]
            case p.BookingConfirmed():
                return [("manager", m.ApproveBooking(booking_id=payload.booking_id))]
            case p.BookingRejected():
                reason = payload.reason or "不符合场馆安排"
                return [("manager", m.RejectBooking(booking_id=payload.booking_id, reason=reason))]
            case p.BookingCancelled():  # staff cancel it, also when the resident asks
                cancel_booking = m.CancelBooking(
                    booking_id=payload.booking_id, reason=payload.reason
                )
                return [("operator", cancel_booking)]
            case p.BookingNoShow():
                return [("operator", m.MarkNoShow(booking_id=payload.booking_id))]
            case p.RegistrationSubmitted() if resident is not None:
                register = m.Register(
                    registration_id=payload.registration_id,
                    activity_id=payload.activity_id,
                    resident=resident,
                    age_band=payload.age_band,
                    minor=payload.minor,
                )
                return [("kiosk", register)]
            case p.RegistrationCancelled():
                cancel_registration = m.CancelRegistration(
                    registration_id=payload.registration_id, reason=payload.reason
                )
                return [(_role_of(event), cancel_registration)]
            case p.DemandSubmitted() if resident is not None:
                submit = m.SubmitDemand(
                    demand_id=payload.demand_id,
                    category=payload.category,
                    summary=payload.summary,
                    resident=resident,
                    age_band=payload.age_band,
                    minor=payload.minor,
                )
                return [("kiosk", submit)]
            case p.DemandVoted() if resident is not None:
                vote = m.VoteDemand(
                    demand_id=payload.demand_id,
                    resident=resident,
                    age_band=payload.age_band,
                    minor=payload.minor,
                )
                return [("kiosk", vote)]
            case (
                p.BookingRequested()
                | p.RegistrationSubmitted()
                | p.DemandSubmitted()
                | p.DemandVoted()
            ):
                return []  # a resident's decision without the resident: nobody to ask for
        return None


def _desk(station_id: str) -> str:
    """The source of what the station's manager asks (the station's console)."""
    return f"console:{station_id}-mgr"


def _role_of(event: Event) -> AskRole:
    return "kiosk" if event.source.startswith("kiosk:") else "operator"
