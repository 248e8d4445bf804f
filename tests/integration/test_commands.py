"""Commands through the front door on the real broker: two API processes under uvicorn, the
deciders' Faust worker in a process of its own. Conflicting commands sent to both APIs at once
are decided once, consistently, by the station's single writer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import orjson
import pytest

from sanjiang.events import Event, decode_event
from sanjiang.events import payloads as p
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from tests.access import bearer, device_key, staff_token, wait_for_audit_rows
from tests.api_process import api_process, deciders_process
from tests.integration.kafka_helpers import read_to_end

pytestmark = pytest.mark.integration
SH = ZoneInfo("Asia/Shanghai")
STATION = "WS-G1"


@dataclass
class Platform:
    settings: Settings
    urls: list[str]  #: the two API processes
    tokens: list[str]  #: a WS-G1 manager's token for each
    kiosks: list[str]  #: a WS-G1 kiosk key for each

    def post(self, i: int, body: dict[str, Any], kiosk: bool = False) -> httpx.Response:
        credential = self.kiosks[i] if kiosk else self.tokens[i]
        return httpx.post(
            f"{self.urls[i]}/v1/commands", json=body, headers=bearer(credential), timeout=90
        )

    async def post_all(self, bodies: list[dict[str, Any]], kiosk: bool) -> list[httpx.Response]:
        """Send every body at once, alternating between the two APIs."""
        async with httpx.AsyncClient(timeout=90) as client:

            async def one(i: int, body: dict[str, Any]) -> httpx.Response:
                credential = self.kiosks[i % 2] if kiosk else self.tokens[i % 2]
                return await client.post(
                    f"{self.urls[i % 2]}/v1/commands", json=body, headers=bearer(credential)
                )

            return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


def _wait_for_deciders(platform: Platform, process: Any) -> None:
    """Until the worker answers a command (it joins its group, recovers its table)."""
    deadline = time.monotonic() + 120
    probe = {"station_id": STATION, "command": {"kind": "demand.close", "demand_id": "probe"}}
    while True:
        assert process.poll() is None, "the deciders' worker stopped"
        response = platform.post(0, probe | {"command_id": str(_uuid7())})
        if response.status_code != 504:
            assert response.status_code == 404, response.text
            return
        assert time.monotonic() < deadline, "the deciders never answered"


def _uuid7() -> uuid.UUID:
    from sanjiang.ids import uuid7

    return uuid7()


@pytest.fixture(scope="module")
def platform(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    var_a, var_b = tmp_path_factory.mktemp("api-a"), tmp_path_factory.mktemp("api-b")
    with (
        api_process(
            kafka_settings, var_a, hosts_sink=True, prefix=prefix, SANJIANG_COMMAND_TIMEOUT_S="60"
        ) as a,
        api_process(kafka_settings, var_b, prefix=prefix, SANJIANG_COMMAND_TIMEOUT_S="60") as b,
        deciders_process(a) as worker,
    ):
        platform = Platform(
            settings=a,
            urls=[f"http://127.0.0.1:{s.api_port}" for s in (a, b)],
            tokens=[staff_token(s, "manager", [STATION]) for s in (a, b)],
            kiosks=[
                device_key(s, f"{STATION}-K{i}", STATION, "kiosk") for i, s in enumerate((a, b))
            ],
        )
        _wait_for_deciders(platform, worker)
        yield platform


def _weekday_ahead(days: int) -> date:
    """A Monday-to-Friday date at least ``days`` ahead (Shanghai)."""
    day = datetime.now(SH).date() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH).isoformat()


def _events(settings: Settings) -> list[Event]:
    """Every event in the event topic now, in each partition's order."""
    topic = Topics(settings.topic_prefix, settings.event_partitions).events
    records = asyncio.run(read_to_end(settings, topic, settings.event_partitions))
    return [decode_event(r.value) for r in records]


def test_fifty_requests_for_one_slot_over_two_apis_give_one_booking(platform: Platform) -> None:
    day = _weekday_ahead(2)
    bodies: list[dict[str, Any]] = [
        {
            "station_id": STATION,
            "command": {
                "kind": "booking.request",
                "booking_id": f"slot-{i}",
                "venue_id": "WS-G1-MEET",  # booked at once, no approval
                "starts_at": _at(day, 9),
                "ends_at": _at(day, 10),
                "attendees": 10,
                "resident": f"{i + 1:032x}",
            },
        }
        for i in range(50)
    ]
    responses = asyncio.run(platform.post_all(bodies, kiosk=True))
    answers = [r.json() for r in responses]
    won = [a for a in answers if a["status"] == "accepted"]
    lost = [a for a in answers if a["status"] == "rejected"]
    assert len(won) == 1, answers
    assert len(lost) == 49
    winner = bodies[answers.index(won[0])]["command"]["booking_id"]
    assert {r.status_code for r in responses} == {200, 409}
    assert all(a["reason"] == "venue_taken" and a["cause"] == winner for a in lost)
    assert won[0]["outcome"] == "done" and len(won[0]["event_ids"]) == 2  # requested, confirmed


def test_two_hundred_registrations_for_thirty_places(platform: Platform) -> None:
    day = _weekday_ahead(3)
    activity = {
        "kind": "activity.design",
        "activity_id": "reg-200",
        "title": "智能手机课",
        "category": "science_practice",
        "program": "kepu_practice",
        "venue_id": "WS-G1-ACT",
        "starts_at": _at(day, 14),
        "ends_at": _at(day, 16),
        "capacity": 30,
        "target_groups": ["elderly"],
    }
    design = platform.post(0, {"station_id": STATION, "command": activity})
    assert design.status_code == 200, design.text
    assert design.json()["version"] == 1
    publish = platform.post(
        1,
        {
            "station_id": STATION,
            "expected_version": 1,
            "command": {"kind": "activity.publish", "activity_id": "reg-200"},
        },
    )
    assert publish.status_code == 200, publish.text
    bodies = [
        {
            "station_id": STATION,
            "command": {
                "kind": "registration.register",
                "registration_id": f"reg-200-{i}",
                "activity_id": "reg-200",
                "resident": f"{1000 + i:032x}",
                "age_band": "60-69",
            },
        }
        for i in range(200)
    ]
    answers = [r.json() for r in asyncio.run(platform.post_all(bodies, kiosk=True))]
    assert all(a["status"] == "accepted" for a in answers), answers
    placed = [a for a in answers if a["outcome"] == "done"]
    waiting = [a for a in answers if a["outcome"] == "waitlisted"]
    assert len(placed) == 30
    assert sorted(a["position"] for a in waiting) == list(range(1, 171))
    # the order is the log's: in the event topic, 30 places then positions 1..170 in turn
    events = [
        e
        for e in _events(platform.settings)
        if getattr(e.payload, "activity_id", None) == "reg-200"
        and e.type.startswith("registration.")
    ]
    assert [e.type for e in events] == ["registration.submitted"] * 30 + [
        "registration.waitlisted"
    ] * 170
    positions = [
        e.payload.position for e in events[30:] if isinstance(e.payload, p.RegistrationWaitlisted)
    ]
    assert positions == list(range(1, 171))


def test_what_a_role_may_not_ask_is_refused_before_it_is_sent(platform: Platform) -> None:
    settings = platform.settings
    body = {"station_id": STATION, "command": {"kind": "booking.approve", "booking_id": "x"}}
    operator = staff_token(settings, "operator", [STATION])
    response = httpx.post(
        f"{platform.urls[0]}/v1/commands", json=body, headers=bearer(operator), timeout=30
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    elsewhere = staff_token(settings, "manager", ["WS-C"])
    response = httpx.post(
        f"{platform.urls[0]}/v1/commands", json=body, headers=bearer(elsewhere), timeout=30
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_scope"
    viewer = staff_token(settings, "viewer")
    response = httpx.post(
        f"{platform.urls[0]}/v1/commands", json=body, headers=bearer(viewer), timeout=30
    )
    assert response.status_code == 403


def test_asking_again_with_the_same_id_returns_the_decision_made(platform: Platform) -> None:
    command_id = str(_uuid7())
    body = {
        "station_id": STATION,
        "command_id": command_id,
        "command": {
            "kind": "demand.submit",
            "demand_id": "again-1",
            "category": "handcraft",
            "resident": f"{7:032x}",
        },
    }
    first = platform.post(0, body, kiosk=True)
    again = platform.post(1, body, kiosk=True)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = platform.post(0, body | {"command_id": str(_uuid7())}, kiosk=True)
    assert other.status_code == 409
    assert other.json()["reason"] == "duplicate_id"


def test_the_answer_is_in_the_log_with_who_asked(platform: Platform) -> None:
    response = platform.post(
        0,
        {
            "station_id": STATION,
            "command": {"kind": "booking.approve", "booking_id": "no-such-booking"},
        },
    )
    assert response.status_code == 404
    command_id = response.json()["command_id"]
    decided = [
        e
        for e in _events(platform.settings)
        if isinstance(e.payload, p.CommandDecided) and e.payload.command_id == command_id
    ]
    assert len({e.event_id for e in decided}) == 1
    audit = decided[0].payload
    assert isinstance(audit, p.CommandDecided)
    assert (audit.kind, audit.accepted, audit.reason, audit.role) == (
        "booking.approve",
        False,
        "not_found",
        "manager",
    )
    assert orjson.loads(response.content)["cause"] == "no-such-booking"


def test_admins_read_the_audit_trail(platform: Platform) -> None:
    """The warehouse keeps every answer: the first API hosts the sink; wait until it is there."""
    response = platform.post(
        0,
        {"station_id": STATION, "command": {"kind": "demand.accept", "demand_id": "nope"}},
    )
    assert response.status_code == 404
    command_id = response.json()["command_id"]
    admin = staff_token(platform.settings, "admin")
    trail = wait_for_audit_rows(
        platform.urls[0],
        admin,
        {"station": STATION, "accepted": "false"},
        lambda rows: any(row["command_id"] == command_id for row in rows),
    )
    (row,) = [row for row in trail if row["command_id"] == command_id]
    assert (row["kind"], row["role"], row["accepted"], row["reason"]) == (
        "demand.accept",
        "manager",
        False,
        "not_found",
    )
    today = datetime.now(SH).date()
    manager = httpx.get(
        f"{platform.urls[0]}/v1/audit",
        params={"from": str(today), "to": str(today)},
        headers=bearer(platform.tokens[0]),
        timeout=30,
    )
    assert manager.status_code == 403


def test_the_simulated_people_act_through_the_front_door(platform: Platform) -> None:
    """The live simulator's way: its staff log in with real accounts, its residents' asks go
    with their station's kiosk key, each station's commands in order."""
    from producers.asks import Asks
    from producers.front_door import FrontDoor, staff_username
    from tests import simulated

    asks = Asks()
    wanted = []
    for emission in simulated.emissions(_weekday_ahead(3), days=1, seed=7):
        wanted += asks.of(emission.event) or []
        if len(wanted) >= 200 and any(ask.role == "manager" for ask in wanted):
            break

    async def send() -> FrontDoor:
        front = FrontDoor(platform.settings, platform.urls[0])
        for ask in wanted:
            front.ask(ask)
        await front.drain()
        await front.close()
        return front

    front = asyncio.run(send())
    assert sum(front.answers.values()) == len(wanted)
    assert front.answers["accepted"] > 0.9 * len(wanted), front.answers
    assert not front.answers.keys() & {"failed", "unanswered", "forbidden", "forbidden_scope"}
    ids = {str(ask.command_id) for ask in wanted}
    events = _events(platform.settings)
    audits = [
        e.payload
        for e in events
        if isinstance(e.payload, p.CommandDecided) and e.payload.command_id in ids
    ]
    # the accounts and keys the simulator made are in the audit trail
    made = {
        (e.payload.username, e.payload.change)
        for e in events
        if isinstance(e.payload, p.UserChanged) and e.payload.actor == "simulator"
    }
    assert (staff_username(wanted[0].station_id, "operator"), "created") in made
    assert any(
        isinstance(e.payload, p.DeviceKeyChanged)
        and e.payload.actor == "simulator"
        and e.payload.change == "issued"
        for e in events
    )
    assert len(audits) == len(ids)  # each decided once
    by_role = {(a.role, a.actor) for a in audits}
    station = wanted[0].station_id
    assert ("operator", staff_username(station, "operator")) in by_role
    assert any(r == "manager" and a.startswith("sim.mgr.") for r, a in by_role)
    assert any(r == "kiosk" and a.endswith("-desk") for r, a in by_role)
