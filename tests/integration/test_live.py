"""The real stream worker (Faust) on the real broker, read through the API's live endpoints:
exact numbers for a known sequence, the same after kill -9 and restart, and the SSE stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from sanjiang.conflicts import no_conflicts
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event, stamp_received
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics
from sanjiang.network import load_network
from sanjiang.settings import Settings
from streams.state import LiveState
from streams.views import live_views
from tests import simulated
from tests.access import bearer, staff_token

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def known_sequence() -> list[Event]:
    now = datetime.now(UTC) - timedelta(seconds=2)
    events: list[Event] = []

    def add(payload: p.Payload, resident: str | None, minutes_ago: float) -> Event:
        when = now - timedelta(minutes=minutes_ago)
        event = new_event(
            payload,
            station_id="WS-R03",
            source="kiosk:WS-R03-K1",
            occurred_at=when,
            resident=resident,
        )
        events.append(stamp_received(event, when, timedelta(minutes=5)))
        return event

    # A1 is held in the room now (a decision, published directly: a read-side test)
    held = p.ActivityPublished(
        activity_id="A1",
        title="A1",
        category="handcraft",
        program="qiaoshou_workshop",
        venue_id="WS-R03-ACT",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
        capacity=20,
        target_groups=["all"],
    )
    add(held, None, 1.5)
    for i in range(6):
        add(
            p.CheckinRecorded(visit_id=f"v{i}", venue_id="WS-R03-ACT"), f"{i % 4:032x}", 1 + i * 0.1
        )
    for i in range(3):
        add(p.RegistrationSubmitted(registration_id=f"R{i}", activity_id="A1"), f"{i:032x}", 1)
    add(p.EvaluationSubmitted(activity_id="A1", rating=5), f"{1:032x}", 0.5)
    add(p.EvaluationSubmitted(activity_id="A1", rating=2), f"{2:032x}", 0.5)
    add(p.EvaluationSubmitted(activity_id="A1", rating=1), f"{9:032x}", 0.5)  # never came
    events.extend(events[:4])  # re-delivered duplicates
    return events


#: Distinct events of ``known_sequence``.
APPLIED = 13
EXPECTED = {
    "checkins": 6,
    "residents": 4,
    "registrations": 3,
    "evaluations": 2,  # the resident who never came is left out, a conflict
    "satisfied_evaluations": 1,
    "conflicts": {**no_conflicts(), "not_attended": 1},
}


def start_worker(settings: Settings, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": settings.topic_prefix,
        "SANJIANG_VAR_DIR": str(settings.var_dir),
        "SANJIANG_STREAMS_METRICS_PORT": "0",  # no fixed port in tests (test_up scrapes)
        **extra_env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "sanjiang", "streams"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(
    client: TestClient, path: str, expected: dict[str, Any], timeout_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(path)
        if response.status_code == 200:
            last = response.json()
            if all(last.get(k) == v for k, v in expected.items()):
                return last
        time.sleep(0.3)
    raise AssertionError(f"{path} never showed {expected}; last: {last}")


@pytest.fixture
def live_api(
    kafka_settings: Settings, topics: Topics, tmp_path: Path
) -> Iterator[tuple[TestClient, Settings]]:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": topics.prefix, "var_dir": tmp_path}
    )
    with TestClient(create_app(settings), headers=bearer(staff_token(settings))) as client:
        yield client, settings


def checkin(station: str, visit: str, resident: int, when: datetime) -> Event:
    """A check-in at the station's activity room, accepted by the platform when it occurred."""
    event = new_event(
        p.CheckinRecorded(visit_id=visit, venue_id=f"{station}-ACT"),
        station_id=station,
        source=f"kiosk:{station}-K1",
        occurred_at=when,
        resident=f"{resident:032x}",
    )
    return stamp_received(event, when, timedelta(minutes=5))


def second_sequence() -> list[Event]:
    """Check-ins at another station, published while the worker is down."""
    now = datetime.now(UTC) - timedelta(seconds=2)
    return [checkin("WS-R07", f"w{i}", i, now) for i in range(5)]


def replayed(events: list[Event], station: str) -> dict[str, Any]:
    """A from-scratch replay of ``events`` by the same fold."""
    state = LiveState(load_network(), grace=timedelta(hours=6))
    for event in events:
        state.apply(event)
    return state.today(datetime.now(UTC), station)


def test_worker_numbers_survive_kill_9(
    live_api: tuple[TestClient, Settings], topics: Topics
) -> None:
    client, settings = live_api
    first, second = known_sequence(), second_sequence()

    async def publish(events: list[Event], rejected: int = 0) -> None:
        async with EventPublisher(settings, topics) as publisher:
            await publisher.publish_many(events)
            for i in range(rejected):
                await publisher.dead_letter(b"{", "invalid_json", f"test {i}", "test")

    asyncio.run(publish(first, rejected=3))
    worker = start_worker(settings, SANJIANG_LIVE_CHECKPOINT_S="0.5")
    try:
        before = wait_for(client, "/v1/live/stations/WS-R03", EXPECTED)
        assert before["satisfaction"] == pytest.approx(0.5)
        assert wait_for(client, "/v1/live/venues", {})["occupancy"] == {"WS-R03-ACT": 6}
        assert (settings.var_dir / "streams").is_dir()  # Faust's data folder, not in the cwd
        pipeline = wait_for(client, "/v1/live/pipeline", {"applied": APPLIED, "rejected_today": 3})
        assert pipeline["rejected_by_reason"] == {"invalid_json": 3}
        assert pipeline["fold"]["applied"] == APPLIED and pipeline["fold"]["seconds"] >= 0
        deadline = time.monotonic() + 30
        while pipeline["checkpoint"] is None and time.monotonic() < deadline:
            time.sleep(0.3)
            pipeline = client.get("/v1/live/pipeline").json()
        assert pipeline["checkpoint"] is not None, pipeline
        assert pipeline["restored_from_checkpoint"] is None  # a first start: from offset 0
    finally:
        worker.kill()
        worker.wait()
    asyncio.run(publish(second + first[:3], rejected=2))  # while it is down, with duplicates
    restarted = start_worker(settings, SANJIANG_LIVE_CHECKPOINT_S="0.5")
    try:
        pipeline = wait_for(
            client, "/v1/live/pipeline", {"applied": APPLIED + 5, "rejected_today": 5}
        )
        # it went on from its checkpoint instead of refolding the log
        assert pipeline["restored_from_checkpoint"] is not None
        assert pipeline["restored_applied"] > 0
        assert pipeline["too_late"] == 0 and pipeline["invalid"] == 0
        assert pipeline["rejected_by_reason"] == {"invalid_json": 5}
        after = wait_for(client, "/v1/live/stations/WS-R03", EXPECTED)
        assert {k: after[k] for k in EXPECTED} == {k: before[k] for k in EXPECTED}
        everything = first + second + first[:3]
        for station in ("WS-R03", "WS-R07"):
            live = wait_for(client, f"/v1/live/stations/{station}", {})
            assert {k: live[k] for k in EXPECTED} == {
                k: replayed(everything, station)[k] for k in EXPECTED
            }
        assert wait_for(client, "/v1/live/stations/WS-R07", {"checkins": 5})["residents"] == 5
        events = read_sse(client, 40)  # the current state of every view comes first
        assert any(e["event"] == "station:WS-R03" for e in events)
        assert all(e["id"].isdigit() for e in events)
    finally:
        restarted.kill()
        restarted.wait()


def test_kill_9_mid_stream_ends_like_a_replay(
    live_api: tuple[TestClient, Settings], topics: Topics
) -> None:
    """A simulated day (today) streams in while the worker is killed, after at least one
    checkpoint; the restarted worker ends with the numbers of a from-scratch replay."""
    client, settings = live_api
    network = load_network()
    today = datetime.now(network.tz).date()
    events = simulated.events(today, days=1, seed=3)
    events += events[::50]  # re-sent copies
    state = LiveState(network, grace=timedelta(hours=6))
    for event in events:
        state.apply(event)

    half = len(events) // 2
    resume = threading.Event()  # the second half waits for the kill: mid-stream by design

    async def publish() -> None:
        async with EventPublisher(settings, topics) as publisher:
            for i in range(0, len(events), 250):
                if i >= half:
                    await asyncio.to_thread(resume.wait, 120)
                await publisher.publish_many(events[i : i + 250])

    feeder = threading.Thread(target=lambda: asyncio.run(publish()))
    worker = start_worker(settings, SANJIANG_LIVE_CHECKPOINT_S="0.2")
    feeder.start()
    try:
        deadline = time.monotonic() + 60
        pipeline: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = client.get("/v1/live/pipeline")
            pipeline = response.json() if response.status_code == 200 else {}
            if pipeline.get("checkpoint") and pipeline.get("applied", 0) > half // 2:
                break
            time.sleep(0.05)
        assert pipeline.get("checkpoint"), pipeline
    finally:
        worker.kill()
        worker.wait()
        resume.set()
    feeder.join(120)
    restarted = start_worker(settings)
    try:
        pipeline = wait_for(
            client, "/v1/live/pipeline", {"applied": state.applied, "too_late": state.too_late}, 120
        )
        assert pipeline["restored_from_checkpoint"] is not None  # this worker's view
        assert 0 < pipeline["restored_applied"] < state.applied
        now = datetime.now(UTC)
        replayed = live_views(state, now)  # today's counters and KPIs of every station
        for station in network.stations:
            live = wait_for(client, f"/v1/live/stations/{station.id}", {})
            live.pop("view"), live.pop("as_of")
            expected = replayed[f"station:{station.id}"]
            expected.pop("as_of")
            assert live == expected, station.id
            assert {k: v for k, v in live.items() if k != "kpis"} == state.today(now, station.id)
        assert wait_for(client, "/v1/live/network", {})["checkins"] == state.today(now)["checkins"]
    finally:
        restarted.kill()
        restarted.wait()


def test_the_worker_forgets_ids_of_closed_days(
    live_api: tuple[TestClient, Settings], topics: Topics
) -> None:
    """Ids of events whose day closed are pruned at a checkpoint once every partition was read
    past them; today's are kept (for dedup)."""
    client, settings = live_api
    now = datetime.now(UTC)
    old = now - timedelta(days=3)
    events = [checkin("WS-R03", f"p{i}", i, old) for i in range(5)]
    events += [checkin("WS-R03", f"p{i}", i, now) for i in range(5, 8)]

    async def publish() -> None:
        async with EventPublisher(settings, topics) as publisher:
            await publisher.publish_many(events)

    asyncio.run(publish())
    worker = start_worker(settings, SANJIANG_LIVE_CHECKPOINT_S="0.3")
    try:
        pipeline = wait_for(client, "/v1/live/pipeline", {"applied": 8, "ids_kept": 3})
        assert pipeline["too_late"] == 0 and pipeline["lag"] == 0
    finally:
        worker.kill()
        worker.wait()


def read_sse(client: TestClient, count: int) -> list[dict[str, str]]:
    """The first ``count`` events of a fresh SSE connection (the current state comes first)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    with client.stream("GET", "/v1/live/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if current:
                    events.append(current)
                    current = {}
                if len(events) >= count:
                    break
                continue
            field, _, value = line.partition(": ")
            if field in ("id", "event", "data"):
                current[field] = value
    return events


def test_unknown_views(live_api: tuple[TestClient, Settings]) -> None:
    client, _ = live_api
    assert client.get("/v1/live/nothing").json()["error"] == "unknown_view"
    missing = client.get("/v1/live/stations/WS-R99")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_station"
    not_yet = client.get("/v1/live/stations/WS-R05")  # a real station, before the worker ran
    assert not_yet.status_code == 404 and "sanjiang streams" in not_yet.json()["detail"]


def test_silent_kiosk_raises_its_alert_without_further_events(
    live_api: tuple[TestClient, Settings], topics: Topics
) -> None:
    client, settings = live_api
    # A kiosk of a station the network has no hours for counts as always open: the test is
    # the same at any time of day (the rule for opening hours is tested in test_alerts.py).
    beat = new_event(
        p.KioskHeartbeat(kiosk_id="WS-T99-K1", app_version="1.0"),
        station_id="WS-T99",
        source="kiosk:WS-T99-K1",
        occurred_at=datetime.now(UTC),
    )

    async def publish() -> None:
        async with EventPublisher(settings, topics) as publisher:
            await publisher.publish(beat)

    asyncio.run(publish())
    env = {"SANJIANG_KIOSK_OFFLINE_AFTER_S": "4", "SANJIANG_LIVE_CHECKPOINT_S": "0.5"}
    worker = start_worker(settings, **env)
    try:
        wait_for(client, "/v1/live/kiosks", {"known": 1})
        (alert,) = open_offline_alerts(client)
        assert (alert["scope"], alert["severity"], alert["ended_at"]) == (
            "kiosk:WS-T99-K1",
            "medium",
            None,
        )
        assert "no heartbeat since" in alert["reason"]
        saved = checkpoint_after(client, datetime.fromisoformat(alert["started_at"]))
    finally:
        worker.kill()
        worker.wait()
    restarted = start_worker(settings, **env)  # the alert still holds: the same start
    try:
        deadline = time.monotonic() + 30
        restored = 0
        while time.monotonic() < deadline and restored < saved:
            restored = client.get("/v1/live/pipeline").json().get("restored_from_checkpoint") or 0
            time.sleep(0.2)
        assert restored >= saved  # this worker's views, from a checkpoint with the alert open
        (again,) = open_offline_alerts(client)
        assert again["started_at"] == alert["started_at"]
    finally:
        restarted.kill()
        restarted.wait()


def open_offline_alerts(client: TestClient) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not alerts:
        response = client.get("/v1/live/alerts")
        if response.status_code == 200:
            alerts = [a for a in response.json()["open"] if a["kind"] == "kiosk_offline"]
        time.sleep(0.3)
    assert alerts, "no kiosk_offline alert"
    return alerts


def checkpoint_after(client: TestClient, moment: datetime) -> int:
    """The generation of the first checkpoint the worker cut after ``moment``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pipeline = client.get("/v1/live/pipeline").json()
        cut = pipeline.get("checkpoint_at")
        if cut and datetime.fromisoformat(cut) > moment:
            return int(pipeline["checkpoint"])
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint after {moment}")


def children(pid: int) -> list[tuple[int, str]]:
    """The processes ``pid`` started, with their command lines (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text("ascii")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append((int(entry.name), command))
    return found


def test_the_worker_stops_when_its_reader_dies(
    live_api: tuple[TestClient, Settings], topics: Topics
) -> None:
    """A worker whose reader process is gone exits (its supervisor restarts it from the last
    checkpoint) rather than keep serving views that no longer change."""
    client, settings = live_api
    worker = start_worker(settings)
    try:
        wait_for(client, "/v1/live/pipeline", {"applied": 0})
        readers = [pid for pid, command in children(worker.pid) if "streams.reader" in command]
        assert len(readers) == 1
        os.kill(readers[0], signal.SIGKILL)
        assert worker.wait(timeout=60) != 0
    finally:
        worker.kill()
        worker.wait()
