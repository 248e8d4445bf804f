"""Which days reconciliation may compare: only windows that have closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from projections.reconcile import closes_at, split_closed
from sanjiang.network import load_network


def test_a_day_closes_when_its_grace_has_passed() -> None:
    network = load_network()
    grace = timedelta(hours=6)
    day = date(2026, 11, 24)
    assert closes_at(day, network, grace) == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    before = datetime(2026, 11, 24, 21, 59, tzinfo=UTC)
    after = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    assert split_closed([day, day + timedelta(days=1)], before, network, grace) == (
        [],
        [day, day + timedelta(days=1)],
    )
    assert split_closed([day, day + timedelta(days=1)], after, network, grace) == (
        [day],
        [day + timedelta(days=1)],
    )
