"""The soak's pure parts: the generated network, the fleet's events, and the sampling math."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from api.ingest import IngestPolicy, Rejection
from api.keys import Principal
from bench.soak_load import Fleet, Kiosk, Plan
from bench.soak_network import bounding_box, generate_network, packaged, write_network
from bench.soak_stats import (
    LatencyMatcher,
    Sample,
    Summary,
    Targets,
    growth,
    limiting,
    metric_sum,
    parse_cpu_seconds,
    parse_machine_cpu,
    parse_ppid,
    parse_vmrss,
    summarize,
    warm_up,
    weighted_percentile,
)
from sanjiang.network import Network, load_network

# -- the network ----------------------------------------------------------------------------


def test_generated_network_is_valid_and_of_the_size_asked(tmp_path: Path) -> None:
    path = write_network(tmp_path / "network.yaml", stations=150, seed=3)
    network = load_network(path)
    assert len(network.stations) == 150
    kinds = [s.kind for s in network.stations]
    assert (kinds.count("center"), kinds.count("grid"), kinds.count("residential")) == (1, 4, 28)
    base = {s["id"] for s in packaged()["stations"]}
    assert base <= set(network.by_id)  # the packaged network, as it is, inside
    for station in network.stations:
        assert station.venues
        assert all(v.id.startswith(station.id + "-") for v in station.venues)
    # a second YAML reading of the file must not depend on anchors/aliases
    assert "&id" not in path.read_text()


def test_generated_stations_lie_within_the_subdistricts_coordinates() -> None:
    data = generate_network(stations=300, seed=5)
    south, north, west, east = bounding_box(packaged()["stations"])
    added = [s for s in data["stations"] if s["id"].startswith("SX-")]
    assert len(added) == 300 - len(packaged()["stations"])
    for station in added:
        assert south <= station["lat"] <= north
        assert west <= station["lon"] <= east
        assert station["kind"] == "partner"
        assert station["serves"]
    Network.model_validate(data)


def test_generation_is_deterministic_from_its_seed() -> None:
    assert generate_network(200, seed=7) == generate_network(200, seed=7)
    assert generate_network(200, seed=7) != generate_network(200, seed=8)


def test_a_network_smaller_than_the_packaged_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_network(stations=10)


# -- the fleet's events ---------------------------------------------------------------------


def _kiosks(n: int) -> tuple[Kiosk, ...]:
    data = generate_network(stations=n, seed=1)
    return tuple(
        Kiosk(s["id"], f"{s['id']}-K1", "key", tuple(v["id"] for v in s["venues"]))
        for s in data["stations"]
    )


def test_every_event_of_the_fleet_is_one_its_kiosk_key_may_send() -> None:
    kiosks = _kiosks(60)
    fleet = Fleet(kiosks, residents=20, seed=2)
    now = datetime.now(UTC)
    stamp, ms = now.isoformat().replace("+00:00", "Z"), int(now.timestamp() * 1000)
    policy = IngestPolicy(
        frozenset(k.station_id for k in kiosks),
        clock_skew=timedelta(seconds=120),
        late_after=timedelta(seconds=300),
        late_window=timedelta(hours=168),
    )
    events = [(i % len(kiosks), fleet.fact(i % len(kiosks), stamp, ms)) for i in range(3000)]
    events += [(i, fleet.heartbeat(i, stamp, ms, 5)) for i in range(len(kiosks))]
    types = set()
    for index, text in events:
        kiosk = kiosks[index]
        outcome = policy.check(
            Principal(kiosk.device_id, "kiosk", kiosk.station_id), orjson.loads(text), now
        )
        assert not isinstance(outcome, Rejection), outcome
        types.add(outcome.type)
    assert types == {
        "checkin.recorded",
        "checkout.recorded",
        "evaluation.submitted",
        "kiosk.heartbeat",
    }
    made = fleet.made
    assert made["checkin"] > made["evaluation"] > 0
    assert made["checkout"] > 0.7 * made["checkin"]  # most visits end with a check-out


def test_ids_are_unique_and_residents_are_pseudonyms() -> None:
    kiosks = _kiosks(40)
    fleet = Fleet(kiosks, residents=5, seed=4)
    ms = int(datetime.now(UTC).timestamp() * 1000)
    documents = [orjson.loads(fleet.fact(i % 40, "2026-12-08T02:00:00Z", ms)) for i in range(2000)]
    assert len({d["event_id"] for d in documents}) == 2000
    residents = {d["resident"] for d in documents if d["type"] == "checkin.recorded"}
    assert all(len(r) == 32 and int(r, 16) >= 0 for r in residents)
    assert len(residents) <= 40 * 5


def test_the_plan_survives_its_json() -> None:
    plan = Plan("http://127.0.0.1:1", _kiosks(40), rate=100.0, seconds=5.0, flush_s=2.0)
    assert Plan.from_json(plan.to_json()) == plan


# -- /proc ----------------------------------------------------------------------------------

STAT = (
    "4242 (python3 -m sanjiang) S 4200 4242 4200 0 -1 4194304 95125 0 0 0 "
    "1500 250 30 20 20 0 9 0 123 456 789 18446744073709551615"
)


def test_cpu_seconds_and_parent_from_proc_stat() -> None:
    assert parse_cpu_seconds(STAT, ticks=100) == pytest.approx((1500 + 250 + 30 + 20) / 100)
    assert parse_ppid(STAT) == 4200


def test_resident_memory_from_proc_status() -> None:
    status = "Name:\tpython3\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n"
    assert parse_vmrss(status) == 123456
    assert parse_vmrss("Name:\tkthreadd\n") is None


def test_machine_cpu_from_proc_stat() -> None:
    # user nice system idle iowait irq softirq steal
    busy, total = parse_machine_cpu("cpu  100 0 50 800 40 0 10 0 0 0\ncpu0 1 2 3\n", ticks=10)
    assert (busy, total) == (16.0, 100.0)


def test_metric_sums_from_the_prometheus_text() -> None:
    text = (
        "# HELP sanjiang_consumer_lag_records Records ...\n"
        "# TYPE sanjiang_consumer_lag_records gauge\n"
        'sanjiang_consumer_lag_records{consumer="streams",partition="0",topic="p.events"} 120.0\n'
        'sanjiang_consumer_lag_records{consumer="streams",partition="1",topic="p.events"} 30.0\n'
        'sanjiang_consumer_lag_records{consumer="warehouse",partition="0",topic="p.events"} 9.0\n'
        "sanjiang_fold_events_applied_total 4.5e+06\n"
        "sanjiang_fold_events_applied_created 1.7e+09\n"
    )
    assert metric_sum(text, "sanjiang_consumer_lag_records", consumer="streams") == 150.0
    assert metric_sum(text, "sanjiang_consumer_lag_records") == 159.0
    assert metric_sum(text, "sanjiang_fold_events_applied_total") == 4_500_000
    assert metric_sum(text, "sanjiang_consumer_lag_records", consumer="deciders") is None


# -- percentiles and latency matching -------------------------------------------------------


def test_weighted_percentile() -> None:
    assert weighted_percentile([], 99) is None
    assert weighted_percentile([(1.0, 1), (2.0, 1), (3.0, 1), (4.0, 1)], 50) == 2.0
    # one slow request of 10 events among 990 fast ones: p99 is the fast value, p99.5 the slow
    values = [(0.1, 990), (5.0, 10)]
    assert weighted_percentile(values, 99) == 0.1
    assert weighted_percentile(values, 99.5) == 5.0
    assert weighted_percentile([(7.0, 3)], 99) == 7.0


def test_latency_is_from_the_send_to_the_first_message_that_covers_a_request() -> None:
    matcher = LatencyMatcher()
    matcher.mark(10.0, 5)  # request A: events 1-5, sent at 10.0
    matcher.mark(10.5, 8)  # request B: events 6-8
    matcher.mark(11.0, 20)  # request C: events 9-20
    matcher.seen(10.2, 3)  # covers part of A only: nothing resolved
    matcher.seen(10.8, 8)  # covers A and B
    matcher.seen(13.0, 25)  # covers C (more applied than sent: other sources' events)
    first = matcher.take(until=12.0)
    assert [w for _, w in first] == [5, 3]
    assert [t for t, _ in first] == pytest.approx([0.8, 0.3])
    assert matcher.pending() == 12
    second = matcher.take(until=14.0)
    assert [w for _, w in second] == [12]
    assert [t for t, _ in second] == pytest.approx([2.0])
    assert matcher.take(until=20.0) == []
    assert matcher.pending() == 0


def test_marks_must_count_up() -> None:
    matcher = LatencyMatcher()
    matcher.mark(1.0, 5)
    with pytest.raises(ValueError, match="increase"):
        matcher.mark(2.0, 5)


# -- the summary ----------------------------------------------------------------------------


def _sample(t: float, **overrides: object) -> Sample:
    values: dict[str, object] = {
        "t": t,
        "accepted": int(10_000 * t),
        "rate": 10_000.0,
        "offered": 10_000.0,
        "worker_lag": 2_000,
        "applied": int(10_000 * t),
        "sink_backlog": 15_000,
        "sse_p50_ms": 150.0,
        "sse_p99_ms": 400.0,
        "sse_events": 100_000,
        "rss_mib": {"api": 1000.0, "streams": 500.0 + t, "load": 300.0},
        "cpu_cores": {"api": 0.6, "streams": 0.5},
        "machine_cores": 1.6,
        "view_updates": 10.0,
    }
    values.update(overrides)
    return Sample(**values)  # type: ignore[arg-type]


CPU = {"api": 360.0, "streams": 300.0, "streams reader": 60.0, "kafka": 120.0, "load": 150.0}


def test_warm_up_is_two_minutes_or_a_fifth_of_a_short_run() -> None:
    assert warm_up(600) == 120
    assert warm_up(60) == 12


def test_memory_growth_is_from_the_end_of_the_warm_up() -> None:
    samples = [_sample(t) for t in range(10, 601, 10)]
    start, end, grown = growth(samples, "streams", 120)
    assert (start, end, grown) == (620.0, 1100.0, 480.0)
    assert all(math.isnan(v) for v in growth(samples, "absent", 120))


def test_a_run_that_holds() -> None:
    samples = [_sample(t, rss_mib={"api": 1000.0, "streams": 500.0}) for t in range(10, 601, 10)]
    summary = summarize(samples, Targets(10_000), CPU, cores=2, platform=("api", "streams"))
    assert summary.accepted_rate == pytest.approx(10_000)
    assert summary.offered_rate == pytest.approx(10_000)
    assert summary.rate_met and summary.lag_met and summary.backlog_met and summary.sse_met
    assert summary.memory_met == {"api": True, "streams": True}
    assert summary.cpu_cores["api"] == pytest.approx(0.6)
    assert summary.held
    assert summary.limit.startswith("The rate held")


def test_the_rate_is_judged_after_the_warm_up() -> None:
    # the first 10-s window ramps up (kiosks send their queue every 10 s): not held against it
    samples = [_sample(10, accepted=20_000, rate=2_000.0)]
    samples += [_sample(t, accepted=20_000 + 10_000 * (t - 10)) for t in range(20, 601, 10)]
    summary = summarize(samples, Targets(10_000), CPU, cores=2, platform=())
    assert summary.accepted_rate == pytest.approx(10_000)
    assert summary.accepted_rate_all < 9_900
    assert summary.rate_met
    short = summarize(samples[:6], Targets(10_000), CPU, cores=2, platform=())  # warm-up 12 s
    assert short.accepted_rate == pytest.approx(10_000)


def test_memory_that_grows_is_not_flat_and_the_harness_is_not_judged() -> None:
    samples = [_sample(t) for t in range(10, 601, 10)]
    summary = summarize(samples, Targets(10_000), CPU, cores=2, platform=("api", "streams"))
    assert summary.memory_met == {"api": True, "streams": False}  # "load" is not judged


def test_an_ingest_that_falls_behind_names_the_busiest_process_of_the_ingest() -> None:
    samples = [
        _sample(t, accepted=int(6_000 * t), rate=6_000.0, machine_cores=2.0)
        for t in range(10, 601, 10)
    ]
    cpu = {**CPU, "api": 590.0}  # 0.98 cores over 600 s
    summary = summarize(samples, Targets(10_000), cpu, cores=2, platform=("api",))
    assert not summary.rate_met and summary.lag_met
    assert "Limited by api" in summary.limit
    assert "a whole one" in summary.limit
    assert "cores were busy" in summary.limit


def test_a_lag_that_grows_names_the_stream_worker() -> None:
    samples = [_sample(t, worker_lag=int(300 * t)) for t in range(10, 601, 10)]
    summary = summarize(samples, Targets(10_000), CPU, cores=2, platform=())
    assert summary.rate_met and not summary.lag_met
    assert summary.worker_lag_max == 180_000
    assert "Limited by streams" in limiting(summary, 2)


def test_a_summary_needs_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize([], Targets(10_000), {}, cores=2, platform=())
    assert isinstance(summarize([_sample(10)], Targets(10_000), CPU, cores=2, platform=()), Summary)
