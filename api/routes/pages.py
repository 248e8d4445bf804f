"""The API's pages, behind a staff session: ``/live`` (the command center's sub-second view;
Grafana polls, this page listens to ``/v1/live/stream``) and ``/`` pointing to it; and the API
docs (``/docs``, ``/redoc``) with their assets served from a package, nothing from a CDN."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.access.deps import session_caller
from api.access.roles import Caller, Grant
from api.deps import ServicesDep
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy

router = APIRouter(tags=["pages"])


@cache
def _template(name: str) -> str:
    return resources.files("api").joinpath(f"pages/{name}").read_text("utf-8")


def names_block(network: Network, taxonomy: Taxonomy, extra: dict[str, Any] | None = None) -> str:
    """Station, venue and category labels for a page (the live views carry ids only), and
    ``extra``, as a JSON data block (``</`` escaped so the text cannot end its element)."""
    return (
        orjson.dumps(
            {
                "stations": {s.id: s.name for s in network.stations},
                "categories": {c.id: c.name for c in taxonomy.categories},
                "venues": {
                    v.id: {"name": v.name, "station": s.id, "capacity": v.capacity}
                    for s in network.stations
                    for v in s.venues
                },
                **(extra or {}),
            }
        )
        .replace(b"</", b"<\\/")
        .decode()
    )


def page_forbidden(caller: Caller, what: str) -> HTMLResponse:
    body = (
        _template("forbidden.html")
        .replace("__WHO__", html.escape(caller.describe()))
        .replace("__WHAT__", html.escape(what))
    )
    return HTMLResponse(body, status_code=status.HTTP_403_FORBIDDEN)


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(
        "/login?next=" + quote(request.url.path), status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/live", include_in_schema=False)
async def live_page(request: Request, services: ServicesDep) -> Response:
    caller = session_caller(request, services)
    if caller is None:
        return to_login(request)
    if not caller.can(Grant.READ) or not caller.sees_network:
        return page_forbidden(caller, "全网实时态势")
    page = (
        _template("live.html")
        .replace("__NAMES__", names_block(services.network, services.taxonomy))
        .replace("__USER__", html.escape(f"{caller.name}（{caller.role}）"))
        .replace("__CSRF__", html.escape(getattr(request.state, "csrf", "") or "", quote=True))
    )
    return HTMLResponse(page)


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/screen")


@router.get("/docs", include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(_template("docs.html"))


@router.get("/redoc", include_in_schema=False)
async def redoc() -> HTMLResponse:
    return HTMLResponse(_template("redoc.html"))


#: the one address ReDoc's bundle would load from outside: its "by Redocly" logo
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_bundle() -> bytes:
    """ReDoc's standalone bundle (fastapi-offline's copy) with its logo served from here, so
    the docs page requests nothing from outside."""
    bundle = resources.files("fastapi_offline").joinpath("static/redoc.standalone.js")
    return bundle.read_bytes().replace(REDOC_LOGO, b"/static/favicon.svg")


@router.get("/docs/redoc.js", include_in_schema=False)
async def redoc_bundle() -> Response:
    return Response(
        _redoc_bundle(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
