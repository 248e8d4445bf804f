"""The FastAPI application factory. Nothing connects at import time: the lifespan does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.utils import get_openapi

from api.errors import http_exception_handler
from api.routes import health, history, ingest, kpis, live, pages, reconcile, sql
from api.services import Services
from sanjiang import __version__
from sanjiang.events import ANY_EVENT
from sanjiang.network import Network, load_network
from sanjiang.settings import Settings, load_settings
from sanjiang.taxonomy import load_taxonomy

DESCRIPTION = """
三江驿 Sanjiang platform API.

Kiosks and staff consoles send events to `POST /v1/events` with their device key. Every
accepted event is in Kafka before the answer; every rejected one is answered with a reason
and kept in the dead-letter topic.
"""


def create_app(settings: Settings | None = None, network: Network | None = None) -> FastAPI:
    """Build the app; services start in the lifespan (with the server), not here."""
    settings = settings or load_settings()
    network = network or load_network()
    taxonomy = load_taxonomy()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, network, taxonomy)
        await services.start()
        app.state.services = services
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="三江驿 Sanjiang API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.include_router(health.router)
    app.include_router(ingest.router)
    app.include_router(kpis.router)
    app.include_router(history.router)
    app.include_router(sql.router)
    app.include_router(live.router)
    app.include_router(reconcile.router)
    app.include_router(pages.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """OpenAPI with the event catalog's schemas, so the ingest body is fully documented."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    events = ANY_EVENT.json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(events.pop("$defs", {}))
    components["Event"] = events
    app.openapi_schema = schema
    return schema


def factory() -> FastAPI:
    """Entry point for ``uvicorn --factory api.app:factory`` (settings from the environment)."""
    return create_app()
