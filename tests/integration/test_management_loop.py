"""The management loop through the front door, on the real broker and warehouse: a demand
submitted, voted, accepted, dispatched, answered; an activity designed for it, published and
linked; registrations filling it and a waitlist; a cancellation promoting the first waiting
resident; the scheduler releasing a no-show's place at the start; check-ins and an evaluation;
then the warehouse's KPIs and heat show the activity, the resident follows the demand, and a
new deciders' worker without snapshots rebuilds its state from offset 0 of the log.

The venue is open around the clock in a network file of the test's own (the deciders check
opening hours, and the test may run at any hour), and the activity starts soon after it is
designed, its places released at once (``release_after_min`` 0): after a margin for what must
land before the start (``_margin``), measured on the round trips that came before."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import pytest
import yaml

from sanjiang.events import Event, decode_event, encode_event, new_event
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7
from sanjiang.kafka.topics import Topics
from sanjiang.network import load_network
from sanjiang.settings import Settings
from tests.access import bearer, device_key, staff_token
from tests.api_process import api_process, deciders_process
from tests.integration.kafka_helpers import read_to_end

pytestmark = pytest.mark.integration
STATION, ROOM, KIOSK = "WS-G1", "WS-G1-ACT", "WS-G1-K9"
NETWORK = load_network()
RESIDENTS = [f"{i:032x}" for i in range(1, 7)]
T = TypeVar("T")
#: the least time between the design and the start, however quick the round trips were
MARGIN_FLOOR_S = 20.0
#: the margin per second the four demand commands before the design took: thirteen round trips
#: (design to check-ins) must land before the start, about three times as many as those four
MARGIN_PER_MEASURED_S = 20.0
#: the most (the activity, 10 minutes from its start, must end before midnight: see the test)
MARGIN_CEILING_S = 180.0


def _network_open_around_the_clock(folder: Path) -> Path:
    """The packaged network with the test's room open every day, 00:00-23:59."""
    source = Path(__file__).resolve().parents[2] / "sanjiang" / "data" / "network.yaml"
    data = yaml.safe_load(source.read_text("utf-8"))
    for station in data["stations"]:
        for venue in station.get("venues", []):
            if venue["id"] == ROOM:
                venue["opening_hours"] = {
                    d: ["00:00-23:59"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                }
    path = folder / "network.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert load_network(path).venues[ROOM].opening_hours["sun"][0].end.hour == 23
    return path


@dataclass
class Loop:
    settings: Settings
    url: str
    manager: str
    kiosk: str
    viewer: str  #: sees the whole network (heat rankings are network-wide)
    worker: Any = None

    def ask(self, command: dict[str, Any], kiosk: bool = False) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/v1/commands",
            json={"station_id": STATION, "command_id": str(uuid7()), "command": command},
            headers=bearer(self.kiosk if kiosk else self.manager),
            timeout=90,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def fact(self, payload: p.Payload, resident: str) -> None:
        event = new_event(
            payload,
            station_id=STATION,
            source=f"kiosk:{KIOSK}",
            occurred_at=datetime.now(UTC),
            resident=resident,
        )
        response = httpx.post(
            f"{self.url}/v1/events",
            content=encode_event(event),
            headers={**bearer(self.kiosk), "Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 202, response.text

    def get(self, path: str, params: dict[str, str], network: bool = False) -> Any:
        credential = self.viewer if network else self.manager
        response = httpx.get(
            f"{self.url}{path}", params=params, headers=bearer(credential), timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()

    def events(self) -> list[Event]:
        topic = Topics(self.settings.topic_prefix, self.settings.event_partitions).events
        records = asyncio.run(read_to_end(self.settings, topic, self.settings.event_partitions))
        return [decode_event(r.value) for r in records]


def _answered(loop: Loop, worker: Any) -> bool:
    """Whether the deciders answer (a probe naming no demand: 404)."""
    assert worker.poll() is None, "the deciders stopped"
    response = httpx.post(
        f"{loop.url}/v1/commands",
        json={"station_id": STATION, "command": {"kind": "demand.close", "demand_id": "probe"}},
        headers=bearer(loop.manager),
        timeout=90,
    )
    return response.status_code == 404


def _margin(measured_s: float) -> timedelta:
    """How long before the start to design the activity, given how long the four demand
    commands before the design took: what follows it (publish, link, answer, five
    registrations, a cancellation, three check-ins folded into the deciders' states) is the
    same kind of round trip, and must be decided before the start (a registration after it is
    refused, a check-in after the scheduler's release comes too late). A slow machine gets a
    long margin, a quick one waits less; the floor covers a stall the measure did not see."""
    seconds = max(MARGIN_FLOOR_S, MARGIN_PER_MEASURED_S * measured_s)
    return timedelta(seconds=min(seconds, MARGIN_CEILING_S))


def _until(condition: Callable[[], T | None], what: str, timeout_s: float = 180) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f} s"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def loop(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    var = tmp_path_factory.mktemp("loop")
    network = _network_open_around_the_clock(var)
    with api_process(
        kafka_settings,
        var,
        hosts_sink=True,
        prefix=f"t{uuid.uuid4().hex[:12]}",
        SANJIANG_COMMAND_TIMEOUT_S="60",
        SANJIANG_NETWORK_FILE=str(network),
    ) as settings:
        settings = settings.model_copy(update={"network_file": network})
        with deciders_process(settings) as worker:
            loop = Loop(
                settings=settings,
                url=f"http://127.0.0.1:{settings.api_port}",
                manager=staff_token(settings, "manager", [STATION]),
                kiosk=device_key(settings, KIOSK, STATION, "kiosk"),
                viewer=staff_token(settings, "viewer"),
                worker=worker,
            )
            _until(lambda: _answered(loop, worker), "answer from the deciders")
            yield loop


def test_the_management_loop_closes_through_the_front_door(loop: Loop) -> None:
    # a day boundary inside the activity would close the room (23:59-00:00): start after it
    local = datetime.now(NETWORK.tz)
    if (local + timedelta(minutes=15)).date() != local.date():
        _until(lambda: datetime.now(NETWORK.tz).date() != local.date(), "midnight", 16 * 60)

    # a resident's demand, voted for, handled by the manager (timed: see ``_margin``)
    began = time.monotonic()
    demand = {"kind": "demand.submit", "demand_id": "d-loop", "category": "handcraft"}
    assert loop.ask(demand | {"resident": RESIDENTS[0]}, kiosk=True)["status"] == "accepted"
    vote = {"kind": "demand.vote", "demand_id": "d-loop", "resident": RESIDENTS[1]}
    assert loop.ask(vote, kiosk=True)["status"] == "accepted"
    loop.ask({"kind": "demand.accept", "demand_id": "d-loop"})
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    dispatch = {"dispatch_id": "x1", "unit": "街道文化站", "due_at": due}
    loop.ask({"kind": "demand.dispatch", "demand_id": "d-loop"} | dispatch)

    # an activity for it: starts after the margin, 3 places, a no-show's place released at once
    margin = _margin(time.monotonic() - began)
    start = (datetime.now(UTC) + margin).replace(microsecond=0)
    design = {
        "kind": "activity.design",
        "activity_id": "a-loop",
        "title": "巧手工坊·剪纸",
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": ROOM,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=10)).isoformat(),
        "capacity": 3,
        "target_groups": ["elderly"],
        "demand_ids": ["d-loop"],
        "release_after_min": 0,
        "registration_required": True,
    }
    assert loop.ask(design)["status"] == "accepted"
    assert loop.ask({"kind": "activity.publish", "activity_id": "a-loop"})["status"] == "accepted"
    link = {"kind": "demand.link", "demand_id": "d-loop", "activity_ids": ["a-loop"]}
    assert loop.ask(link)["status"] == "accepted"
    answer = {"kind": "demand.answer", "demand_id": "d-loop", "answer": "已安排剪纸活动"}
    assert loop.ask(answer)["status"] == "accepted"

    # five residents register for three places: two wait, in order
    answers = [
        loop.ask(
            {
                "kind": "registration.register",
                "registration_id": f"r{i}",
                "activity_id": "a-loop",
                "resident": RESIDENTS[i],
            },
            kiosk=True,
        )
        for i in range(5)
    ]
    assert [a["outcome"] for a in answers] == ["done"] * 3 + ["waitlisted"] * 2
    assert [a["position"] for a in answers[3:]] == [1, 2]
    # a cancellation gives the first waiting resident (r3) the place
    loop.ask({"kind": "registration.cancel", "registration_id": "r1"}, kiosk=True)
    # r0 and r3 come; r2 does not: at the start its place goes to r4, the next waiting
    for i in (0, 3):
        loop.fact(
            p.CheckinRecorded(visit_id=f"v{i}", venue_id=ROOM, activity_id="a-loop"), RESIDENTS[i]
        )
    # ... and resident 5, who never registered: kept, and flagged (registration is required)
    loop.fact(p.CheckinRecorded(visit_id="v5", venue_id=ROOM, activity_id="a-loop"), RESIDENTS[5])

    def released() -> list[Event] | None:
        events = loop.events()
        done = any(
            isinstance(e.payload, p.ActivityPlacesReleased) and e.payload.activity_id == "a-loop"
            for e in events
        )
        return events if done else None

    events = _until(released, "release of the no-shows' places", margin.total_seconds() + 180)
    placed = [
        e.payload.registration_id
        for e in events
        if isinstance(e.payload, p.RegistrationSubmitted) and e.payload.activity_id == "a-loop"
    ]
    cancelled = {
        e.payload.registration_id: e.payload.reason
        for e in events
        if isinstance(e.payload, p.RegistrationCancelled) and e.payload.activity_id == "a-loop"
    }
    assert placed == ["r0", "r1", "r2", "r3", "r4"]  # r3 promoted, then r4 given r2's place
    assert set(cancelled) == {"r1", "r2"}
    audits = [e.payload for e in events if isinstance(e.payload, p.CommandDecided)]
    release = [a for a in audits if a.kind == "activity.release_no_shows"]
    assert len(release) == 1 and release[0].actor == "scheduler" and release[0].accepted

    # the residents who came rate it; the warehouse's KPIs and heat show it
    loop.fact(p.EvaluationSubmitted(activity_id="a-loop", rating=5), RESIDENTS[0])
    day = str(datetime.now(NETWORK.tz).date())

    def kpis() -> dict[str, Any] | None:
        scope = {"from": day, "to": day, "station": STATION}
        report: dict[str, Any] = loop.get("/v1/kpis", scope)
        return report if report["evaluations"] >= 1 and report["participants"] >= 3 else None

    report = _until(kpis, "KPIs with the evaluation and the check-ins")
    assert report["service_satisfaction"] == 1.0
    # resident 5 came without a place: a participant, and a conflict beside the KPIs
    assert report["conflicts"]["no_registration"] == report["participation_conflicts"] == 1
    assert report["registrations"] >= 3 and report["fill_rate"] is not None
    assert report["demand_events"] >= 2  # the demand and its vote
    heat = _until(
        lambda: [
            h
            for h in loop.get("/v1/history/heat", {"level": "activity"}, network=True)
            if h["key"] == "a-loop"
        ],
        "heat of the activity",
    )
    assert heat[0]["heat"] > 0
    status = {
        e.type
        for e in events
        if e.type.startswith("demand.") and getattr(e.payload, "demand_id", "") == "d-loop"
    }

    # the resident follows the demand at the kiosk
    def followed() -> dict[str, Any] | None:
        response = httpx.get(
            f"{loop.url}/v1/stations/{STATION}/demands/d-loop",
            headers=bearer(loop.kiosk),
            timeout=60,
        )
        assert response.status_code in (200, 404), response.text
        found: dict[str, Any] = response.json()
        return found if response.status_code == 200 and found["status"] == "answered" else None

    demand_now = _until(followed, "the demand's status")
    assert demand_now["status_label"] == "已答复" and demand_now["answer"] == "已安排剪纸活动"
    assert demand_now["supporters"] == 2 and demand_now["activity_ids"] == ["a-loop"]
    assert demand_now["dispatch"]["unit"] == "街道文化站"
    assert "resident" not in str(demand_now) and RESIDENTS[0] not in str(demand_now)
    assert status >= {
        "demand.submitted",
        "demand.voted",
        "demand.accepted",
        "demand.dispatched",
        "demand.linked",
        "demand.answered",
    }
    _rebuild_from_offset_zero(loop)


def _rebuild_from_offset_zero(loop: Loop) -> None:
    """Without their snapshots (the changelog topic deleted), a new worker rebuilds every
    station from the event log, offset 0, and decides as the first one would have."""
    from sanjiang.kafka.client import admin_client

    loop.worker.terminate()
    loop.worker.wait(60)

    async def drop_snapshots() -> None:
        admin = admin_client(loop.settings)
        await admin.start()
        try:
            await admin.delete_topics([f"{loop.settings.topic_prefix}-deciders-state-changelog"])
        finally:
            await admin.close()

    asyncio.run(drop_snapshots())
    with deciders_process(loop.settings, "deciders-again") as worker:
        _until(lambda: _answered(loop, worker), "answer from the new worker")
        vote = {"kind": "demand.vote", "demand_id": "d-loop", "resident": RESIDENTS[1]}
        again = httpx.post(
            f"{loop.url}/v1/commands",
            json={"station_id": STATION, "command": vote},
            headers=bearer(loop.kiosk),
            timeout=90,
        )
        assert again.status_code == 409 and again.json()["reason"] == "already_voted"
        # the demand is answered: dispatching it again is refused as the state says
        due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        redispatch = {
            "kind": "demand.dispatch",
            "demand_id": "d-loop",
            "dispatch_id": "x2",
            "unit": "街道文化站",
            "due_at": due,
        }
        refused = httpx.post(
            f"{loop.url}/v1/commands",
            json={"station_id": STATION, "command": redispatch},
            headers=bearer(loop.manager),
            timeout=90,
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["reason"] == "invalid_state"
    rebuilt = (loop.settings.var_dir / "deciders-again.log").read_text(errors="replace")
    assert "rebuilt from their snapshots and" in rebuilt
