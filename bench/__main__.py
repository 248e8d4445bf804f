"""Run the benchmarks: ``python -m bench [--suite kafka|ingest|warehouse|streams|commands|all]``;
merges the suites run into bench/reports/latest.{json,md} (``--out`` another folder): their
figures replace those of the same suites, other suites' stay with the run they came from.

``--suite soak`` (``make soak``) runs the city-scale soak alone: ten minutes or more with the
machine's cores busy, so ``all`` leaves it out.

Starts a private local broker under var/bench (or uses SANJIANG_KAFKA_BOOTSTRAP) when a suite
first needs it, and stops it at the end. The warehouse suite needs Kafka only for its sink
figure: its bulk-load and query parts run without a broker.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path

from bench import commands, ingest, kafka_produce, soak, streams, warehouse
from bench.report import SUITES, Report
from sanjiang.kafka.broker import LocalKafka
from sanjiang.settings import Settings, load_settings

REPORTS = Path(__file__).parent / "reports"
#: What ``--suite all`` runs: every suite but the soak (``--suite soak``)
ALL = tuple(s for s in SUITES if s != "soak")


class Broker:
    """The broker the suites share, started on first use (never, if no suite asks)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local: LocalKafka | None = None

    def ensure(self) -> Settings:
        if not self.settings.kafka_external and self._local is None:
            local = LocalKafka(self.settings)
            print(local.start(progress=print).describe(), flush=True)
            self._local = local
        return self.settings

    def stop(self) -> None:
        if self._local is not None:
            self._local.stop()
            self._local = None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", choices=(*SUITES, "all"), default="all", help="what to run")
    parser.add_argument("--events", type=int, default=100_000, help="events per producer loop")
    parser.add_argument("--batch-events", type=int, default=200_000, help="events for batch ingest")
    parser.add_argument("--single-requests", type=int, default=5_000, help="single-event requests")
    parser.add_argument(
        "--warehouse-events",
        type=int,
        default=300_000,
        help="events for sink vs bulk load (0 skips that part, and Kafka with it)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=2_000_000,
        help="events in the query-latency dataset (0: skip the query part)",
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="keep the query-latency dataset in this folder and reuse it on later runs with "
        "the same --rows (default: a scratch folder, removed)",
    )
    parser.add_argument(
        "--stream-events", type=int, default=300_000, help="events for projection throughput"
    )
    parser.add_argument(
        "--commands", type=int, default=2_000, help="commands for the round trip at 200/s"
    )
    parser.add_argument(
        "--saturation-commands", type=int, default=20_000, help="commands for decisions/s"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="soak: how long the load runs")
    parser.add_argument("--rate", type=float, default=10_000, help="soak: events/s offered")
    parser.add_argument("--stations", type=int, default=6000, help="soak: stations, a kiosk each")
    parser.add_argument(
        "--flush-seconds",
        type=float,
        default=10.0,
        help="soak: how often each kiosk sends its queued events (one request)",
    )
    parser.add_argument("--out", type=Path, default=REPORTS, help="report folder")
    args = parser.parse_args()
    suites = ALL if args.suite == "all" else (args.suite,)

    settings = load_settings()
    if not settings.kafka_external:
        settings = load_settings(
            var_dir=settings.var_dir / "bench", kafka_port=19092, kafka_controller_port=19093
        )
    broker = Broker(settings)
    report = Report(command=shlex.join(["python", "-m", "bench", *sys.argv[1:]]))
    try:
        if "kafka" in suites:
            with report.suite("kafka"):
                print(f"producer throughput, {args.events:,} events per loop:", flush=True)
                asyncio.run(kafka_produce.run(broker.ensure(), report, args.events))
        if "ingest" in suites:
            with report.suite("ingest"):
                print("HTTP ingest and kiosk SDK:", flush=True)
                asyncio.run(
                    ingest.run(broker.ensure(), report, args.batch_events, args.single_requests)
                )
        if "warehouse" in suites:
            with report.suite("warehouse"):
                print(
                    f"warehouse: sink vs bulk load on {args.warehouse_events:,} events, "
                    f"queries on {args.rows:,}:",
                    flush=True,
                )
                warehouse.run(
                    settings, report, args.warehouse_events, args.rows, broker.ensure, args.dataset
                )
        if "streams" in suites:
            with report.suite("streams"):
                print(
                    f"stream processing on {args.stream_events:,} events, SSE latency:", flush=True
                )
                asyncio.run(streams.run(broker.ensure(), report, args.stream_events))
        if "commands" in suites:
            with report.suite("commands"):
                print("commands: round trip at 200/s, decisions at saturation:", flush=True)
                asyncio.run(
                    commands.run(broker.ensure(), report, args.commands, args.saturation_commands)
                )
        if "soak" in suites:
            with report.suite("soak"):
                print(
                    f"soak: {args.stations:,} stations, {args.rate:,.0f} events/s for "
                    f"{args.minutes:g} min through HTTP ingest:",
                    flush=True,
                )
                asyncio.run(
                    soak.run(
                        broker.ensure(),
                        report,
                        minutes=args.minutes,
                        rate=args.rate,
                        stations=args.stations,
                        flush_s=args.flush_seconds,
                        out=args.out,
                    )
                )
    finally:
        broker.stop()
    json_path, md_path = report.write(args.out)
    print(f"report: {md_path} and {json_path}")


if __name__ == "__main__":
    main()
