"""Run the benchmarks: ``python -m bench [--events N]``; writes bench/reports/latest.{json,md}.

Starts a private local broker under var/bench (or uses SANJIANG_KAFKA_BOOTSTRAP) and stops it.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench import ingest, kafka_produce
from bench.report import Report
from sanjiang.kafka.broker import LocalKafka
from sanjiang.settings import load_settings

REPORTS = Path(__file__).parent / "reports"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events per producer loop")
    parser.add_argument("--batch-events", type=int, default=200_000, help="events for batch ingest")
    parser.add_argument("--single-requests", type=int, default=5_000, help="single-event requests")
    parser.add_argument("--out", type=Path, default=REPORTS, help="report folder")
    args = parser.parse_args()

    settings = load_settings()
    broker: LocalKafka | None = None
    if not settings.kafka_external:
        settings = load_settings(
            var_dir=settings.var_dir / "bench", kafka_port=19092, kafka_controller_port=19093
        )
        broker = LocalKafka(settings)
        print(broker.start(progress=print).describe(), flush=True)
    report = Report()
    try:
        print(f"producer throughput, {args.events:,} events per loop:", flush=True)
        asyncio.run(kafka_produce.run(settings, report, args.events))
        print("HTTP ingest and kiosk SDK:", flush=True)
        asyncio.run(ingest.run(settings, report, args.batch_events, args.single_requests))
    finally:
        if broker is not None:
            broker.stop()
    json_path, md_path = report.write(args.out)
    print(f"report: {md_path} and {json_path}")


if __name__ == "__main__":
    main()
