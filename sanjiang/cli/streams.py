"""``sanjiang streams``: run the Faust worker that keeps the live views; ``sanjiang build-fold``:
compile its fold."""

from __future__ import annotations

import typer

from sanjiang.cli.common import settings_of


def streams(ctx: typer.Context) -> None:
    """Run the stream worker: live projections published to <prefix>.live."""
    from streams.app import run_worker

    run_worker(settings_of(ctx))


def build_fold(
    strict: bool = typer.Option(False, help="fail (exit 1) if it cannot be built"),
) -> None:
    """Compile the live fold with mypyc for the current sources (``make`` runs this; without a
    build the same code runs as Python, slower)."""
    from streams.compiled import build_and_report

    if not build_and_report() and strict:
        raise typer.Exit(1)
