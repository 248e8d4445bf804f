"""The console's reads on the real engine: a station's week holds its activities (a draft, a
published one with its registrations and waitlist, a cancelled one), its bookings and
closures, and nothing of other weeks or stations; booking requests are the pending ones not
ended; the demand board folds votes, dispatch, answer and linked activities (with titles)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from projections.console import (
    activity_detail,
    booking_requests,
    demand_board,
    registrant,
    station_week,
)
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from sanjiang.events import Event
from sanjiang.events import payloads as p
from tests.warehouse.test_kpis import TUESDAY, TZ, VENUE, at, ev

MONDAY = date(2026, 11, 23)
STATION = "WS-R03"


def designed(activity: str, start: datetime, end: datetime, capacity: int = 2) -> Event:
    return ev(
        p.ActivityDesigned(
            activity_id=activity,
            title=f"剪纸 {activity}",
            category="handcraft",
            program="qiaoshou_workshop",
            target_groups=["all"],
            planned_capacity=capacity,
            venue_id=VENUE,
            starts_at=start,
            ends_at=end,
        ),
        at(7),
    )


def publish(activity: str, start: datetime, end: datetime, capacity: int = 2) -> Event:
    return ev(
        p.ActivityPublished(
            activity_id=activity,
            title=f"剪纸 {activity}",
            category="handcraft",
            program="qiaoshou_workshop",
            venue_id=VENUE,
            starts_at=start,
            ends_at=end,
            capacity=capacity,
            target_groups=["all"],
        ),
        at(7, 5),
    )


def events() -> list[Event]:
    later = TUESDAY + timedelta(days=7)
    return [
        designed("A1", at(9), at(10)),
        publish("A1", at(9), at(10)),
        ev(p.RegistrationSubmitted(registration_id="r1", activity_id="A1"), at(8), "ann"),
        ev(p.RegistrationSubmitted(registration_id="r2", activity_id="A1"), at(8, 1), "bob"),
        ev(
            p.RegistrationWaitlisted(registration_id="r3", activity_id="A1", position=1),
            at(8, 2),
            "cai",
        ),
        ev(p.CheckinRecorded(visit_id="v1", venue_id=VENUE, activity_id="A1"), at(9), "ann"),
        designed("A2", at(14), at(15)),  # a draft
        designed("A3", at(15), at(16)),
        publish("A3", at(15), at(16)),
        ev(p.ActivityCancelled(activity_id="A3", reason="雨"), at(7, 30)),
        designed("A9", later, later + timedelta(hours=1)),  # next week
        ev(
            p.BookingRequested(
                booking_id="b1", venue_id=VENUE, starts_at=at(16), ends_at=at(17), attendees=8
            ),
            at(7),
            "dan",
        ),
        ev(
            p.BookingRequested(
                booking_id="b2", venue_id=VENUE, starts_at=at(10), ends_at=at(11), attendees=8
            ),
            at(7),
            "eve",
        ),
        ev(
            p.BookingConfirmed(booking_id="b2", venue_id=VENUE, starts_at=at(10), ends_at=at(11)),
            at(7, 1),
        ),
        ev(
            p.VenueClosureScheduled(
                closure_id="c1",
                venue_id=VENUE,
                starts_at=at(8, day=TUESDAY + timedelta(days=1)),
                ends_at=at(12, day=TUESDAY + timedelta(days=1)),
                reason="设备检修",
            ),
            at(7),
        ),
        ev(
            p.DemandSubmitted(demand_id="d1", category="handcraft", summary="想学剪纸"),
            at(7),
            "ann",
        ),
        ev(p.DemandVoted(demand_id="d1", category="handcraft"), at(7, 1), "bob"),
        ev(p.DemandAccepted(demand_id="d1"), at(7, 2)),
        ev(
            p.DemandDispatched(demand_id="d1", dispatch_id="x1", unit="街道文化站", due_at=at(18)),
            at(7, 3),
        ),
        ev(p.DemandLinked(demand_id="d1", activity_ids=["A1"]), at(7, 10)),
        ev(p.DemandSubmitted(demand_id="d2", category="handcraft"), at(7), "bob"),
        ev(p.DemandClosed(demand_id="d2"), at(7, 4)),
        # another station's activity in the same week
        ev(
            p.ActivityDesigned(
                activity_id="B1",
                title="别站",
                category="handcraft",
                program="qiaoshou_workshop",
                target_groups=["all"],
                planned_capacity=2,
                venue_id="WS-R04-ACT",
                starts_at=at(9),
                ends_at=at(10),
            ),
            at(7),
            station="WS-R04",
        ),
    ]


def test_a_stations_week(warehouse: ChdbWarehouse) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in events()])
    week = station_week(warehouse, TZ, STATION, MONDAY)
    by_id = {a["activity_id"]: a for a in week["activities"]}
    assert sorted(by_id) == ["A1", "A2", "A3"]
    assert by_id["A1"]["status"] == "published" and by_id["A1"]["status_label"] == "已发布"
    assert (by_id["A1"]["registered"], by_id["A1"]["waiting"], by_id["A1"]["checked_in"]) == (
        2,
        1,
        1,
    )
    assert by_id["A1"]["starts_at"] == "2026-11-24T09:00:00+08:00"
    assert by_id["A2"]["status_label"] == "草稿"
    assert by_id["A3"]["status_label"] == "已取消"
    assert [(b["booking_id"], b["status"]) for b in week["bookings"]] == [
        ("b2", "confirmed"),
        ("b1", "pending"),
    ]
    assert [(c["closure_id"], c["reason"]) for c in week["closures"]] == [("c1", "设备检修")]
    assert (
        station_week(warehouse, TZ, STATION, MONDAY + timedelta(days=7))["activities"][0][
            "activity_id"
        ]
        == "A9"
    )


def test_an_activity_designed_and_published_in_one_instant_is_published(
    warehouse: ChdbWarehouse,
) -> None:
    """The two events of one instant are replayed in the log's order, whichever id ranks
    first (the simulated history designs and publishes at once)."""
    first, second = designed("T1", at(9), at(10)), publish("T1", at(9), at(10))
    second = second.model_copy(update={"occurred_at": first.occurred_at})
    ids = sorted([first.event_id, second.event_id], key=str)
    first = first.model_copy(update={"event_id": ids[1]})  # the design's id ranks last
    second = second.model_copy(update={"event_id": ids[0]})
    EventWriter(warehouse).write([Positioned(first, 0, 10), Positioned(second, 0, 11)])
    week = station_week(warehouse, TZ, STATION, MONDAY)
    (activity,) = [a for a in week["activities"] if a["activity_id"] == "T1"]
    assert activity["status_label"] == "已发布"


def test_requests_board_and_registrations(warehouse: ChdbWarehouse) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in events()])
    requests = booking_requests(warehouse, TZ, STATION, at(6))
    assert [b["booking_id"] for b in requests] == ["b1"]
    assert requests[0]["status_label"] == "待审批" and requests[0]["attendees"] == 8
    assert booking_requests(warehouse, TZ, STATION, at(18)) == []  # ended

    board = demand_board(warehouse, TZ, STATION, at(12))
    assert [d["demand_id"] for d in board] == ["d1", "d2"]  # open first
    d1 = board[0]
    assert (d1["status_label"], d1["supporters"]) == ("已派单", 2)  # submitter and voter
    assert d1["dispatch"] == {
        "unit": "街道文化站",
        "due_at": "2026-11-24T18:00:00+08:00",
        "overdue": False,
    }
    assert d1["activities"] == [{"activity_id": "A1", "title": "剪纸 A1"}]
    assert board[1]["status_label"] == "已办结"

    detail = activity_detail(warehouse, TZ, STATION, "A1")
    assert detail is not None
    assert [r["checked_in"] for r in detail["registrations"]] == [True, False]
    assert [(w["registration_id"], w["position"]) for w in detail["waitlist"]] == [("r3", 1)]
    assert activity_detail(warehouse, TZ, STATION, "B1") is None  # another station's


def test_the_desk_finds_a_registered_resident(warehouse: ChdbWarehouse) -> None:
    EventWriter(warehouse).write([Positioned(e) for e in events()])
    placed = registrant(warehouse, STATION, "A1", "r1")
    waiting = registrant(warehouse, STATION, "A1", "r3")
    assert placed is not None and len(placed) == 32
    assert waiting is not None and waiting != placed
    assert registrant(warehouse, STATION, "A1", "nobody") is None
    assert registrant(warehouse, "WS-R04", "A1", "r1") is None  # not that station's


def test_the_board_keeps_what_the_deciders_forget(warehouse: ChdbWarehouse) -> None:
    """A demand answered 100 days ago stays on the board beside today's (the deciders drop
    what is done after 30 days; the console shows history)."""
    long_ago = TUESDAY - timedelta(days=100)
    EventWriter(warehouse).write(
        [
            Positioned(e)
            for e in (
                ev(
                    p.DemandSubmitted(demand_id="old", category="handcraft"),
                    at(9, day=long_ago),
                    "ann",
                ),
                ev(p.DemandAnswered(demand_id="old", answer="已办"), at(10, day=long_ago)),
                ev(p.DemandSubmitted(demand_id="new", category="handcraft"), at(9), "bob"),
            )
        ]
    )
    board = demand_board(warehouse, TZ, STATION, at(12))
    assert [(d["demand_id"], d["status_label"]) for d in board] == [
        ("new", "已提交"),
        ("old", "已答复"),
    ]
