"""``GET /v1/reconcile``: live counters of closed windows against the warehouse."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.deps import ServicesDep
from api.errors import api_error
from projections.reconcile import reconcile

router = APIRouter(tags=["operations"])


@router.get("/v1/reconcile", summary="Compare the live counters of closed days with the warehouse")
async def get_reconcile(
    services: ServicesDep,
    from_: Annotated[str, Query(alias="from", description="first day, YYYY-MM-DD")],
    to: Annotated[str, Query(description="last day, YYYY-MM-DD (inclusive)")],
) -> dict[str, Any]:
    try:
        first, last = date.fromisoformat(from_), date.fromisoformat(to)
    except ValueError:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "bad_period", "use YYYY-MM-DD"
        ) from None
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
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
