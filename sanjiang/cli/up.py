"""``sanjiang up``: start the platform's processes, watch them, stop them cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import time
from types import FrameType
from typing import Annotated

import typer

from sanjiang.cli.common import fail, say, settings_of
from sanjiang.kafka.broker import KafkaError, LocalKafka
from sanjiang.kafka.topics import ensure_topics


class _SignalledStopError(Exception):
    """Raised by the signal handler to leave the watch loop."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _SignalledStopError(signal.Signals(signum).name)


def up(
    ctx: typer.Context,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Also run the network simulator (not available yet).")
    ] = False,
) -> None:
    """Start Kafka (unless external) and the topics, then keep watching until Ctrl-C."""
    settings = settings_of(ctx)
    broker: LocalKafka | None = None
    started_here = False
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        if not settings.kafka_external:
            broker = LocalKafka(settings)
            started_here = broker.pid() is None
            say(broker.start(progress=say).describe())
        else:
            say(f"kafka: external cluster at {settings.bootstrap_servers}")
        result = asyncio.run(ensure_topics(settings))
        say(f"topics: {len(result.created)} created, {len(result.existing)} already there")
        if simulate:
            say("[yellow]simulator: not part of this build yet; running without it[/yellow]")
        say(
            "\n[bold]Sanjiang is up.[/bold]\n"
            f"  Kafka bootstrap   {settings.bootstrap_servers}\n"
            f"  event topic       {settings.topic_prefix}.events\n"
            f"  dead letters      {settings.topic_prefix}.deadletter\n"
            f"  state and logs    {settings.var_dir.resolve()}\n"
            "Press Ctrl-C to stop."
        )
        while True:
            time.sleep(1.0)
            if broker is not None and broker.pid() is None:
                fail(f"Kafka stopped unexpectedly; log tail:\n{broker.log_tail()}")
    except (KeyboardInterrupt, _SignalledStopError):
        say("\nstopping…")
    except KafkaError as exc:
        fail(str(exc))
    finally:
        if broker is not None and started_here:
            broker.stop()
            say("kafka: stopped")
