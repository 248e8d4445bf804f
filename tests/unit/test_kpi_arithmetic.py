"""The KPIs' arithmetic (``sanjiang.kpis``): one division of exact integers, so the value is the
correctly rounded ratio, whatever the order categories or spans come in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from sanjiang.kpis import covered, excluded_categories, ms, overlap, ratio, span
from sanjiang.taxonomy import load_taxonomy

counts = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 10**6), max_size=8)


@given(counts, counts)
def test_precision_is_the_exact_sum_of_shares_rounded_once(
    demand: dict[str, int], supply: dict[str, int]
) -> None:
    numerator, denominator = overlap(demand, supply)
    d, s = sum(demand.values()), sum(supply.values())
    if not d or not s:
        assert ratio(numerator, denominator) is None
        return
    exact = sum(
        (min(Fraction(n, d), Fraction(supply[c], s)) for c, n in demand.items() if c in supply),
        Fraction(0),
    )
    assert Fraction(numerator, denominator) == exact
    assert ratio(numerator, denominator) == float(exact)  # the nearest double
    shuffled = list(demand.items())
    random.Random(len(shuffled)).shuffle(shuffled)
    assert overlap(dict(shuffled), supply) == (numerator, denominator)


def test_utilization_counts_whole_minutes_once() -> None:
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    lo = ms(at) // 60_000
    # 09:00-09:30 and 09:15-10:00:30 overlap; the second's end reaches minute 61
    spans = sorted(
        [
            span(ms(at), ms(at + timedelta(minutes=30))),
            span(ms(at + timedelta(minutes=15)), ms(at + timedelta(minutes=60, seconds=30))),
        ]
    )
    assert covered(lo, lo + 120, spans) == 61
    assert covered(lo + 30, lo + 45, spans) == 15  # clipped to the opening interval
    assert covered(lo, lo + 120, []) == 0
    # an end reaches the minutes its whole seconds touch (as toUnixTimestamp truncates them)
    assert span(ms(at), ms(at + timedelta(minutes=1, seconds=1)))[1] == lo + 2
    assert span(ms(at), ms(at + timedelta(minutes=1, microseconds=999_999)))[1] == lo + 1
    assert span(ms(at), ms(at + timedelta(minutes=1)))[1] == lo + 1
    assert ms(at + timedelta(microseconds=1999)) == ms(at) + 1  # truncated, as DateTime64(3)


def test_venue_booking_is_left_out_of_precision() -> None:
    taxonomy = load_taxonomy()
    left_out = excluded_categories(taxonomy)
    assert left_out and all(taxonomy.category_by_id[c].family == "venue_booking" for c in left_out)
