"""``GET /v1/history/...``: time series, the service-loop funnel, heat rankings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.deps import ServicesDep
from api.errors import api_error
from api.routes.kpis import period_of
from projections.history import FunnelBy, HeatLevel, Interval, funnel, heat_ranking, timeseries
from sanjiang.events import EVENT_TYPES

router = APIRouter(tags=["history"])
FromQuery = Annotated[str, Query(alias="from", description="YYYY-MM-DD or ISO date-time")]
ToQuery = Annotated[str, Query(description="YYYY-MM-DD (inclusive) or ISO date-time")]


@router.get("/v1/history/timeseries", summary="Events per hour or day, from the rollups")
async def get_timeseries(
    services: ServicesDep,
    from_: FromQuery,
    to: ToQuery,
    type: Annotated[str, Query(description="event type")] = "checkin.recorded",
    interval: Interval = "hour",
    station: str | None = None,
    venue: str | None = None,
    category: str | None = None,
    activity: str | None = None,
) -> list[dict[str, Any]]:
    if type not in EVENT_TYPES:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown_type", f"no event type {type!r}"
        )
    if type not in EVENT_TYPES:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown_type", f"no event type {type!r}"
        )
    period = period_of(from_, to, services)
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
)
async def get_funnel(
    services: ServicesDep, from_: FromQuery, to: ToQuery, by: FunnelBy = "category"
) -> list[dict[str, Any]]:
    period = period_of(from_, to, services)
    return await asyncio.to_thread(funnel, services.require_warehouse(), period, by)


@router.get("/v1/history/heat", summary="Heat rankings (热度) of activities, stations, categories")
async def get_heat(
    services: ServicesDep,
    level: HeatLevel = "activity",
    at: Annotated[str | None, Query(description="ISO date-time; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[dict[str, Any]]:
    moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=services.network.tz)
    return await asyncio.to_thread(heat_ranking, services.require_warehouse(), moment, level, limit)
