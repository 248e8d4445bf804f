"""``GET /v1/audit``: the audit trail of commands, for admins."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.access.deps import require
from api.access.roles import Caller, Grant
from api.deps import ServicesDep
from api.params import PROTECTED, period_of
from api.routes.kpis import FromQuery, IdQuery, ToQuery
from projections.audit import audit_trail

router = APIRouter(tags=["audit"], responses=PROTECTED)
Admin = Annotated[Caller, Depends(require(Grant.ADMIN))]


@router.get(
    "/v1/audit",
    summary="Every command answered, who asked and the answer (admins)",
    description=(
        "From the warehouse's `command.decided` events, newest first: when (Shanghai time), "
        "station, command id and kind, actor and role, accepted or not, the rejection's reason "
        "and detail. Filter by `station`, `actor`, `accepted`; at most `limit` (1000) rows, a "
        "period of at most `SANJIANG_MAX_PERIOD_DAYS` (400) days."
    ),
)
async def get_audit(
    services: ServicesDep,
    caller: Admin,
    from_: FromQuery,
    to: ToQuery,
    station: IdQuery = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    accepted: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[dict[str, Any]]:
    period = period_of(from_, to, services.network.tz, services.settings.max_period_days)
    return await asyncio.to_thread(
        audit_trail,
        services.require_warehouse(),
        period,
        station=station,
        actor=actor,
        accepted=accepted,
        limit=limit,
    )
