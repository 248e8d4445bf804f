"""The arithmetic of the four KPIs (DESIGN.md), shared by the live fold and the warehouse.

The warehouse computes the KPIs in SQL (``projections.kpi``); the live fold computes the same
figures for each day as it goes (``streams.kpis``). Both must give *equal* numbers for a closed
day, not nearly equal ones, so every KPI is computed the same way in both places:

- each KPI is a ratio of two integers, divided once at the end: ``numerator / denominator``
  with both below 2^53, which IEEE 754 rounds correctly in Python (int / int) and in
  ClickHouse (UInt64 / UInt64, each converted to Float64 exactly) alike — the same double, to
  the last bit;
- 项目精准率 precision, Σ_c min(d_c / D, s_c / S), is that ratio too: with D the demand events
  and S the capacity supplied (both > 0), min(d_c / D, s_c / S) = min(d_c·S, s_c·D) / (D·S), so
  precision = Σ_c min(d_c·S, s_c·D) / (D·S), an integer sum divided once (``overlap``). Summing
  the shares as floats would round once per category, in an order a GROUP BY does not fix;
- 场馆使用率 utilization counts whole minutes (``span``, ``covered``), as the warehouse does.

Instants are compared as the warehouse stores them: ``starts_at`` and ``ends_at`` of activities
and bookings are kept to the millisecond there (``ms``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from sanjiang.taxonomy import Taxonomy

#: Families whose categories are left out of precision: venue-booking demand is answered by
#: bookable venue hours and measured by utilization (DESIGN.md, "Categories").
EXCLUDED_FAMILIES = frozenset({"venue_booking"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def excluded_categories(taxonomy: Taxonomy) -> frozenset[str]:
    """The categories precision leaves out (those of ``EXCLUDED_FAMILIES``)."""
    return frozenset(c.id for c in taxonomy.categories if c.family in EXCLUDED_FAMILIES)


def ratio(numerator: int, denominator: int) -> float | None:
    """A KPI: None when the denominator is zero (never 0)."""
    return None if denominator == 0 else numerator / denominator


def overlap(demand: Mapping[str, int], supply: Mapping[str, int]) -> tuple[int, int]:
    """Precision as (numerator, denominator): Σ_c min(d_c·S, s_c·D) and D·S, from the demand
    events and the capacity supplied per category (categories left out already)."""
    total_demand, total_supply = sum(demand.values()), sum(supply.values())
    numerator = sum(
        min(n * total_supply, supply[category] * total_demand)
        for category, n in demand.items()
        if category in supply
    )
    return numerator, total_demand * total_supply


def ms(moment: datetime) -> int:
    """An instant in whole milliseconds since the epoch, truncated, as the warehouse's
    DateTime64(3) columns keep it."""
    return (moment - _EPOCH) // _MS


def span(starts_ms: int, ends_ms: int) -> tuple[int, int]:
    """The whole minutes an interval touches, as minute numbers since the epoch: from the
    minute of its start to the minute its end reaches (seconds, truncated, rounded up)."""
    return starts_ms // 60_000, (ends_ms // 1000 + 59) // 60


def covered(lo: int, hi: int, spans: Iterable[tuple[int, int]]) -> int:
    """The minutes of the opening interval ``[lo, hi)`` that ``spans`` (sorted) cover, each
    once: a fold that adds what each span adds past the reach of those before it (the
    warehouse's ``arrayFold``, step for step)."""
    taken, reach = 0, lo
    for start, end in spans:
        end = min(end, hi)
        taken += max(end - max(start, reach), 0)
        reach = max(reach, end)
    return taken
