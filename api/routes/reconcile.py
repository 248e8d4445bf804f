"""``GET /v1/reconcile``: live counters of closed windows against the warehouse."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.access.deps import Reader, require_network
from api.deps import ServicesDep
from api.params import PROTECTED, days_of
from projections.reconcile import reconcile

router = APIRouter(tags=["operations"], responses=PROTECTED)


@router.get(
    "/v1/reconcile",
    summary="Compare the live counters of closed days with the warehouse",
    description="At most `SANJIANG_RECONCILE_MAX_DAYS` (31) days at once; the whole network.",
)
async def get_reconcile(
    services: ServicesDep,
    caller: Reader,
    from_: Annotated[str, Query(alias="from", max_length=10, description="first day, YYYY-MM-DD")],
    to: Annotated[str, Query(max_length=10, description="last day, YYYY-MM-DD (inclusive)")],
) -> dict[str, Any]:
    require_network(caller)
    days = days_of(from_, to, services.settings.reconcile_max_days)
    grace = timedelta(hours=services.settings.live_grace_h)
    checked, differences = await asyncio.to_thread(
        reconcile,
        services.require_warehouse(),
        services.network,
        dict(services.live.views),
        days,
        grace,
    )
    return {
        "windows": checked,
        "differences": [asdict(d) for d in differences],
        "ok": not differences,
    }
