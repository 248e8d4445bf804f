"""``sanjiang simulate``: the network simulator, as a backfill file or live through the SDK."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sanjiang.cli.common import console, fail, say, settings_of
from sanjiang.network import load_network
from sanjiang.pseudonym import pseudonymizer_for
from sanjiang.taxonomy import load_taxonomy


def simulate(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, help="Backfill: days of history to generate.")] = 7,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Backfill: NDJSON file to write ('-' for stdout).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Backfill: first day (YYYY-MM-DD); default: DAYS ago.")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Emit in real time through kiosk SDKs.")
    ] = False,
    speed: Annotated[
        float, typer.Option(min=0.01, help="Live: time compression (1 = real time).")
    ] = 1.0,
    via: Annotated[
        str, typer.Option(help="Live: deliver through 'http' ingest or 'kafka'.")
    ] = "http",
    api_url: Annotated[str | None, typer.Option(help="Live: ingest base URL.")] = None,
) -> None:
    """Simulate the 1+4+28+X network: a backfill file (--out) or a live feed (--live)."""
    settings = settings_of(ctx)
    network, taxonomy = load_network(settings.network_file), load_taxonomy()
    pseudonymize = pseudonymizer_for(settings)
    if live:
        if via not in ("http", "kafka"):
            fail("--via must be http or kafka")
        from producers.live import LiveRun

        run = LiveRun(
            settings,
            network,
            taxonomy,
            pseudonymize,
            seed=seed,
            speed=speed,
            via="http" if via == "http" else "kafka",
            api_url=api_url,
            report=say,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run.run())
        say(f"simulator stopped after {run.released:,} events")
        return
    if out is None:
        fail("give --out FILE for a backfill (or --live to feed a running platform)")
    try:
        first = (
            date.fromisoformat(start)
            if start
            else datetime.now(network.tz).date() - timedelta(days=days)
        )
    except ValueError:
        fail(f"--start must be YYYY-MM-DD, not {start!r}")
    from producers.backfill import write_backfill
    from producers.decided import Decided
    from producers.simulator import Emission
    from producers.simulator import simulate as generate
    from sanjiang.commands.context import Reference

    # the simulated people's decisions are asked for and made by the platform's deciders
    emissions = Decided(
        generate(network, taxonomy, start=first, days=days, seed=seed, pseudonymize=pseudonymize),
        Reference(network, taxonomy),
    )
    with Progress(
        TextColumn("[bold]backfill[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{first} … {first + timedelta(days=days - 1)}", total=days)
        done_day = first

        def advance(emission: Emission) -> None:
            nonlocal done_day
            day = emission.emit_at.astimezone(network.tz).date()
            if day > done_day:
                progress.update(task, completed=min(days, (day - first).days))
                done_day = day

        with _open_out(out) as stream:
            lines = write_backfill(
                emissions, stream, timedelta(seconds=settings.late_after_s), advance
            )
        progress.update(task, completed=days)
    say(f"wrote {lines:,} events to {'stdout' if str(out) == '-' else out}")
    answers = dict(emissions.answers)
    accepted = answers.pop("accepted", 0)
    say(
        f"the deciders accepted {accepted:,} commands"
        + (f", refused {sum(answers.values()):,}: " if answers else "")
        + ", ".join(f"{reason} {n:,}" for reason, n in sorted(answers.items()))
    )


@contextlib.contextmanager
def _open_out(out: Path) -> Iterator[BinaryIO]:
    if str(out) == "-":
        yield sys.stdout.buffer
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        yield stream
