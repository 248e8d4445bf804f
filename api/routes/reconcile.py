"""``GET /v1/reconcile``: live counters of closed windows against the warehouse."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.access.deps import Reader, require_network
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED, days_of
from api.schemas import ErrorResponse
from projections.reconcile import closes_at, reconcile, split_closed

router = APIRouter(tags=["operations"], responses=PROTECTED)


@router.get(
    "/v1/reconcile",
    summary="Compare the live counters of closed days with the warehouse",
    description=(
        "At most `SANJIANG_RECONCILE_MAX_DAYS` (31) days at once; the whole network. Only "
        "closed days are compared (a day closes `SANJIANG_LIVE_GRACE_H` after it ends); days "
        "not closed yet are listed in `not_closed`, and if none is closed the answer is 409."
    ),
    responses={409: {"model": ErrorResponse, "description": "No requested day is closed yet."}},
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
    network = services.network
    closed, still_open = split_closed(days, datetime.now(UTC), network, grace)
    if not closed:
        first = closes_at(still_open[0], network, grace).isoformat(timespec="minutes")
        raise api_error(
            status.HTTP_409_CONFLICT,
            "not_closed",
            f"{still_open[0]} is not closed yet (it takes late events until {first}); "
            "a day is reconciled once its window has closed",
        )
    checked, differences = await asyncio.to_thread(
        reconcile,
        services.require_warehouse(),
        network,
        dict(services.live.views),
        closed,
        grace,
    )
    return {
        "windows": checked,
        "differences": [asdict(d) for d in differences],
        "ok": not differences,
        "not_closed": [d.isoformat() for d in still_open],
    }
