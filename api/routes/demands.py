"""``GET /v1/stations/{station_id}/demands/{demand_id}``: where a resident's demand stands."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from api.access.deps import CallerDep, require_station
from api.access.roles import Grant
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED
from api.schemas import ErrorResponse
from projections.demands import demand_status

router = APIRouter(tags=["demands"], responses=PROTECTED)
Id = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]


@router.get(
    "/v1/stations/{station_id}/demands/{demand_id}",
    summary="A demand's status, for the resident who follows it",
    description=(
        "Status (`submitted` 已提交, `accepted` 已受理, `dispatched` 已派单, `answered` 已答复, "
        "`closed` 已办结) with its Chinese label, how many residents support it, the dispatch "
        "(unit, due date, overdue), the official answer, the activities that serve it and its "
        "history (Shanghai time). Never who submitted or voted. For the station's kiosks "
        "(a resident at the screen) and staff who see the station; from the warehouse, so a "
        "decision shows within the sink's delay."
    ),
    responses={
        404: {"model": ErrorResponse, "description": "No such station, or no such demand there."},
        503: {"model": ErrorResponse, "description": "The warehouse is not open."},
    },
)
async def get_demand(
    station_id: Id, demand_id: Id, caller: CallerDep, services: ServicesDep
) -> dict[str, Any]:
    if not (caller.can(Grant.READ) or caller.can(Grant.COMMAND)):
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden",
            f"{caller.describe()} may not do this (needs the read or command grant)",
        )
    require_station(caller, station_id)
    if station_id not in services.network.by_id:
        raise api_error(status.HTTP_404_NOT_FOUND, "unknown_station", f"no station {station_id}")
    found = await asyncio.to_thread(
        demand_status,
        services.require_warehouse(),
        services.taxonomy,
        services.network.tz,
        station_id,
        demand_id,
    )
    if found is None:
        raise api_error(
            status.HTTP_404_NOT_FOUND, "not_found", f"no demand {demand_id} at {station_id}"
        )
    return found
