"""``sanjiang deciders``: run the Faust worker that decides commands, one writer per station."""

from __future__ import annotations

import typer

from sanjiang.cli.common import settings_of


def deciders(ctx: typer.Context) -> None:
    """Run the deciders: commands from <prefix>.commands decided into events and answers.
    Start several to share the stations; one takes over another's when it stops."""
    from sanjiang.commands.worker import run_worker

    run_worker(settings_of(ctx))
