"""The command-center screen (指挥中心大屏): ``/screen``, and what it reads beside the live
stream: ``GET /v1/screen/summary`` (KPIs of today and the last 7 days against their targets,
check-ins per hour against last week, open demands, overdue dispatches, activity titles) and
``GET /v1/screen/stations/{id}`` (a station's activities of today, for the drill-down).

The page follows ``/v1/live/stream`` for what moves within a second and refreshes these from
the warehouse every minute. Both need a credential that sees the whole network (a station's,
for its station).
"""

from __future__ import annotations

import asyncio
import html
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from api.access.deps import Reader, require_network, require_station, session_caller
from api.access.roles import Grant
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED
from api.routes.pages import names_block, page_forbidden, to_login
from api.schemas import ErrorResponse
from api.services import Services
from projections.kpi import Period, Scope, compute_kpis
from projections.screen import (
    MAX_ACTIVITIES,
    activity_titles,
    checkins_by_hour,
    demand_counts,
    station_activities,
)
from sanjiang.targets import KPI_TARGETS, YELLOW_FROM

router = APIRouter(tags=["screen"], responses=PROTECTED)
KPIS = ("venue_utilization", "project_precision", "resident_participation", "service_satisfaction")


@cache
def _outline() -> str:
    """The subdistrict's outline (sample GeoJSON shipped with the package)."""
    return resources.files("sanjiang").joinpath("data/wusong.geojson").read_text("utf-8")


@router.get("/screen", include_in_schema=False)
async def screen_page(request: Request, services: ServicesDep) -> Response:
    caller = session_caller(request, services)
    if caller is None:
        return to_login(request)
    if not caller.can(Grant.READ) or not caller.sees_network:
        return page_forbidden(caller, "指挥中心大屏")
    template = resources.files("api").joinpath("pages/screen.html").read_text("utf-8")
    network = services.network
    extra = {
        "coordinates": {s.id: [s.lon, s.lat] for s in network.stations},
        "kinds": {s.id: s.kind for s in network.stations},
        "outline": orjson.loads(_outline()),
        "timezone": str(network.tz),
    }
    page = (
        template.replace("__NAMES__", names_block(network, services.taxonomy, extra))
        .replace("__USER__", html.escape(f"{caller.name}（{caller.role}）"))
        .replace("__CSRF__", html.escape(getattr(request.state, "csrf", "") or "", quote=True))
    )
    return HTMLResponse(page)


def _today(services: Services) -> date:
    return datetime.now(services.network.tz).date()


def _kpis(services: Services, start: date, end: date) -> dict[str, Any]:
    tz = services.network.tz
    period = Period(
        datetime.combine(start, datetime.min.time(), tz),
        datetime.combine(end, datetime.min.time(), tz),
    )
    report = compute_kpis(services.require_warehouse(), services.network, period, Scope.network())
    values = report.as_dict()
    return {k: values.get(k) for k in (*KPIS, "fill_rate")}


def _summary(services: Services, activity_ids: list[str]) -> dict[str, Any]:
    today = _today(services)
    warehouse = services.require_warehouse()
    tz = services.network.tz
    return {
        "day": today.isoformat(),
        "targets": {k: KPI_TARGETS[k] for k in (*KPIS, "fill_rate")},
        "yellow_from": YELLOW_FROM,
        "kpis": {
            "today": _kpis(services, today, today + timedelta(days=1)),
            "last_7_days": _kpis(services, today - timedelta(days=7), today),
        },
        "checkins_by_hour": checkins_by_hour(warehouse, tz, today),
        "demands": demand_counts(warehouse),
        "activities": activity_titles(warehouse, activity_ids),
    }


@router.get(
    "/v1/screen/summary",
    summary="The command-center screen's warehouse panels",
    description=(
        "The four KPIs (and the fill rate) of today so far and of the 7 days before, from the "
        "warehouse, with their targets (green at the target, yellow from "
        "`yellow_from` × target, red below); check-ins per local hour today and on the same "
        "weekday a week ago; demands neither answered nor closed (`open`) and those whose "
        "dispatch is overdue, by station; and the titles of the activities named in `ids` "
        f"(comma-separated, at most {MAX_ACTIVITIES}). Needs a credential that sees the whole "
        "network."
    ),
    responses={503: {"model": ErrorResponse}},
)
async def screen_summary(
    services: ServicesDep,
    caller: Reader,
    ids: Annotated[str, Query(max_length=6500, description="activity ids, comma-separated")] = "",
) -> dict[str, Any]:
    require_network(caller)
    activity_ids = [i for i in ids.split(",") if i][:MAX_ACTIVITIES]
    return await asyncio.to_thread(_summary, services, activity_ids)


@router.get(
    "/v1/screen/stations/{station_id}",
    summary="A station's activities of today (the screen's drill-down)",
    description=(
        "Each published activity of the station starting today (local time): title, venue, "
        "start and end, capacity, registrations not cancelled, residents checked in, and "
        "whether it was cancelled. Needs a credential that sees the station."
    ),
    responses={404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
async def screen_station(
    station_id: Annotated[str, Path(max_length=64)], services: ServicesDep, caller: Reader
) -> dict[str, Any]:
    if station_id not in services.network.by_id:
        raise api_error(status.HTTP_404_NOT_FOUND, "unknown_station", f"no station {station_id!r}")
    require_station(caller, station_id)
    warehouse = services.require_warehouse()
    today = _today(services)
    activities = await asyncio.to_thread(
        station_activities, warehouse, services.network.tz, station_id, today
    )
    return {"station_id": station_id, "day": today.isoformat(), "activities": activities}
