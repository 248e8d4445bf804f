"""A chDB warehouse loaded the way production fills it: a simulated week through the sink's
writer, plus the ops tables from the same events (live views folded by the real stream fold,
alerts from the real rules, heartbeats, dead letters and offset samples). The simulated kiosks
contradict the deciders only by the few residents who come to a small class without a place
(``no_registration``), so a few kiosk facts of other kinds are added (``CONFLICTING``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from producers.simulator import simulate
from projections.migrate import load_reference, migrate
from projections.ops_sink import (
    alert_row,
    dead_letter_row,
    heartbeat_row,
    live_view_row,
)
from projections.warehouse import ChdbWarehouse, ch_datetime
from projections.writer import EventWriter, Positioned
from sanjiang.events import Event
from sanjiang.events import payloads as p
from sanjiang.events.codec import encode_event, new_event, stamp_received
from sanjiang.network import load_network
from sanjiang.pseudonym import Pseudonymizer
from sanjiang.taxonomy import load_taxonomy
from streams.alerts import AlertRules, AlertTracker, conditions
from streams.state import LiveState
from streams.views import live_views

TZ = ZoneInfo("Asia/Shanghai")
START = date(2026, 11, 16)  # a Monday
DAYS = 7
#: When the loaded warehouse "is": the last simulated morning, while a kiosk of an open station
#: (WS-G3-K2, seed 7) is in an outage — a kiosk is offline only while its station is open.
NOW = datetime.combine(START + timedelta(days=DAYS - 1), time(11, 0), TZ)
EVENTS_TOPIC = "sanjiang.events"


def simulated_week() -> list[Event]:
    """The platform's view of a simulated week: stamped, duplicates dropped."""
    seen: set[uuid.UUID] = set()
    events: list[Event] = []
    for emission in simulate(
        load_network(),
        load_taxonomy(),
        start=START,
        days=DAYS,
        seed=7,
        pseudonymize=Pseudonymizer(b"d" * 32),
    ):
        if emission.event.event_id in seen:
            continue
        seen.add(emission.event.event_id)
        events.append(stamp_received(emission.event, emission.emit_at, timedelta(minutes=10)))
    return events


def conflicting_facts() -> list[Event]:
    """Kiosk facts in conflict, on the week's third day: a check-in at a venue that does not
    exist, one at another station's room, and an evaluation from someone who never came."""
    when = datetime.combine(START + timedelta(days=2), time(10), TZ)
    facts = [
        (p.CheckinRecorded(visit_id="x-1", venue_id="WS-GONE"), "WS-R05", "a"),
        (p.CheckinRecorded(visit_id="x-2", venue_id="WS-R06-ACT"), "WS-R05", "b"),
        (p.EvaluationSubmitted(activity_id="never-held", rating=1), "WS-R05", "c"),
    ]
    return [
        stamp_received(
            new_event(
                payload,
                station_id=station,
                source=f"kiosk:{station}-K1",
                occurred_at=when + timedelta(minutes=i),
                resident=who * 32,
            ),
            when + timedelta(minutes=i),
            timedelta(minutes=10),
        )
        for i, (payload, station, who) in enumerate(facts)
    ]


#: What ``conflicting_facts`` adds, by kind.
CONFLICTING = {"unknown_venue": 1, "venue_of_other_station": 1, "not_attended": 1}


def load(folder: Path) -> ChdbWarehouse:
    network = load_network()
    warehouse = ChdbWarehouse(folder)
    migrate(warehouse)
    load_reference(warehouse, network, load_taxonomy())
    events = simulated_week() + conflicting_facts()
    domain = [e for e in events if e.type != "kiosk.heartbeat"]
    EventWriter(warehouse).write([Positioned(e) for e in domain])
    db = warehouse.database

    def insert(table: str, rows: list[dict[str, object]]) -> None:
        warehouse.insert_json_rows(f"{db}.{table}", b"\n".join(orjson.dumps(r) for r in rows))

    insert(
        "kiosk_heartbeats",
        [heartbeat_row(encode_event(e)) for e in events if e.type == "kiosk.heartbeat"],
    )

    state = LiveState(network, grace=timedelta(hours=6), offline_after=timedelta(minutes=15))
    for event in sorted(events, key=lambda e: e.received_at or e.occurred_at):
        if (event.received_at or event.occurred_at) <= NOW:
            state.apply(event)
    tracker = AlertTracker()
    alerts = tracker.update(conditions(state, NOW, AlertRules()), NOW)
    views = live_views(state, NOW)
    views["alerts"] = {
        "as_of": NOW.isoformat(),
        "open": [a.document() for a in tracker.open.values()],
    }
    insert(
        "live_views",
        [live_view_row(name.encode(), orjson.dumps(doc)) for name, doc in views.items()],
    )
    insert("alerts", [alert_row(orjson.dumps(a.document()), i) for i, a in enumerate(alerts)])
    insert(
        "dead_letters",
        [
            dead_letter_row(
                b'{"type": "checkin.recorded"}',
                [
                    ("reason", b"invalid_event"),
                    ("detail", b"payload.visit_id: field required"),
                    ("origin", b"api"),
                    ("rejected_at", (NOW - timedelta(hours=h)).isoformat().encode()),
                ],
                0,
                h,
            )
            for h in range(3)
        ],
    )
    insert(
        "topic_offsets",
        [
            {
                "sampled_at": ch_datetime(NOW.astimezone(UTC)),
                "topic": EVENTS_TOPIC,
                "partition": p,
                "end_offset": 1000 * (p + 1),
            }
            for p in range(6)
        ],
    )
    return warehouse
