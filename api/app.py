"""The FastAPI application factory. Nothing connects at import time: the lifespan does."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from api.errors import http_exception_handler, validation_exception_handler
from api.http import BodyLimit, SecurityHeaders
from api.routes import (
    audit,
    auth,
    commands,
    console,
    demands,
    health,
    history,
    ingest,
    kiosk,
    kpis,
    live,
    metrics,
    pages,
    reconcile,
    screen,
    sql,
)
from api.schemas import ErrorResponse
from api.services import Services
from sanjiang import __version__
from sanjiang.events import ANY_EVENT
from sanjiang.metrics import expose as expose_metrics
from sanjiang.network import Network, load_network
from sanjiang.settings import Settings, load_settings
from sanjiang.taxonomy import load_taxonomy

DESCRIPTION = """
三江驿 Sanjiang platform API.

**Credentials.** Everything that shows the network's data needs one; only `/healthz` and the
login are open. Staff log in with `POST /v1/auth/token` (OAuth2 password flow; a short-lived
bearer token) or on the login page `/login` (a session cookie for the pages). Devices send
their key as `Authorization: Bearer sjk_…`: a kiosk sends residents' actions, a console also
staff decisions and reads its station, an analyst key reads the network and runs SQL. A role
or key that may not do something gets 403; a missing, expired or tampered credential 401.

Kiosks and staff consoles send events to `POST /v1/events` with their device key. Every
accepted event is in Kafka before the answer; every rejected one is answered with a reason
and kept in the dead-letter topic.

Every refusal has the body `{"error": code, "detail": text}`.
"""


def create_app(settings: Settings | None = None, network: Network | None = None) -> FastAPI:
    """Build the app; services start in the lifespan (with the server), not here."""
    settings = settings or load_settings()
    network = network or load_network(settings.network_file)
    taxonomy = load_taxonomy()
    expose_metrics("api")  # on GET /metrics (the sink's too when this process hosts it)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, network, taxonomy)
        await services.start()
        app.state.services = services
        # What exists now (modules, the app, its schemas, the services) lives as long as the
        # process: keep it out of every full collection, else each one walks it all and
        # stalls every request in flight (0.1-0.3 s measured under the commands benchmark).
        gc.freeze()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="三江驿 Sanjiang API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api.routes.pages with local assets and no inline script
        redoc_url=None,
    )
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # no CORS unless configured: the pages are served from this origin
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "Last-Event-ID"],
        )
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        per_path={"/v1/events": settings.ingest_max_body_bytes},
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static/docs", StaticFiles(directory=_docs_assets()), name="docs-assets")
    app.mount(
        "/static", StaticFiles(directory=str(resources.files("api") / "static")), name="static"
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(ingest.router)
    app.include_router(commands.router)
    app.include_router(audit.router)
    app.include_router(demands.router)
    app.include_router(kpis.router)
    app.include_router(history.router)
    app.include_router(sql.router)
    app.include_router(live.router)
    app.include_router(reconcile.router)
    app.include_router(screen.router)
    app.include_router(pages.router)
    app.include_router(kiosk.router)
    app.include_router(console.router)
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
    _refusals_documented(schema)
    app.openapi_schema = schema
    return schema


def _refusals_documented(schema: dict[str, Any]) -> None:
    """Every 422 has the one error body (``api.errors``), not FastAPI's default shape."""
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer is not None:
                answer["content"] = {"application/json": {"schema": error}}
    components = schema["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components.setdefault("ErrorResponse", ErrorResponse.model_json_schema())


def _docs_assets() -> str:
    """Swagger UI's and ReDoc's files, from the fastapi-offline package (nothing from a CDN)."""
    return str(resources.files("fastapi_offline") / "static")


def factory() -> FastAPI:
    """Entry point for ``uvicorn --factory api.app:factory`` (settings from the environment)."""
    return create_app()
