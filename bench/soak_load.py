"""The soak's load: a kiosk fleet, one kiosk per station, sending what kiosks send (check-ins,
check-outs, evaluations, heartbeats) through ``POST /v1/events`` at a steady network rate.

Run by the soak suite as ``python -m bench.soak_load PLAN.json`` in a process of its own, so
that its CPU is measured apart from the platform's. Every second it prints one JSON line of
progress on stdout (``Progress``); the suite reads them.

How a kiosk sends is the SDK's way (``producers.delivery.Deliverer`` with ``HttpTransport``):
its events wait in its own queue (the outbox), at most one request of a kiosk is in flight, a
request carries at most ``BATCH`` events as NDJSON with the kiosk's own key, and a request that
failed is sent again after the SDK's backoff (``producers.delivery.Backoff``), the same events
with the same ids (the ingest answers those it already has as duplicates). What differs from
the SDK: the outbox is in memory, not SQLite (6,000 durable outboxes on two shared cores would
measure the disk, not the platform: one outbox takes about 4,000 puts/s), the fleet's requests
share at most ``CONNECTIONS`` connections (aiohttp: light on CPU), and a kiosk sends its queue
every ``flush_s`` seconds rather than as soon as an event is there: 6,000 kiosks each sending
every event at once would be 10,000 requests/s, which no two-core machine serves.

The traffic of one kiosk: a check-in opens a visit of one of the station's residents (a pool
of ``residents`` per station) at one of its venues, naming one of a few activities of the
station half the time; a check-out closes the oldest visit still open; an evaluation rates an
activity a resident checked in to; a heartbeat comes every ``HEARTBEAT_S`` seconds. The
activities are never published (the deciders are not on this path), so the live views count
those check-ins and evaluations as conflicts: the fold does the same work either way.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from producers.delivery import Backoff
from sanjiang.events import encode_event, new_event
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7_from_rng

#: Most events in one request, as the SDK's ``Deliverer`` sends (its ``batch_size``)
BATCH = 500
#: A kiosk's heartbeat period, seconds
HEARTBEAT_S = 60.0
#: Connections the fleet's requests share
CONNECTIONS = 256
#: The generator's clock: events are made and queues sent every TICK_S
TICK_S = 0.01
#: Share of a kiosk's facts that are evaluations, and check-outs (of open visits)
#: (check-outs a little likelier than check-ins while visits are open, so they stay few)
EVALUATIONS, CHECKOUTS = 0.10, 0.46
#: Visits a kiosk keeps open at most; past it, the oldest leave
OPEN_VISITS = 100
#: Seconds the fleet keeps an idle connection: under the API's (uvicorn's 5 s), so the server
#: never closes one the client is about to reuse (aiohttp keeps them 15 s by default)
KEEPALIVE_S = 2.0
#: The SDK's request timeout (``producers.transport.HttpTransport``)
REQUEST_TIMEOUT_S = 30.0
AGE_BANDS = ("18-34", "35-59", "60-69", "60-69", "70-79", "70-79", "80+")
RATINGS = (5, 5, 5, 4, 4, 4, 3, 2, 1)
ACTIVITIES = 4  #: activity ids a station's kiosk names


@dataclass(frozen=True)
class Kiosk:
    """One kiosk of the fleet: its station, device id, key and the station's venues."""

    station_id: str
    device_id: str
    key: str
    venues: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What the load generator does (the suite writes it as JSON)."""

    base_url: str
    kiosks: tuple[Kiosk, ...]
    rate: float  #: events/s offered to the platform, heartbeats included
    seconds: float
    flush_s: float = 10.0
    residents: int = 200  #: residents of a station who visit it
    seed: int = 18

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> Plan:
        raw = orjson.loads(data)
        kiosks = tuple(
            Kiosk(k["station_id"], k["device_id"], k["key"], tuple(k["venues"]))
            for k in raw.pop("kiosks")
        )
        return cls(kiosks=kiosks, **raw)


def _template(payload: p.Payload) -> dict[str, Any]:
    """An event of ``payload``'s type as the SDK encodes it, as a dict to fill in."""
    event = new_event(
        payload,
        station_id="WS-C",
        source="kiosk:template",
        occurred_at=datetime.now(UTC),
        resident=None if isinstance(payload, p.KioskHeartbeat) else "0" * 32,
    )
    document: dict[str, Any] = orjson.loads(encode_event(event))
    del document["received_at"], document["late"]  # the platform's to set
    return document


def templates() -> dict[str, dict[str, Any]]:
    """One encoded event per type a kiosk sends, from the SDK's own encoder (schema versions
    and field names as the catalog has them)."""
    return {
        "checkin": _template(
            p.CheckinRecorded(visit_id="v", venue_id="WS-C-SHARE", age_band="60-69")
        ),
        "checkout": _template(p.CheckoutRecorded(visit_id="v", venue_id="WS-C-SHARE")),
        "evaluation": _template(p.EvaluationSubmitted(activity_id="a", rating=5)),
        "heartbeat": _template(p.KioskHeartbeat(kiosk_id="k", app_version="soak")),
    }


@dataclass
class KioskTraffic:
    """One kiosk's traffic model: its open visits and who attended what lately."""

    kiosk: Kiosk
    number: int  #: the kiosk's place in the fleet (its residents' pseudonyms derive from it)
    visits: int = 0
    open_visits: deque[tuple[str, str, str, str | None]] = field(default_factory=deque)
    attended: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=32))

    def resident(self, n: int) -> str:
        """The pseudonym of the station's ``n``-th resident (32 hex digits, unique per
        station and number)."""
        return f"{self.number:08x}{n:024x}"


class Fleet:
    """Makes the kiosks' events, encoded as the SDK sends them. Deterministic for a seed, but
    for the ids' and the timestamps' clock parts."""

    def __init__(self, kiosks: tuple[Kiosk, ...], residents: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.kiosks = [KioskTraffic(k, i) for i, k in enumerate(kiosks)]
        self.residents = residents
        self.templates = templates()
        self.made: dict[str, int] = {"checkin": 0, "checkout": 0, "evaluation": 0, "heartbeat": 0}

    def _event(
        self,
        kind: str,
        kiosk: Kiosk,
        occurred_at: str,
        unix_ms: int,
        payload: dict[str, Any],
        resident: str | None = None,
    ) -> str:
        self.made[kind] += 1
        template = self.templates[kind]
        # kept as text until sent: a bytes object from orjson.dumps keeps the whole buffer it
        # was written in (about 4 KiB), which for a queue of 100,000s of events is gigabytes
        return orjson.dumps(
            {
                **template,
                "event_id": str(uuid7_from_rng(unix_ms, self.rng.getrandbits(74))),
                "occurred_at": occurred_at,
                "station_id": kiosk.station_id,
                "source": f"kiosk:{kiosk.device_id}",
                "resident": resident,
                "payload": {**template["payload"], **payload},
            }
        ).decode()

    def heartbeat(self, index: int, occurred_at: str, unix_ms: int, uptime_s: int) -> str:
        kiosk = self.kiosks[index].kiosk
        return self._event(
            "heartbeat",
            kiosk,
            occurred_at,
            unix_ms,
            {"kiosk_id": kiosk.device_id, "app_version": "soak", "uptime_s": uptime_s},
        )

    def fact(self, index: int, occurred_at: str, unix_ms: int) -> str:
        """The next fact of kiosk ``index``: a check-in, a check-out or an evaluation."""
        traffic, rng = self.kiosks[index], self.rng
        kiosk = traffic.kiosk
        draw = rng.random()
        if draw < EVALUATIONS and traffic.attended:
            rater, rated = rng.choice(traffic.attended)
            return self._event(
                "evaluation",
                kiosk,
                occurred_at,
                unix_ms,
                {"activity_id": rated, "rating": rng.choice(RATINGS)},
                rater,
            )
        if traffic.open_visits and (
            draw < EVALUATIONS + CHECKOUTS or len(traffic.open_visits) >= OPEN_VISITS
        ):
            visit_id, venue_id, visitor, attended = traffic.open_visits.popleft()
            if attended is not None:
                traffic.attended.append((visitor, attended))
            return self._event(
                "checkout",
                kiosk,
                occurred_at,
                unix_ms,
                {"visit_id": visit_id, "venue_id": venue_id},
                visitor,
            )
        traffic.visits += 1
        visit_id = f"{kiosk.device_id}-{traffic.visits}"
        venue_id = rng.choice(kiosk.venues)
        resident = traffic.resident(rng.randrange(self.residents))
        activity = (
            f"{kiosk.station_id}-A{rng.randrange(ACTIVITIES)}" if rng.random() < 0.5 else None
        )
        traffic.open_visits.append((visit_id, venue_id, resident, activity))
        return self._event(
            "checkin",
            kiosk,
            occurred_at,
            unix_ms,
            {
                "visit_id": visit_id,
                "venue_id": venue_id,
                "activity_id": activity,
                "age_band": rng.choice(AGE_BANDS),
            },
            resident,
        )


@dataclass
class Progress:
    """Cumulative counts since the start, printed every second. ``marks`` are the requests
    sent (first sends, in order) since the last line: (monotonic send time, events sent so far
    once that request's are counted)."""

    t: float = 0.0  #: time.monotonic() when printed (one clock for every process of the host)
    made: int = 0  #: events made (the offered load)
    sent: int = 0  #: events sent at least once
    accepted: int = 0  #: as the answers the fleet received say
    duplicates: int = 0
    rejected: int = 0
    requests: int = 0
    failed: int = 0  #: requests that got no 202 (their events are sent again)
    queued: int = 0  #: events waiting in the kiosks' queues now
    in_flight: int = 0  #: requests awaiting an answer now
    first_error: str = ""
    marks: list[tuple[float, int]] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  #: ms each request took, since last line

    def line(self) -> bytes:
        return orjson.dumps(asdict(self)) + b"\n"


async def run(plan: Plan, out: Any = sys.stdout.buffer) -> Progress:
    """Offer ``plan.rate`` events/s from the fleet for ``plan.seconds``, printing a line of
    ``Progress`` every second; returns the last."""
    import aiohttp

    fleet = Fleet(plan.kiosks, plan.residents, plan.seed)
    n = len(plan.kiosks)
    queues: list[list[str]] = [[] for _ in range(n)]
    busy = [False] * n
    resent = [0] * n  #: events at the head of a kiosk's queue that were sent before
    failures = [0] * n  #: a kiosk's failed sends in a row
    retries: list[tuple[float, int]] = []  #: (when, kiosk): sends again after a failure
    backoff = Backoff()
    headers = [
        {"Authorization": f"Bearer {k.key}", "Content-Type": "application/x-ndjson"}
        for k in plan.kiosks
    ]
    progress = Progress()
    flush_slots = max(1, round(plan.flush_s / TICK_S))
    heartbeat_slots = max(1, round(HEARTBEAT_S / TICK_S))
    order = list(range(n))
    fleet.rng.shuffle(order)  # kiosks spread over the flush period, not by station order
    flush_wheel: list[list[int]] = [[] for _ in range(flush_slots)]
    heartbeat_wheel: list[list[int]] = [[] for _ in range(heartbeat_slots)]
    for place, index in enumerate(order):
        flush_wheel[place * flush_slots // n].append(index)
        heartbeat_wheel[place * heartbeat_slots // n].append(index)
    fact_rate = max(0.0, plan.rate - n / HEARTBEAT_S)
    tasks: set[asyncio.Task[None]] = set()

    async def send(session: aiohttp.ClientSession, index: int, batch: list[str]) -> None:
        body = ("\n".join(batch) + "\n").encode()
        ok = False
        began = time.monotonic()
        try:
            async with session.post("/v1/events", data=body, headers=headers[index]) as response:
                answer = await response.read()
                if response.status == 202:
                    summary = orjson.loads(answer)
                    progress.accepted += summary["accepted"]
                    progress.duplicates += summary["duplicates"]
                    progress.rejected += summary["rejected"]
                    ok = True
                    if summary["rejected"] and not progress.first_error:
                        progress.first_error = answer[:300].decode(errors="replace")
                elif not progress.first_error:
                    progress.first_error = f"{response.status}: {answer[:300]!r}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            if not progress.first_error:
                progress.first_error = f"{type(exc).__name__}: {exc}"
        finally:
            progress.answers.append(round((time.monotonic() - began) * 1000, 1))
            progress.requests += 1
            busy[index] = False
            if ok:
                failures[index] = 0
            else:  # the same events again after the SDK's backoff, as the outbox would
                progress.failed += 1
                queues[index][:0] = batch
                resent[index] += len(batch)
                failures[index] += 1
                wait = backoff.delay(failures[index], fleet.rng)
                heapq.heappush(retries, (time.monotonic() + wait, index))

    def flush(session: aiohttp.ClientSession, index: int) -> None:
        queue = queues[index]
        if busy[index] or not queue:
            return
        batch, queues[index] = queue[:BATCH], queue[BATCH:]
        busy[index] = True
        again = min(len(batch), resent[index])
        resent[index] -= again
        if again < len(batch):  # the first send of some events: marked, in order
            progress.sent += len(batch) - again
            progress.marks.append((time.monotonic(), progress.sent))
        task = asyncio.create_task(send(session, index, batch))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=KEEPALIVE_S)
    # the SDK's 30 s (``HttpTransport``) for connecting and for each read; no bound on the wait
    # for one of the shared connections, which a kiosk with its own connection never has (a
    # total bound counted that wait, and requests timed out unsent, or stored but answered late)
    timeout = aiohttp.ClientTimeout(
        total=None, connect=None, sock_connect=REQUEST_TIMEOUT_S, sock_read=REQUEST_TIMEOUT_S
    )
    session = aiohttp.ClientSession(plan.base_url, connector=connector, timeout=timeout)
    async with session:
        started = time.monotonic()
        started_wall = time.time()
        last_line = started
        _emit(progress, out, queues, tasks)  # the first line: the load's clock starts now
        tick = facts = 0
        while True:
            now = time.monotonic()
            elapsed = now - started
            if elapsed >= plan.seconds:
                break
            wall = started_wall + elapsed
            unix_ms = int(wall * 1000)
            occurred_at = datetime.fromtimestamp(wall, UTC).isoformat().replace("+00:00", "Z")
            for index in heartbeat_wheel[tick % heartbeat_slots]:
                queues[index].append(fleet.heartbeat(index, occurred_at, unix_ms, int(elapsed)))
                progress.made += 1
            for _ in range(int(fact_rate * elapsed) - facts):
                index = fleet.rng.randrange(n)
                queues[index].append(fleet.fact(index, occurred_at, unix_ms))
                facts += 1
                progress.made += 1
            while retries and retries[0][0] <= now:
                flush(session, heapq.heappop(retries)[1])
            for index in flush_wheel[tick % flush_slots]:
                flush(session, index)
            tick += 1
            if now - last_line >= 1.0:
                last_line = now
                _emit(progress, out, queues, tasks)
            await asyncio.sleep(max(0.0, started + tick * TICK_S - time.monotonic()))
        await asyncio.gather(*tasks, return_exceptions=True)
    _emit(progress, out, queues, tasks)
    return progress


def _emit(progress: Progress, out: Any, queues: list[list[str]], tasks: set[Any]) -> None:
    progress.t = time.monotonic()
    progress.queued = sum(len(q) for q in queues)
    progress.in_flight = len(tasks)
    out.write(progress.line())
    out.flush()
    progress.marks = []
    progress.answers = []


def main() -> None:
    plan = Plan.from_json(Path(sys.argv[1]).read_bytes())
    asyncio.run(run(plan))


if __name__ == "__main__":
    main()
