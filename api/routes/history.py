"""``GET /v1/history/...``: time series, the service-loop funnel, heat rankings."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.access.deps import Reader, require_network, require_station
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED, bad, moment_of, period_of
from api.routes.kpis import FromQuery, IdQuery, ToQuery
from api.schemas import ErrorResponse
from projections.history import FunnelBy, HeatLevel, Interval, funnel, heat_ranking, timeseries
from sanjiang.events import EVENT_TYPES

router = APIRouter(tags=["history"], responses=PROTECTED)


@router.get(
    "/v1/history/timeseries",
    summary="Events per hour or day, from the rollups",
    responses={
        404: {"model": ErrorResponse, "description": "An unknown station, venue or category."}
    },
    description=(
        "`bucket` is an hour's start as Shanghai time with its offset "
        "(`2026-11-24T09:00:00+08:00`) or a local date (`2026-11-24`). "
        "Hourly buckets cover at most `SANJIANG_MAX_HOURLY_DAYS` (62) days, daily ones "
        "`SANJIANG_MAX_PERIOD_DAYS` (400). Filtered by station (or venue), it needs a credential "
        "that sees that station; otherwise one that sees the whole network."
    ),
)
async def get_timeseries(
    services: ServicesDep,
    caller: Reader,
    from_: FromQuery,
    to: ToQuery,
    type: Annotated[str, Query(max_length=64, description="event type")] = "checkin.recorded",
    interval: Interval = "hour",
    station: IdQuery = None,
    venue: IdQuery = None,
    category: IdQuery = None,
    activity: Annotated[str | None, Query(max_length=128)] = None,
) -> list[dict[str, Any]]:
    if type not in EVENT_TYPES:
        raise bad("unknown_type", f"no event type {type!r}")
    network = services.network
    unknown = (
        ("station", station, network.by_id),
        ("venue", venue, network.venue_station),
        ("category", category, {c.id for c in services.taxonomy.categories}),
    )
    for kind, value, known in unknown:
        if value is not None and value not in known:
            raise api_error(status.HTTP_404_NOT_FOUND, f"unknown_{kind}", f"no {kind} {value!r}")
    if station is not None:
        require_station(caller, station)
    if venue is not None:
        require_station(caller, network.venue_station[venue])
    if station is None and venue is None:
        require_network(caller)
    settings = services.settings
    longest = settings.max_hourly_days if interval == "hour" else settings.max_period_days
    period = period_of(from_, to, network.tz, longest)
    return await asyncio.to_thread(
        timeseries,
        services.require_warehouse(),
        type,
        period,
        interval,
        station=station,
        venue=venue,
        category=category,
        activity=activity,
    )


@router.get(
    "/v1/history/funnel",
    summary="Service loop: demand → registration → participation → evaluation",
    description="The whole network (a credential that sees it); at most 400 days.",
)
async def get_funnel(
    services: ServicesDep, caller: Reader, from_: FromQuery, to: ToQuery, by: FunnelBy = "category"
) -> list[dict[str, Any]]:
    require_network(caller)
    period = period_of(from_, to, services.network.tz, services.settings.max_period_days)
    return await asyncio.to_thread(funnel, services.require_warehouse(), period, by)


@router.get(
    "/v1/history/heat",
    summary="Heat rankings (热度) of activities, stations, categories",
    description="The whole network (a credential that sees it).",
)
async def get_heat(
    services: ServicesDep,
    caller: Reader,
    level: HeatLevel = "activity",
    at: Annotated[
        str | None, Query(max_length=40, description="ISO date-time; default now")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[dict[str, Any]]:
    require_network(caller)
    moment = moment_of(at, services.network.tz)
    return await asyncio.to_thread(heat_ranking, services.require_warehouse(), moment, level, limit)
