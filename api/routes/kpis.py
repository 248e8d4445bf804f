"""``GET /v1/kpis``: the four KPIs and the fill rate for any period and scope."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.deps import ServicesDep
from api.errors import api_error
from api.schemas import ErrorResponse
from projections.kpi import Period, Scope, compute_kpis

router = APIRouter(tags=["kpis"])


def period_of(from_: str, to: str, services: ServicesDep) -> Period:
    """A period from query parameters (local dates inclusive, or ISO date-times); 422 if bad."""
    try:
        return Period.parse(from_, to, services.network.tz)
    except ValueError as exc:
        raise api_error(status.HTTP_422_UNPROCESSABLE_CONTENT, "bad_period", str(exc)) from None


@router.get(
    "/v1/kpis",
    summary="KPIs for a period and scope",
    description=(
        "场馆使用率, 项目精准率 (with fill rate), 居民参与率 and 服务满意率, computed from the "
        "warehouse exactly as DESIGN.md defines them, with the counts behind each ratio. "
        "Dates are local (Asia/Shanghai); `to` as a date is inclusive. A KPI whose "
        "denominator is zero is `null`."
    ),
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def get_kpis(
    services: ServicesDep,
    from_: Annotated[str, Query(alias="from", description="YYYY-MM-DD or ISO date-time")],
    to: Annotated[str, Query(description="YYYY-MM-DD (inclusive) or ISO date-time")],
    station: Annotated[str | None, Query(description="scope: a station id")] = None,
    venue: Annotated[str | None, Query(description="scope: a venue id")] = None,
) -> dict[str, Any]:
    if station and venue:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "bad_scope", "station or venue, not both"
        )
    scope = (
        Scope("station", station)
        if station
        else Scope("venue", venue)
        if venue
        else Scope.network()
    )
    period = period_of(from_, to, services)
    warehouse = services.require_warehouse()
    try:
        report = await asyncio.to_thread(compute_kpis, warehouse, services.network, period, scope)
    except KeyError as exc:
        raise api_error(status.HTTP_404_NOT_FOUND, "unknown_scope", str(exc.args[0])) from None
    return report.as_dict()
