"""``sanjiang api``: run the FastAPI service under uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from sanjiang.cli.common import settings_of


def api(ctx: typer.Context) -> None:
    """Serve the API (ingest, docs at /docs) on SANJIANG_API_HOST:SANJIANG_API_PORT."""
    from api.app import create_app

    settings = settings_of(ctx)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        access_log=False,
    )
