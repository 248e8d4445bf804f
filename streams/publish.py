"""What the worker sends at each tick of its publish timer, computed without I/O: the alerts
that opened or closed (to ``<prefix>.alerts``) and the live views whose document changed since
the last tick (to the compacted ``<prefix>.live``, keyed by view name).

Occupancy is read once per tick and shared by the alert rules and the views; views whose inputs
did not change are not rendered at all (``ViewRenderer``); the others are serialized and sent
only if their bytes differ from what was sent last for that view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.alerts import AlertRules, AlertTracker, conditions
from streams.state import LiveState
from streams.views import ViewRenderer

Record = tuple[bytes, bytes]  #: (key, value) of one Kafka record


@dataclass
class Tick:
    alerts: list[Record] = field(default_factory=list)
    views: list[Record] = field(default_factory=list)


class LivePublisher:
    def __init__(
        self, rules: AlertRules | None = None, category_names: Mapping[str, str] | None = None
    ) -> None:
        self.rules = rules or AlertRules()
        self.category_names = dict(category_names or {})
        self.tracker = AlertTracker()
        self.renderer = ViewRenderer()
        self.published: dict[str, bytes] = {}  #: view -> its last document sent (no ``as_of``)

    def tick(
        self, state: LiveState, now: datetime, worker: Mapping[str, Any] | None = None
    ) -> Tick:
        """What to send at ``now``; ``worker`` (the worker's own status) joins the
        ``pipeline`` view."""
        out = Tick()
        occupancy = state.occupancy(now)
        found = conditions(state, now, self.rules, occupancy, self.category_names)
        for alert in self.tracker.update(found, now):
            out.alerts.append((alert.key.encode(), orjson.dumps(alert.document())))
        views = self.renderer.render(state, now, occupancy)
        views["alerts"] = {"open": [a.document() for a in self.tracker.open.values()]}
        if worker:
            views["pipeline"].update(worker)
        as_of = now.isoformat()
        for name, document in views.items():
            document.pop("as_of", None)
            body = orjson.dumps(document)
            if self.published.get(name) != body:
                self.published[name] = body
                stamped = orjson.dumps({"view": name, "as_of": as_of, **document})
                out.views.append((name.encode(), stamped))
        return out
