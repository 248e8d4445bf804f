"""Shared CLI helpers: settings from the context, progress output, failures."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from sanjiang.settings import Settings

#: Human-facing output goes to stderr; stdout is kept for data (JSON) so it can be piped.
console = Console(stderr=True, highlight=False, soft_wrap=True)


def settings_of(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if not isinstance(settings, Settings):
        raise RuntimeError("settings were not initialised by the app callback")
    return settings


def say(message: str) -> None:
    console.print(message)


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
