"""``GET /v1/reconcile``: live counters and KPIs of closed windows against the warehouse."""

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
    summary="Compare the live counters and KPIs of closed days with the warehouse",
    description=(
        "At most `SANJIANG_RECONCILE_MAX_DAYS` (31) days at once; the whole network: every "
        "station's counters and four KPIs and the network's KPIs, each KPI with the counts "
        "behind it (`kpi.<name>`, `kpi.<name>.<count>`; `station_id` `network` for the "
        "network's), compared exactly. Only closed days are compared (a day closes "
        "`SANJIANG_LIVE_GRACE_H` after it ends): a day still open cannot be reconciled yet "
        "and is listed in `not_closed`; if none is closed the answer is 409. A closed day "
        "whose final live views the stream worker has not published yet is listed in "
        "`not_final`. `ok`: every day asked was compared and nothing differs."
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
            f"{still_open[0]} cannot be reconciled yet: it is still open (it takes late "
            f"events until {first}); a day is compared once its window has closed",
        )
    result = await asyncio.to_thread(
        reconcile,
        services.require_warehouse(),
        network,
        dict(services.live.views),
        closed,
        grace,
    )
    return {
        "windows": result.windows,
        "differences": [asdict(d) for d in result.differences],
        "ok": result.ok and not still_open,
        "not_closed": [d.isoformat() for d in still_open],
        "not_final": [d.isoformat() for d in result.not_final],
    }
