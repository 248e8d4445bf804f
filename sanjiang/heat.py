"""热度 heat: how much an activity, station or category is drawing people right now.

One definition, used by the live projection and by the warehouse query alike:

    heat(x, t) = Σ over the events e about x with occurred_at <= t of
                 weight(e) × 2 ^ (−(t − e.occurred_at) / HALF_LIFE)

with weights: a registration 1, a cancelled registration −1, a check-in 2, an evaluation
rating/5 × 2 (0.4 for 1 star … 2.0 for 5 stars). The half-life is 3 days: an activity's heat
halves every 3 days without new interest, so the ranking reflects the present week.
An event counts for its activity, the station that emitted it, and the activity's category.
Heat is a score for ranking, not a count; it is never negative in practice because a
cancellation follows its registration and decays the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

HALF_LIFE_HOURS = 72.0
WEIGHTS: dict[str, float] = {
    "registration.submitted": 1.0,
    "registration.cancelled": -1.0,
    "checkin.recorded": 2.0,
}
EVALUATION_WEIGHT_PER_STAR = 2.0 / 5.0
HEAT_TYPES = (*WEIGHTS, "evaluation.submitted")


def weight(event_type: str, rating: int = 0) -> float:
    """The weight of one event in the heat sum."""
    if event_type == "evaluation.submitted":
        return rating * EVALUATION_WEIGHT_PER_STAR
    return WEIGHTS.get(event_type, 0.0)


def decay(age_hours: float) -> float:
    """2^(−age / half-life); events from the future (clock skew) count as now."""
    return math.pow(2.0, -max(0.0, age_hours) / HALF_LIFE_HOURS)


def heat(events: Iterable[tuple[str, int, datetime]], at: datetime) -> float:
    """Heat at ``at`` of (type, rating, occurred_at) triples."""
    return sum(
        weight(kind, rating) * decay((at - when).total_seconds() / 3600)
        for kind, rating, when in events
        if when <= at
    )


def heat_sql_expression(at_param: str = "{at:DateTime64(3, 'UTC')}") -> str:
    """The same sum as a ClickHouse aggregate over the ``events`` table's rows."""
    weights = " ".join(f"WHEN '{k}' THEN {v}" for k, v in WEIGHTS.items())
    return (
        f"sum((CASE type {weights} WHEN 'evaluation.submitted' THEN rating * "
        f"{EVALUATION_WEIGHT_PER_STAR} ELSE 0 END) * pow(2, -greatest(0, "
        f"dateDiff('second', occurred_at, {at_param}) / 3600) / {HALF_LIFE_HOURS}))"
    )
