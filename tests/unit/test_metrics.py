"""The metrics module: what each kind of process exposes, bounded labels, the lag collector,
the helpers hot paths call, and the endpoint a worker serves."""

from __future__ import annotations

import logging
import socket
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sanjiang import metrics
from sanjiang.ports import free_port


def names(registry: CollectorRegistry) -> set[str]:
    text = generate_latest(registry).decode()
    return {family.name for family in text_string_to_metric_families(text)}


def value(name: str, **labels: str) -> float:
    """A sample of the module's metrics (registered in a registry of their own)."""
    registry = CollectorRegistry()
    metrics.expose(*metrics.ROLES, registry=registry)
    return registry.get_sample_value(name, labels) or 0.0


def test_each_role_exposes_its_own_metrics_once() -> None:
    streams, api = CollectorRegistry(), CollectorRegistry()
    metrics.expose("streams", registry=streams)
    metrics.expose("streams", registry=streams)  # again: nothing registered twice
    metrics.expose("api", registry=api)
    assert "sanjiang_fold_records" in names(streams)
    assert "sanjiang_consumer_lag_records" in names(streams)
    assert not any(n.startswith(("sanjiang_ingest", "sanjiang_sse")) for n in names(streams))
    assert {"sanjiang_ingest_events", "sanjiang_ingest_requests", "sanjiang_sse_clients"} <= (
        names(api)
    )
    assert not any(n.startswith("sanjiang_fold") for n in names(api))
    assert metrics.exposing("streams", registry=streams)
    assert not metrics.exposing("deciders", registry=streams)


def test_every_metric_is_prefixed_and_documented_and_its_labels_are_bounded() -> None:
    registry = CollectorRegistry()
    metrics.expose(*metrics.ROLES, registry=registry)
    allowed = {"topic", "partition", "consumer", "kind", "status", "outcome", "reason", "result"}
    allowed |= {"code", "error", "le"}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        assert family.name.startswith(metrics.PREFIX), family.name
        assert family.documentation, family.name
        for sample in family.samples:
            assert set(sample.labels) <= allowed, (family.name, sample.labels)


def test_ingest_answers_are_counted_by_status_and_reason() -> None:
    accepted = value("sanjiang_ingest_events_total", status="accepted", reason="")
    too_old = value("sanjiang_ingest_events_total", status="rejected", reason="too_old")
    metrics.count_ingest(
        [("accepted", None), ("accepted", None), ("rejected", "too_old"), ("duplicate", None)]
    )
    assert value("sanjiang_ingest_events_total", status="accepted", reason="") == accepted + 2
    assert value("sanjiang_ingest_events_total", status="rejected", reason="too_old") == too_old + 1


def test_decisions_are_counted_by_kind_status_and_outcome() -> None:
    def done() -> float:
        return value(
            "sanjiang_command_decisions_total",
            kind="registration.register",
            status="accepted",
            outcome="done",
        )

    def taken() -> float:
        return value(
            "sanjiang_command_decisions_total",
            kind="booking.request",
            status="rejected",
            outcome="venue_taken",
        )

    before = done(), taken()
    metrics.count_decision("registration.register", True, None, None)
    metrics.count_decision("booking.request", False, None, "venue_taken")
    assert (done(), taken()) == (before[0] + 1, before[1] + 1)


def test_the_fold_meter_counts_per_batch() -> None:
    records = value("sanjiang_fold_records_total", topic="p.events")
    applied = value("sanjiang_fold_events_applied_total")
    batches = value("sanjiang_fold_batch_seconds_count")
    meter = metrics.FoldMeter()
    meter.batch("p.events:3", records=500, applied=498, invalid=1, seconds=0.004)
    meter.batch("p.events:4", records=20, applied=20, invalid=0, seconds=0.0002)
    assert value("sanjiang_fold_records_total", topic="p.events") == records + 520
    assert value("sanjiang_fold_events_applied_total") == applied + 518
    assert value("sanjiang_fold_batch_seconds_count") == batches + 2


def test_lag_per_partition_from_sources_and_samples() -> None:
    collector = metrics.LagCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    positions = {"p.events:0": 90, "p.events:1": 10}
    highwaters = {"p.events:0": 100, "p.events:1": 10, "p.telemetry:0": 7}
    collector.watch("streams", lambda: metrics.partition_lag(highwaters, positions))
    collector.set("deciders", {("p.commands", 2): 5})

    def lag(consumer: str, topic: str, partition: str) -> float | None:
        return registry.get_sample_value(
            collector.name, {"consumer": consumer, "topic": topic, "partition": partition}
        )

    assert lag("streams", "p.events", "0") == 10
    assert lag("streams", "p.events", "1") == 0
    assert lag("streams", "p.telemetry", "0") == 7  # never read: all of it
    assert lag("deciders", "p.commands", "2") == 5
    positions["p.events:0"] = 100  # read at scrape time, not when registered
    assert lag("streams", "p.events", "0") == 0
    collector.forget("deciders")
    assert lag("deciders", "p.commands", "2") is None


def test_a_failing_lag_source_does_not_fail_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    collector = metrics.LagCollector()
    registry = CollectorRegistry()
    registry.register(collector)

    def broken() -> metrics.LagValues:
        raise RuntimeError("gone")

    collector.watch("streams", broken)
    collector.set("sink", {("p.events", 0): 3})
    with caplog.at_level(logging.ERROR, logger="sanjiang.metrics"):
        text = generate_latest(registry).decode()
    assert 'consumer="sink"' in text and 'consumer="streams"' not in text
    assert "lag of streams could not be read" in caplog.text


def test_serve_exposes_the_process_metrics_on_its_port_or_not_at_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert metrics.serve("test", "127.0.0.1", 0) is None  # 0 = off
    port = free_port()
    server = metrics.serve("test", "127.0.0.1", port)
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert "process_resident_memory_bytes" in text or "python_info" in text
    taken = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        with caplog.at_level(logging.ERROR, logger="sanjiang.metrics"):
            assert metrics.serve("test", "127.0.0.1", taken) is None  # the work goes on
    assert "metrics not served" in caplog.text
