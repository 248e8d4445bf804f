"""``sanjiang kafka start|stop|status`` and ``sanjiang topics ensure``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from sanjiang.cli.common import fail, say, settings_of
from sanjiang.kafka.broker import KafkaError, LocalKafka
from sanjiang.kafka.security import acls_script, broker_start_script
from sanjiang.kafka.topics import Topics, ensure_topics

kafka_app = typer.Typer(
    help="Run the local single-node Kafka broker (KRaft) under var/.", no_args_is_help=True
)
topics_app = typer.Typer(help="Manage the event topics.", no_args_is_help=True)


def _local(ctx: typer.Context) -> LocalKafka:
    try:
        return LocalKafka(settings_of(ctx))
    except KafkaError as exc:
        fail(str(exc))


@kafka_app.command("start")
def start(ctx: typer.Context) -> None:
    """Fetch jars if needed, format storage on first use, start the broker, wait for it."""
    try:
        say(_local(ctx).start(progress=say).describe())
    except KafkaError as exc:
        fail(str(exc))


@kafka_app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the broker cleanly."""
    say("kafka: stopped" if _local(ctx).stop() else "kafka: was not running")


@kafka_app.command("status")
def status(ctx: typer.Context) -> None:
    """Is the broker running and answering? Exit code 0 if so, 3 otherwise."""
    result = _local(ctx).status()
    say(result.describe())
    if not result.answering:
        raise typer.Exit(3)


@topics_app.command("ensure")
def ensure(ctx: typer.Context) -> None:
    """Create the event, telemetry, dead-letter and alert topics if missing (idempotent)."""
    settings = settings_of(ctx)
    try:
        result = asyncio.run(ensure_topics(settings))
    except Exception as exc:
        fail(f"cannot reach Kafka at {settings.bootstrap_servers}: {type(exc).__name__}: {exc}")
    for name in result.created:
        say(f"created  {name}")
    for name in result.existing:
        say(f"exists   {name}")
    for change in result.changed:
        say(f"changed  {change}")
    for warning in result.warnings:
        say(f"[yellow]warning:[/yellow] {warning}")


@kafka_app.command("stack-files")
def stack_files(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write them to.")] = Path(
        "infra/kafka"
    ),
) -> None:
    """Write the compose stack's Kafka files: start.sh (SASL/SCRAM broker) and acls.sh (each
    process's ACLs), from sanjiang.kafka.security."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "start.sh": broker_start_script(),
        "acls.sh": acls_script(Topics.from_settings(settings_of(ctx))),
    }
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        path.chmod(0o755)
        say(f"wrote {path}")
