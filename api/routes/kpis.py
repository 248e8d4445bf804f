"""``GET /v1/kpis``: the four KPIs and the fill rate for any period and scope."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.access.deps import Reader, require_network, require_station
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED, period_of
from api.schemas import ErrorResponse
from projections.kpi import Scope, compute_kpis

router = APIRouter(tags=["kpis"], responses=PROTECTED)
FromQuery = Annotated[
    str, Query(alias="from", max_length=40, description="YYYY-MM-DD or ISO date-time")
]
ToQuery = Annotated[
    str, Query(max_length=40, description="YYYY-MM-DD (inclusive) or ISO date-time")
]
IdQuery = Annotated[str | None, Query(max_length=64)]


@router.get(
    "/v1/kpis",
    summary="KPIs for a period and scope",
    description=(
        "场馆使用率, 项目精准率 (with fill rate), 居民参与率 and 服务满意率, computed from the "
        "warehouse exactly as DESIGN.md defines them, with the counts behind each ratio. "
        "Kiosk facts that contradict the platform's decisions are kept and counted beside the "
        "KPIs: `participation_conflicts` (check-ins in conflict; those at a venue the network "
        "does not know are left out of participation), `satisfaction_conflicts` (evaluations "
        "left out: their resident did not attend), and `conflicts` by kind (`unknown_venue`, "
        "`venue_of_other_station`, `unknown_activity`, `no_registration`, `over_capacity`, "
        "`not_attended`). "
        "Utilization and precision count decisions only, which have no conflicts. "
        "Dates are local (Asia/Shanghai); `to` as a date is inclusive; a period covers at most "
        "`SANJIANG_MAX_PERIOD_DAYS` (400) days. A KPI whose denominator is zero is `null`. "
        "The network needs a credential that sees the whole network; a station or venue, one "
        "that sees its station."
    ),
    responses={404: {"model": ErrorResponse}},
)
async def get_kpis(
    services: ServicesDep,
    caller: Reader,
    from_: FromQuery,
    to: ToQuery,
    station: Annotated[str | None, Query(max_length=64, description="scope: a station id")] = None,
    venue: Annotated[str | None, Query(max_length=64, description="scope: a venue id")] = None,
) -> dict[str, Any]:
    if station and venue:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "bad_scope", "station or venue, not both"
        )
    network = services.network
    if station:
        if station not in network.by_id:
            raise api_error(status.HTTP_404_NOT_FOUND, "unknown_scope", f"no station {station!r}")
        require_station(caller, station)
        scope = Scope("station", station)
    elif venue:
        if venue not in network.venue_station:
            raise api_error(status.HTTP_404_NOT_FOUND, "unknown_scope", f"no venue {venue!r}")
        require_station(caller, network.venue_station[venue])
        scope = Scope("venue", venue)
    else:
        require_network(caller)
        scope = Scope.network()
    period = period_of(from_, to, network.tz, services.settings.max_period_days)
    warehouse = services.require_warehouse()
    report = await asyncio.to_thread(compute_kpis, warehouse, network, period, scope)
    return report.as_dict()
