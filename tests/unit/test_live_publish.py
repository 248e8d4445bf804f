"""The worker's tick: views sent only when changed, and what was sent always equals a full
render of every view at that instant."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson

from sanjiang.events.codec import stamp_received
from sanjiang.network import load_network
from streams.alerts import AlertRules
from streams.publish import LivePublisher
from streams.state import LiveState
from streams.views import live_views
from tests import simulated

NETWORK = load_network()


def two_days() -> list[Any]:
    emissions = simulated.emissions(date(2026, 11, 17), days=2, seed=5)
    return [
        (e.emit_at, stamp_received(e.event, e.emit_at, timedelta(minutes=5))) for e in emissions
    ]


def full_render(state: LiveState, publisher: LivePublisher, now: Any) -> dict[str, Any]:
    views = live_views(state, now)
    views["alerts"] = {"open": [a.document() for a in publisher.tracker.open.values()]}
    for document in views.values():
        document.pop("as_of", None)
    return views


def test_what_was_sent_equals_a_full_render_at_every_tick() -> None:
    state = LiveState(NETWORK, grace=timedelta(hours=6))
    publisher = LivePublisher(AlertRules(min_evaluations=2, surge_min=3))
    sent: dict[str, Any] = {}
    alert_records = 0
    emissions = two_days()
    ticks = [(i, emissions[i][0]) for i in range(0, len(emissions), 250)]
    ticks += [(len(emissions), emissions[-1][0] + timedelta(hours=h)) for h in (1, 8, 30)]
    done = 0
    for upto, now in ticks:
        for _, event in emissions[done:upto]:
            state.apply(event)
        done = upto
        tick = publisher.tick(state, now)
        alert_records += len(tick.alerts)
        for key, value in tick.views:
            document = orjson.loads(value)
            assert (document.pop("view"), document.pop("as_of")) == (key.decode(), now.isoformat())
            sent[key.decode()] = document
        assert sent == orjson.loads(orjson.dumps(full_render(state, publisher, now)))
    assert alert_records > 0
    assert any(name.startswith("day:2026-11-17:") for name in sent)  # the first day closed
    assert sent["venues"]["occupancy"] == {}  # everyone checked out or closed at night


def test_a_tick_with_nothing_new_sends_nothing() -> None:
    state = LiveState(NETWORK)
    emissions = two_days()[:3000]
    for _, event in emissions:
        state.apply(event)
    now = emissions[-1][0]
    publisher = LivePublisher()
    first = publisher.tick(state, now)
    assert {k.decode() for k, _ in first.views} >= {"network", "venues", "pipeline", "alerts"}
    assert publisher.tick(state, now).views == []
    _, event = two_days()[3000]
    state.apply(event)
    sent = {k.decode() for k, _ in publisher.tick(state, now).views}
    assert "pipeline" in sent and sent <= {
        "pipeline",
        "network",
        f"station:{event.station_id}",
        "venues",
        "activities",
        "kiosks",
    }
