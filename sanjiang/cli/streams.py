"""``sanjiang streams``: run the Faust worker that keeps the live views."""

from __future__ import annotations

import typer

from sanjiang.cli.common import settings_of


def streams(ctx: typer.Context) -> None:
    """Run the stream worker: live projections published to <prefix>.live."""
    from streams.app import run_worker

    run_worker(settings_of(ctx))
