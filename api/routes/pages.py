"""The API's pages: ``/live``, the command center's sub-second view (Grafana polls; this page
listens to ``/v1/live/stream``), and ``/`` pointing to it."""

from __future__ import annotations

from functools import cache
from importlib import resources

import orjson
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import ServicesDep
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy

router = APIRouter(tags=["pages"])


@cache
def _template() -> str:
    return resources.files("api").joinpath("pages/live.html").read_text("utf-8")


def _names(network: Network, taxonomy: Taxonomy) -> bytes:
    """Station, venue and category labels for the page (the live views carry ids only)."""
    return orjson.dumps(
        {
            "stations": {s.id: s.name for s in network.stations},
            "categories": {c.id: c.name for c in taxonomy.categories},
            "venues": {
                v.id: {"name": v.name, "station": s.id, "capacity": v.capacity}
                for s in network.stations
                for v in s.venues
            },
        }
    ).replace(b"</", b"<\\/")


@router.get("/live", response_class=HTMLResponse, summary="实时态势: the live page")
async def live_page(services: ServicesDep) -> HTMLResponse:
    return HTMLResponse(
        _template().replace("__NAMES__", _names(services.network, services.taxonomy).decode())
    )


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/live")
