"""Every decider rule on hand-built states, each rejection reason included; exactly-once and
replay of the state. No I/O: ``handle`` decides and evolves in memory."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sanjiang.commands.context import Reference
from sanjiang.commands.decider import decide, handle
from sanjiang.commands.decision import Answer, Reason
from sanjiang.commands.model import BODY_TYPES, COMMAND, Command
from sanjiang.commands.state import StationState, evolve
from sanjiang.events import Event, decode_event, encode_event
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7

SH = ZoneInfo("Asia/Shanghai")
REF = Reference.load()
STATION = "WS-G1"
ROOM = "WS-G1-ACT"  # 40 places; Mon-Sat 08:30-20:00, Sun 09:00-17:00
MEET = "WS-G1-MEET"  # 24 places; closed on Sundays
YARD = "WS-G1-YARD"  # not bookable
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=SH)  # a Monday
RESIDENTS = [f"{i:032x}" for i in range(1, 300)]


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time ``days`` after NOW's date."""
    day = NOW.date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH)


class Desk:
    """One station's decider in memory, with a clock the test moves."""

    def __init__(self, station: str = STATION) -> None:
        self.state = StationState(station)
        self.now = NOW
        self.log: list[Event] = []

    def command(self, body: dict[str, Any], role: str = "manager", **envelope: Any) -> Command:
        return COMMAND.validate_python(
            {
                "command_id": uuid7(),
                "station_id": self.state.station_id,
                "issued_at": self.now,
                "actor": "alice",
                "role": role,
                "source": "console:alice",
                "body": body,
                **envelope,
            }
        )

    def ask(self, body: dict[str, Any], role: str = "manager", **envelope: Any) -> Answer:
        answer, events = handle(self.command(body, role, **envelope), self.state, REF)
        self.log.extend(events)
        return answer

    def events_of(self, answer: Answer) -> list[Event]:
        ids = set(answer.event_ids)
        return [e for e in self.log if str(e.event_id) in ids]

    def fact(self, payload: p.Payload, resident: str | None = None) -> None:
        """A kiosk's fact, folded into the state as the deciders' worker does."""
        from sanjiang.events import event_class_for

        cls = event_class_for(payload)
        event = cls(
            event_id=uuid7(),
            type=cls.TYPE,
            schema_version=cls.VERSION,
            occurred_at=self.now,
            station_id=self.state.station_id,
            source="kiosk:k1",
            resident=resident,
            payload=payload,
        )
        self.log.append(event)
        evolve(self.state, event)


def accepted(answer: Answer) -> Answer:
    assert answer.accepted, f"rejected: {answer.reason}: {answer.detail}"
    return answer


def rejected(answer: Answer, reason: Reason, cause: str | None = None) -> Answer:
    assert not answer.accepted, f"accepted: {answer}"
    assert answer.reason == reason.value, answer.detail
    assert answer.detail
    if cause is not None:
        assert answer.cause == cause
    return answer


def design(activity_id: str = "a1", **over: Any) -> dict[str, Any]:
    body = {
        "kind": "activity.design",
        "activity_id": activity_id,
        "title": "巧手工坊",
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": ROOM,
        "starts_at": at(1, 14).isoformat(),
        "ends_at": at(1, 16).isoformat(),
        "capacity": 10,
        "target_groups": ["elderly"],
    }
    return body | over


def published(desk: Desk, activity_id: str = "a1", **over: Any) -> None:
    accepted(desk.ask(design(activity_id, **over)))
    accepted(desk.ask({"kind": "activity.publish", "activity_id": activity_id}))


def register(desk: Desk, i: int, activity_id: str = "a1", role: str = "kiosk") -> Answer:
    return desk.ask(
        {
            "kind": "registration.register",
            "registration_id": f"r{i}",
            "activity_id": activity_id,
            "resident": RESIDENTS[i],
            "age_band": "60-69",
        },
        role=role,
    )


def booking(booking_id: str = "b1", **over: Any) -> dict[str, Any]:
    body = {
        "kind": "booking.request",
        "booking_id": booking_id,
        "venue_id": ROOM,
        "starts_at": at(2, 9).isoformat(),
        "ends_at": at(2, 11).isoformat(),
        "attendees": 12,
        "resident": RESIDENTS[0],
    }
    return body | over


# --- activities ---------------------------------------------------------------------------


def test_a_draft_is_designed_with_its_plan() -> None:
    desk = Desk()
    answer = accepted(desk.ask(design(), role="operator"))
    (event,) = desk.events_of(answer)
    assert event.type == "activity.designed"
    assert isinstance(event.payload, p.ActivityDesigned)
    assert event.payload.venue_id == ROOM
    assert event.payload.release_after_min == 15
    assert answer.version == 1
    assert desk.state.activities["a1"].status == "draft"


def test_an_activity_requires_registration_from_its_design_to_its_publication() -> None:
    desk = Desk()
    (designed,) = desk.events_of(accepted(desk.ask(design())))
    assert designed.payload.registration_required is False  # type: ignore[attr-defined]
    assert designed.schema_version == 3
    answer = accepted(desk.ask(design("a2", registration_required=True)))
    (designed,) = desk.events_of(answer)
    assert designed.payload.registration_required is True  # type: ignore[attr-defined]
    assert desk.state.activities["a2"].registration_required is True
    (published_event,) = desk.events_of(
        accepted(desk.ask({"kind": "activity.publish", "activity_id": "a2"}))
    )
    assert isinstance(published_event.payload, p.ActivityPublished)
    assert published_event.payload.registration_required is True
    assert published_event.schema_version == 2
    # the rule may change alone, on a published activity, until it starts; an update of
    # something else leaves it as it was
    (updated,) = desk.events_of(
        accepted(
            desk.ask(
                {"kind": "activity.update", "activity_id": "a2", "registration_required": False}
            )
        )
    )
    assert isinstance(updated.payload, p.ActivityUpdated)
    assert updated.payload.registration_required is False and updated.payload.capacity is None
    assert desk.state.activities["a2"].registration_required is False
    accepted(desk.ask({"kind": "activity.update", "activity_id": "a2", "title": "新标题"}))
    assert desk.state.activities["a2"].registration_required is False
    # a draft's rule changed before publishing is the one published
    accepted(desk.ask(design("a3", starts_at=at(2, 14).isoformat(), ends_at=at(2, 16).isoformat())))
    accepted(
        desk.ask({"kind": "activity.update", "activity_id": "a3", "registration_required": True})
    )
    (published_event,) = desk.events_of(
        accepted(desk.ask({"kind": "activity.publish", "activity_id": "a3"}))
    )
    assert published_event.payload.registration_required is True
    desk.now = at(2, 14, 5)
    rejected(
        desk.ask({"kind": "activity.update", "activity_id": "a3", "registration_required": False}),
        Reason.ACTIVITY_STARTED,
    )
    # replaying the log gives the same rules
    assert _replayed(desk.log) == desk.state


def test_every_session_of_a_series_requires_registration_if_the_series_does() -> None:
    desk = Desk()
    body = design("s1", registration_required=True) | {"kind": "activity.design_series"}
    answer = accepted(desk.ask(body | {"weeks": 3}))
    assert [e.payload.registration_required for e in desk.events_of(answer)] == [True] * 3  # type: ignore[attr-defined]
    assert all(desk.state.activities[f"s1-w{k}"].registration_required for k in (1, 2, 3))


def test_the_rule_survives_the_station_record() -> None:
    from sanjiang.commands.records import read_record, station_record
    from sanjiang.commands.replay import Through

    desk = Desk()
    published(desk, registration_required=True)
    state, _ = read_record(STATION, station_record(desk.state, Through()))
    assert state.activities["a1"].registration_required is True
    assert state == desk.state


@pytest.mark.parametrize(
    ("over", "reason", "cause"),
    [
        ({"venue_id": "WS-G2-ACT"}, Reason.VENUE_UNKNOWN, "WS-G2-ACT"),
        ({"venue_id": "NOWHERE"}, Reason.VENUE_UNKNOWN, "NOWHERE"),
        ({"capacity": 5000}, Reason.OVER_VENUE_CAPACITY, ROOM),
        (  # a Sunday: the meeting room is closed
            {
                "venue_id": MEET,
                "starts_at": at(6, 10).isoformat(),
                "ends_at": at(6, 11).isoformat(),
            },
            Reason.VENUE_CLOSED,
            "opening_hours",
        ),
        (  # past closing time
            {"starts_at": at(1, 19).isoformat(), "ends_at": at(1, 21).isoformat()},
            Reason.VENUE_CLOSED,
            "opening_hours",
        ),
        ({"starts_at": at(0, 8).isoformat()}, Reason.IN_THE_PAST, None),
        ({"program": "meiwei_camp"}, Reason.UNKNOWN_CATEGORY, None),
    ],
)
def test_a_draft_that_cannot_be_held_is_rejected(
    over: dict[str, Any], reason: Reason, cause: str | None
) -> None:
    desk = Desk()
    rejected(desk.ask(design(**over)), reason, cause)
    assert desk.state.activities == {}


def test_an_activity_id_is_used_once() -> None:
    desk = Desk()
    accepted(desk.ask(design()))
    rejected(desk.ask(design()), Reason.DUPLICATE_ID, "a1")


def test_a_weekly_series_makes_one_activity_per_week() -> None:
    desk = Desk()
    answer = accepted(desk.ask(design("s1") | {"kind": "activity.design_series", "weeks": 4}))
    events = desk.events_of(answer)
    assert [e.payload.activity_id for e in events] == ["s1-w1", "s1-w2", "s1-w3", "s1-w4"]  # type: ignore[attr-defined]
    starts = [desk.state.activities[f"s1-w{k}"].starts_at for k in range(1, 5)]
    assert starts == [at(1 + 7 * k, 14) for k in range(4)]
    assert {desk.state.activities[f"s1-w{k}"].series_id for k in range(1, 5)} == {"s1"}


def test_a_series_with_one_week_closed_is_rejected_naming_the_week() -> None:
    desk = Desk()
    accepted(
        desk.ask(
            {
                "kind": "venue.close",
                "closure_id": "c1",
                "venue_id": ROOM,
                "starts_at": at(15, 0).isoformat(),
                "ends_at": at(16, 0).isoformat(),
                "reason": "设备检修",
            }
        )
    )
    answer = rejected(
        desk.ask(design("s1") | {"kind": "activity.design_series", "weeks": 4}),
        Reason.VENUE_CLOSED,
        "c1",
    )
    assert answer.detail.startswith("week 3:")
    assert not any(a.startswith("s1") for a in desk.state.activities)


def test_publish_takes_the_venue_once() -> None:
    desk = Desk()
    published(desk, "a1")
    accepted(desk.ask(design("a2")))
    rejected(desk.ask({"kind": "activity.publish", "activity_id": "a2"}), Reason.VENUE_TAKEN, "a1")
    rejected(desk.ask({"kind": "activity.publish", "activity_id": "a1"}), Reason.ALREADY_PUBLISHED)


def test_the_buffer_between_uses_is_kept() -> None:
    desk = Desk()
    published(desk, "a1")  # 14:00-16:00, buffer 15 minutes
    near = {"starts_at": at(1, 16, 10).isoformat(), "ends_at": at(1, 17).isoformat()}
    accepted(desk.ask(design("a2", **near)))
    rejected(desk.ask({"kind": "activity.publish", "activity_id": "a2"}), Reason.VENUE_TAKEN, "a1")
    after = {"starts_at": at(1, 16, 15).isoformat(), "ends_at": at(1, 17).isoformat()}
    published(desk, "a3", **after)


def test_publish_checks_the_expected_version() -> None:
    desk = Desk()
    accepted(desk.ask(design()))
    accepted(desk.ask({"kind": "activity.update", "activity_id": "a1", "title": "新标题"}))
    answer = rejected(
        desk.ask({"kind": "activity.publish", "activity_id": "a1"}, expected_version=1),
        Reason.VERSION_CONFLICT,
    )
    assert answer.version == 2
    assert (
        accepted(
            desk.ask({"kind": "activity.publish", "activity_id": "a1"}, expected_version=2)
        ).version
        == 3
    )


def test_a_started_or_cancelled_activity_cannot_change() -> None:
    desk = Desk()
    published(desk)
    desk.now = at(1, 14, 5)
    rejected(
        desk.ask({"kind": "activity.update", "activity_id": "a1", "capacity": 20}),
        Reason.ACTIVITY_STARTED,
    )
    desk.now = NOW
    accepted(desk.ask({"kind": "activity.cancel", "activity_id": "a1", "reason": "下雨"}))
    rejected(desk.ask({"kind": "activity.publish", "activity_id": "a1"}), Reason.ACTIVITY_CANCELLED)
    rejected(desk.ask({"kind": "activity.cancel", "activity_id": "a1"}), Reason.ACTIVITY_CANCELLED)
    rejected(desk.ask({"kind": "activity.publish", "activity_id": "zz"}), Reason.NOT_FOUND, "zz")


def test_moving_a_published_activity_onto_a_taken_slot_is_rejected() -> None:
    desk = Desk()
    published(desk, "a1")
    published(desk, "a2", starts_at=at(1, 17).isoformat(), ends_at=at(1, 18).isoformat())
    move = {"starts_at": at(1, 15).isoformat(), "ends_at": at(1, 17, 30).isoformat()}
    rejected(
        desk.ask({"kind": "activity.update", "activity_id": "a2", **move}), Reason.VENUE_TAKEN, "a1"
    )


# --- registrations ------------------------------------------------------------------------


def test_registrations_fill_the_places_then_the_waitlist_in_order() -> None:
    desk = Desk()
    published(desk)  # 10 places
    answers = [accepted(register(desk, i)) for i in range(14)]
    assert [a.outcome for a in answers[:10]] == [None] * 10
    assert [(a.outcome, a.position) for a in answers[10:]] == [
        ("waitlisted", k) for k in (1, 2, 3, 4)
    ]
    activity = desk.state.activities["a1"]
    assert len(activity.registered) == 10
    assert activity.waitlist == ["r10", "r11", "r12", "r13"]


def test_a_registration_is_refused_for_what_cannot_take_it() -> None:
    desk = Desk()
    accepted(desk.ask(design()))
    rejected(register(desk, 0), Reason.NOT_PUBLISHED)
    accepted(desk.ask({"kind": "activity.publish", "activity_id": "a1"}))
    accepted(register(desk, 0))
    rejected(register(desk, 0), Reason.DUPLICATE_ID, "r0")
    again = desk.ask(
        {
            "kind": "registration.register",
            "registration_id": "r-again",
            "activity_id": "a1",
            "resident": RESIDENTS[0],
        },
        role="kiosk",
    )
    rejected(again, Reason.ALREADY_REGISTERED, "r0")
    rejected(register(desk, 1, activity_id="nope"), Reason.NOT_FOUND)
    desk.now = at(1, 14)
    rejected(register(desk, 2), Reason.ACTIVITY_STARTED)


def test_a_cancelled_place_goes_to_the_first_waiting_resident() -> None:
    desk = Desk()
    published(desk, capacity=2)
    for i in range(5):
        accepted(register(desk, i))
    answer = accepted(desk.ask({"kind": "registration.cancel", "registration_id": "r0"}))
    events = desk.events_of(answer)
    assert [(e.type, e.payload.registration_id) for e in events] == [  # type: ignore[attr-defined]
        ("registration.cancelled", "r0"),
        ("registration.submitted", "r2"),
    ]
    assert events[1].resident == RESIDENTS[2]
    activity = desk.state.activities["a1"]
    assert set(activity.registered) == {"r1", "r2"}
    assert activity.waitlist == ["r3", "r4"]
    # a waiting resident who cancels frees no place
    answer = accepted(desk.ask({"kind": "registration.cancel", "registration_id": "r3"}))
    assert [e.type for e in desk.events_of(answer)] == ["registration.cancelled"]
    assert activity.waitlist == ["r4"]
    rejected(
        desk.ask({"kind": "registration.cancel", "registration_id": "r3"}), Reason.INVALID_STATE
    )


def test_no_shows_release_their_places_to_the_waitlist_once() -> None:
    desk = Desk()
    published(desk, capacity=3)
    for i in range(5):
        accepted(register(desk, i))
    release = {"kind": "activity.release_no_shows", "activity_id": "a1"}
    desk.now = at(1, 14, 10)
    rejected(desk.ask(release, role="scheduler"), Reason.TOO_EARLY)
    desk.fact(
        p.CheckinRecorded(visit_id="v1", venue_id=ROOM, activity_id="a1"), resident=RESIDENTS[1]
    )
    desk.now = at(1, 14, 15)
    answer = accepted(desk.ask(release, role="scheduler"))
    events = desk.events_of(answer)
    assert [e.type for e in events] == [
        "activity.places_released",
        "registration.cancelled",
        "registration.cancelled",
        "registration.submitted",
        "registration.submitted",
    ]
    assert events[0].payload.registration_ids == ["r0", "r2"]  # type: ignore[attr-defined]
    assert {e.payload.reason for e in events[1:3]} == {"no_show_released"}  # type: ignore[attr-defined]
    assert set(desk.state.activities["a1"].registered) == {"r1", "r3", "r4"}
    rejected(desk.ask(release, role="scheduler"), Reason.INVALID_STATE)


def test_a_per_activity_release_delay() -> None:
    desk = Desk()
    published(desk, release_after_min=30)
    desk.now = at(1, 14, 20)
    rejected(
        desk.ask({"kind": "activity.release_no_shows", "activity_id": "a1"}, role="scheduler"),
        Reason.TOO_EARLY,
    )


def test_cancelling_an_activity_releases_every_registration_with_the_reason() -> None:
    desk = Desk()
    published(desk, capacity=2)
    for i in range(3):
        accepted(register(desk, i))
    answer = accepted(
        desk.ask({"kind": "activity.cancel", "activity_id": "a1", "reason": "场地漏水"})
    )
    events = desk.events_of(answer)
    assert [e.type for e in events] == ["activity.cancelled"] + ["registration.cancelled"] * 3
    assert {e.resident for e in events[1:]} == set(RESIDENTS[:3])
    assert all("场地漏水" in e.payload.reason for e in events[1:])  # type: ignore[attr-defined]
    # the room is free again
    published(desk, "a2")


def test_capacity_cannot_drop_below_the_places_given_and_a_raise_promotes() -> None:
    desk = Desk()
    published(desk, capacity=2)
    for i in range(4):
        accepted(register(desk, i))
    update = {"kind": "activity.update", "activity_id": "a1"}
    rejected(desk.ask(update | {"capacity": 1}), Reason.CAPACITY_BELOW_REGISTERED)
    rejected(desk.ask(update | {"capacity": 41}), Reason.OVER_VENUE_CAPACITY)
    answer = accepted(desk.ask(update | {"capacity": 3}))
    assert [e.type for e in desk.events_of(answer)] == [
        "activity.updated",
        "registration.submitted",
    ]
    assert desk.state.activities["a1"].waitlist == ["r3"]


# --- bookings and closures ----------------------------------------------------------------


def test_a_booking_waits_for_approval_then_holds_the_room() -> None:
    desk = Desk()
    answer = accepted(desk.ask(booking(), role="kiosk"))
    assert answer.outcome == "pending"
    # pending requests do not hold the room; the first approved does
    accepted(desk.ask(booking("b2"), role="kiosk"))
    accepted(desk.ask({"kind": "booking.approve", "booking_id": "b1"}))
    rejected(desk.ask({"kind": "booking.approve", "booking_id": "b2"}), Reason.VENUE_TAKEN, "b1")
    rejected(desk.ask(booking("b3"), role="kiosk"), Reason.VENUE_TAKEN, "b1")
    accepted(desk.ask({"kind": "booking.reject", "booking_id": "b2", "reason": "时段已满"}))
    rejected(desk.ask({"kind": "booking.approve", "booking_id": "b2"}), Reason.INVALID_STATE, "b2")


@pytest.mark.parametrize(
    ("over", "reason", "cause"),
    [
        ({"venue_id": YARD}, Reason.VENUE_NOT_BOOKABLE, YARD),
        ({"ends_at": at(2, 9, 20).isoformat()}, Reason.OUTSIDE_BOOKING_RULES, "length"),
        ({"ends_at": at(2, 14).isoformat()}, Reason.OUTSIDE_BOOKING_RULES, "length"),
        (
            {"starts_at": at(40, 9).isoformat(), "ends_at": at(40, 10).isoformat()},
            Reason.OUTSIDE_BOOKING_RULES,
            "ahead",
        ),
        ({"attendees": 41}, Reason.OVER_VENUE_CAPACITY, ROOM),
        (
            {"starts_at": at(2, 7).isoformat(), "ends_at": at(2, 9).isoformat()},
            Reason.VENUE_CLOSED,
            "opening_hours",
        ),
        ({"starts_at": at(0, 7).isoformat()}, Reason.IN_THE_PAST, None),
        ({"venue_id": "WS-C-HALL"}, Reason.VENUE_UNKNOWN, "WS-C-HALL"),
    ],
)
def test_a_booking_outside_the_rules_is_rejected(
    over: dict[str, Any], reason: Reason, cause: str | None
) -> None:
    desk = Desk()
    rejected(desk.ask(booking(**over), role="kiosk"), reason, cause)


def test_a_closure_flags_what_it_collides_with_and_closes_the_venue() -> None:
    desk = Desk()
    published(desk)  # day 1, 14-16
    accepted(desk.ask(booking()))  # day 2, 9-11, pending
    answer = accepted(
        desk.ask(
            {
                "kind": "venue.close",
                "closure_id": "c1",
                "venue_id": ROOM,
                "starts_at": at(1, 0).isoformat(),
                "ends_at": at(3, 0).isoformat(),
                "reason": "元旦放假",
            }
        )
    )
    (event,) = desk.events_of(answer)
    assert event.payload.collides_with == ["a1", "b1"]  # type: ignore[attr-defined]
    rejected(desk.ask({"kind": "booking.approve", "booking_id": "b1"}), Reason.VENUE_CLOSED, "c1")
    rejected(desk.ask(booking("b2", venue_id=ROOM)), Reason.VENUE_CLOSED, "c1")
    accepted(desk.ask({"kind": "venue.lift_closure", "closure_id": "c1"}))
    accepted(desk.ask({"kind": "booking.approve", "booking_id": "b1"}))
    rejected(desk.ask({"kind": "venue.lift_closure", "closure_id": "c1"}), Reason.NOT_FOUND)


def test_check_in_and_no_show_keep_to_the_booking_time() -> None:
    desk = Desk()
    accepted(desk.ask(booking()))
    accepted(desk.ask({"kind": "booking.approve", "booking_id": "b1"}))
    accepted(desk.ask(booking("b2", starts_at=at(3, 9).isoformat(), ends_at=at(3, 10).isoformat())))
    accepted(desk.ask({"kind": "booking.approve", "booking_id": "b2"}))
    rejected(desk.ask({"kind": "booking.check_in", "booking_id": "b1"}), Reason.TOO_EARLY)
    desk.now = at(2, 8, 40)
    accepted(desk.ask({"kind": "booking.check_in", "booking_id": "b1"}))
    assert desk.state.bookings["b1"].status == "checked_in"
    rejected(desk.ask({"kind": "booking.mark_no_show", "booking_id": "b1"}), Reason.INVALID_STATE)
    desk.now = at(3, 9, 10)
    rejected(desk.ask({"kind": "booking.mark_no_show", "booking_id": "b2"}), Reason.TOO_EARLY)
    desk.now = at(3, 9, 15)
    accepted(desk.ask({"kind": "booking.mark_no_show", "booking_id": "b2"}))
    rejected(desk.ask({"kind": "booking.cancel", "booking_id": "b2"}), Reason.INVALID_STATE)


def test_a_cancelled_booking_frees_the_room() -> None:
    desk = Desk()
    accepted(desk.ask(booking()))
    accepted(desk.ask({"kind": "booking.approve", "booking_id": "b1"}))
    accepted(desk.ask({"kind": "booking.cancel", "booking_id": "b1", "reason": "改期"}))
    accepted(desk.ask(booking("b2")))
    accepted(desk.ask({"kind": "booking.approve", "booking_id": "b2"}))


# --- demands ------------------------------------------------------------------------------


def test_a_demand_goes_from_submission_to_answer() -> None:
    desk = Desk()
    submit = {
        "kind": "demand.submit",
        "demand_id": "d1",
        "category": "handcraft",
        "summary": "想学剪纸",
        "resident": RESIDENTS[0],
    }
    accepted(desk.ask(submit, role="kiosk"))
    rejected(desk.ask(submit, role="kiosk"), Reason.DUPLICATE_ID)
    vote = {"kind": "demand.vote", "demand_id": "d1", "resident": RESIDENTS[1]}
    accepted(desk.ask(vote, role="kiosk"))
    rejected(desk.ask(vote, role="kiosk"), Reason.ALREADY_VOTED)
    dispatch = {
        "kind": "demand.dispatch",
        "demand_id": "d1",
        "dispatch_id": "x1",
        "unit": "文化站",
        "due_at": at(3, 17).isoformat(),
    }
    rejected(desk.ask(dispatch), Reason.INVALID_STATE)  # not accepted yet
    accepted(desk.ask({"kind": "demand.accept", "demand_id": "d1"}, role="operator"))
    rejected(desk.ask(dispatch | {"due_at": at(0, 8).isoformat()}), Reason.IN_THE_PAST)
    accepted(desk.ask(dispatch))
    overdue = {"kind": "demand.mark_overdue", "demand_id": "d1"}
    rejected(desk.ask(overdue, role="scheduler"), Reason.TOO_EARLY)
    desk.now = at(3, 17)
    accepted(desk.ask(overdue, role="scheduler"))
    rejected(desk.ask(overdue, role="scheduler"), Reason.INVALID_STATE)
    accepted(desk.ask({"kind": "demand.answer", "demand_id": "d1", "answer": "已开班"}))
    link = {"kind": "demand.link", "demand_id": "d1", "activity_ids": ["a9"]}
    rejected(desk.ask(link), Reason.NOT_FOUND, "a9")
    desk.now = NOW
    accepted(desk.ask(design("a9")))
    accepted(desk.ask(link))
    accepted(desk.ask({"kind": "demand.close", "demand_id": "d1"}))
    demand = desk.state.demands["d1"]
    assert (demand.status, demand.answer, demand.activity_ids) == ("closed", "已开班", ["a9"])
    assert demand.dispatch is not None and demand.dispatch.overdue
    rejected(desk.ask(vote | {"resident": RESIDENTS[2]}, role="kiosk"), Reason.INVALID_STATE)
    rejected(
        desk.ask(submit | {"demand_id": "d2", "category": "no_such"}, role="kiosk"),
        Reason.UNKNOWN_CATEGORY,
    )


# --- access, exactly once, replay ---------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "body"),
    [
        ("viewer", design()),
        ("analyst", design()),
        ("kiosk", design()),
        ("operator", {"kind": "booking.approve", "booking_id": "b1"}),
        ("operator", {"kind": "demand.answer", "demand_id": "d1", "answer": "x"}),
        ("kiosk", {"kind": "activity.publish", "activity_id": "a1"}),
        ("manager", {"kind": "activity.release_no_shows", "activity_id": "a1"}),
    ],
)
def test_a_role_may_not_ask_what_it_is_not_given(role: str, body: dict[str, Any]) -> None:
    desk = Desk()
    rejected(desk.ask(body, role=role), Reason.FORBIDDEN)


def test_a_command_asked_twice_is_decided_once() -> None:
    desk = Desk()
    published(desk, capacity=1)
    command = desk.command(
        {
            "kind": "registration.register",
            "registration_id": "r1",
            "activity_id": "a1",
            "resident": RESIDENTS[1],
        },
        role="kiosk",
    )
    first, events = handle(command, desk.state, REF)
    again, more = handle(command, desk.state, REF)
    assert first.accepted and again == first
    assert more == []
    assert events[-1].type == "command.decided"
    assert [str(e.event_id) for e in events[:-1]] == list(first.event_ids)


def test_the_same_command_on_the_same_state_gives_the_same_events() -> None:
    def run() -> tuple[list[Event], Command]:
        desk = Desk()
        published(desk)
        return desk.log, desk.command(
            design("a2", starts_at=at(1, 17).isoformat(), ends_at=at(1, 18).isoformat())
        )

    log, command = run()
    state_a, state_b = StationState(STATION), StationState(STATION)
    for event in log:
        evolve(state_a, event)
        evolve(state_b, event)
    decision_a, decision_b = decide(command, state_a, REF), decide(command, state_b, REF)
    assert decision_a == decision_b
    assert decision_a.accepted


def test_replaying_the_log_rebuilds_the_state() -> None:
    desk = Desk()
    published(desk, capacity=2)
    for i in range(4):
        register(desk, i)
    desk.ask({"kind": "registration.cancel", "registration_id": "r1"})
    desk.ask(booking())
    desk.ask({"kind": "booking.approve", "booking_id": "b1"})
    desk.ask(
        {
            "kind": "demand.submit",
            "demand_id": "d1",
            "category": "handcraft",
            "resident": RESIDENTS[5],
        },
        role="kiosk",
    )
    desk.ask({"kind": "booking.approve", "booking_id": "nope"})  # a rejection is recorded too
    rebuilt = StationState(STATION)
    for event in desk.log:
        evolve(rebuilt, decode_event(encode_event(event)))  # through the wire format
    assert rebuilt == desk.state
    assert len(rebuilt.decided) == sum(1 for e in desk.log if e.type == "command.decided")


def test_every_command_kind_has_a_rule_and_an_access_entry() -> None:
    from sanjiang.commands.access import ALLOWED
    from sanjiang.commands.decider import _RULES

    assert set(_RULES) == set(BODY_TYPES)
    assert ALLOWED["admin"] == frozenset(BODY_TYPES)
    granted = set().union(*(ALLOWED[r] for r in ("manager", "kiosk", "scheduler")))
    assert granted == set(BODY_TYPES)


def test_a_v1_activity_design_reads_as_the_current_version() -> None:
    raw = {
        "event_id": str(uuid7()),
        "type": "activity.designed",
        "schema_version": 1,
        "occurred_at": NOW.isoformat(),
        "station_id": STATION,
        "source": "console",
        "payload": {
            "activity_id": "a1",
            "title": "t",
            "category": "handcraft",
            "program": "qiaoshou_workshop",
            "target_groups": ["all"],
            "planned_capacity": 5,
        },
    }
    import orjson

    event = decode_event(orjson.dumps(raw))
    assert event.schema_version == 3
    assert isinstance(event.payload, p.ActivityDesigned)
    assert event.payload.venue_id is None
    assert event.payload.registration_required is False


def _busy_desk() -> Desk:
    """A station with a bit of everything: registrations and a waitlist, a booking, a
    demand, a closure, a kiosk's check-in, a rejection."""
    desk = Desk()
    published(desk, capacity=1)
    register(desk, 0)
    register(desk, 1)
    desk.ask(booking())
    desk.ask(
        {
            "kind": "demand.submit",
            "demand_id": "d1",
            "category": "handcraft",
            "resident": RESIDENTS[5],
        },
        role="kiosk",
    )
    desk.ask(
        {
            "kind": "venue.close",
            "closure_id": "c1",
            "venue_id": MEET,
            "starts_at": at(3, 0).isoformat(),
            "ends_at": at(4, 0).isoformat(),
            "reason": "检修",
        }
    )
    desk.fact(
        p.CheckinRecorded(visit_id="v1", venue_id=ROOM, activity_id="a1"), resident=RESIDENTS[0]
    )
    desk.ask({"kind": "registration.cancel", "registration_id": "r0"})  # r1 is promoted
    desk.ask({"kind": "booking.approve", "booking_id": "nope"})
    return desk


def test_the_state_survives_its_station_record() -> None:
    from sanjiang.commands import records
    from sanjiang.commands.records import read_record, station_record
    from sanjiang.commands.replay import Through

    desk = _busy_desk()
    through = Through(decided=41, facts=40, commands=7)
    assert read_record(STATION, station_record(desk.state, through)) == (desk.state, through)
    assert read_record(STATION, None) == (StationState(STATION), Through())
    with pytest.raises(ValueError, match="holds"):
        read_record("WS-C", station_record(desk.state, through))
    # only the newest answers are kept, oldest dropped first
    newest = list(desk.state.decided)[-3:]
    original, records.KEEP_ANSWERS = records.KEEP_ANSWERS, 3
    try:
        kept, _ = read_record(STATION, station_record(desk.state, through))
    finally:
        records.KEEP_ANSWERS = original
    assert list(kept.decided) == newest


def test_a_station_record_is_compressed_text_and_one_written_before_still_reads() -> None:
    """The record is compressed text (a busy station's JSON passed the broker's 1 MB limit);
    a record of the JSON itself, as written before, reads the same."""
    import msgspec

    from sanjiang.commands.records import COMPRESSED, StationRecord, read_record, station_record
    from sanjiang.commands.replay import Through

    desk = _busy_desk()
    through = Through(decided=41, facts=40, commands=7)
    record = station_record(desk.state, through)
    plain = msgspec.json.encode(StationRecord(desk.state, through))
    assert record.startswith(COMPRESSED) and record.isascii()
    assert len(record) < len(plain)
    assert read_record(STATION, record.decode()) == (desk.state, through)  # as the table has it
    assert read_record(STATION, plain.decode()) == (desk.state, through)


def _replayed(log: list[Event], state: StationState | None = None, **through: int) -> StationState:
    from sanjiang.commands.replay import Replay, Through

    state = state if state is not None else StationState(STATION)
    replay = Replay({STATION: state}, {STATION: Through(**through)})
    for offset, event in enumerate(log):
        replay.apply(decode_event(encode_event(event)), offset)
    return state


def _foreign(payload: p.Payload) -> Event:
    """An event of a decided type that no decider wrote (a console key asserted it)."""
    from sanjiang.events import event_class_for

    cls = event_class_for(payload)
    return cls(
        event_id=uuid7(),
        type=cls.TYPE,
        schema_version=cls.VERSION,
        occurred_at=NOW,
        station_id=STATION,
        source="console:x",
        payload=payload,
    )


def test_a_decision_counts_when_its_audit_is_in_the_log() -> None:
    desk = _busy_desk()
    log = list(desk.log)
    # a console key's assertion, never decided: not folded
    log.insert(
        3,
        _foreign(
            p.BookingConfirmed(
                booking_id="b1", venue_id=ROOM, starts_at=at(2, 9), ends_at=at(2, 11)
            )
        ),
    )
    # a decision whose worker died before its audit was written, decided again after
    twin = Desk()
    twin.state = _replayed(desk.log)
    answer = twin.ask({"kind": "activity.update", "activity_id": "a1", "capacity": 3})
    accepted(answer)
    torn = [e for e in twin.log if e.type != "command.decided"]
    assert torn
    log += torn + twin.log
    # the same decision written twice (a takeover): the first counts
    log += twin.log
    assert _replayed(log) == twin.state
    assert twin.state.activities["a1"].capacity == 3


def test_a_snapshot_and_the_log_after_it_rebuild_the_state() -> None:
    from sanjiang.commands.records import read_record, station_record
    from sanjiang.commands.replay import Through

    desk = _busy_desk()
    cut = next(i for i, e in enumerate(desk.log) if e.type == "checkin.recorded") + 1
    snapshot = station_record(_replayed(desk.log[:cut]), Through(decided=cut - 1, facts=cut - 1))
    state, through = read_record(STATION, snapshot)
    assert state != desk.state
    assert _replayed(desk.log, state, decided=through.decided, facts=through.facts) == desk.state
    # facts and decisions held to different offsets: each kind is applied after its own
    facts_behind = _replayed(desk.log[: cut - 1])  # without the check-in
    rebuilt = _replayed(desk.log, facts_behind, decided=cut - 1, facts=cut - 2)
    assert rebuilt == desk.state


def test_the_scheduler_asks_for_releases_and_overdue_marks_when_due() -> None:
    from sanjiang.commands.schedule import due_commands

    desk = Desk()
    published(desk, capacity=1)
    published(desk, "a2", starts_at=at(1, 17).isoformat(), ends_at=at(1, 18).isoformat())
    register(desk, 0)
    register(desk, 1)  # waits for a1
    register(desk, 2, activity_id="a2")  # a2 has nobody waiting
    desk.ask(
        {
            "kind": "demand.submit",
            "demand_id": "d1",
            "category": "handcraft",
            "resident": RESIDENTS[3],
        },
        role="kiosk",
    )
    desk.ask({"kind": "demand.accept", "demand_id": "d1"})
    desk.ask(
        {
            "kind": "demand.dispatch",
            "demand_id": "d1",
            "dispatch_id": "x1",
            "unit": "街道服务办",
            "due_at": at(1, 15).isoformat(),
        }
    )
    assert due_commands(desk.state, at(1, 14, 14)) == []
    due = due_commands(desk.state, at(1, 15))
    assert sorted(c.model_dump()["kind"] for c in due) == [
        "activity.release_no_shows",
        "demand.mark_overdue",
    ]
    desk.now = at(1, 15)
    for body in due:  # decided like any command, then no longer due
        accepted(desk.ask(body.model_dump(mode="json"), role="scheduler"))
    assert due_commands(desk.state, at(1, 15, 1)) == []
    assert due_commands(desk.state, at(1, 17, 30)) == []  # a2: nobody waits
    assert due_commands(desk.state, at(1, 16, 30)) == []  # a1 is over


def test_a_station_s_partition_is_the_producers() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    from sanjiang.commands.worker import station_partition

    partitioner = DefaultPartitioner()
    for station in REF.network.stations:
        expected = partitioner(station.id.encode(), list(range(6)), list(range(6)))
        assert station_partition(station.id, 6) == expected


def test_what_is_done_is_forgotten_after_thirty_days_the_same_on_replay() -> None:
    from datetime import timedelta as td

    desk = Desk()
    published(desk, capacity=2)
    register(desk, 0)
    accepted(desk.ask(booking()))
    assert "a1" in desk.state.activities and "b1" in desk.state.bookings
    desk.now = NOW + td(days=20)
    accepted(
        desk.ask(design("a2", starts_at=at(21, 14).isoformat(), ends_at=at(21, 16).isoformat()))
    )
    assert "a1" in desk.state.activities  # ended 19 days ago: still known
    desk.now = NOW + td(days=40)
    accepted(
        desk.ask(design("a3", starts_at=at(41, 14).isoformat(), ends_at=at(41, 16).isoformat()))
    )
    assert "a1" not in desk.state.activities and "b1" not in desk.state.bookings
    assert "r0" not in desk.state.registrations
    assert {"a2", "a3"} <= set(desk.state.activities)  # a2 ended 19 days before: kept
    rejected(desk.ask({"kind": "activity.cancel", "activity_id": "a1"}), Reason.NOT_FOUND)
    rebuilt = StationState(STATION)
    for event in desk.log:
        evolve(rebuilt, decode_event(encode_event(event)))
    assert rebuilt == desk.state
