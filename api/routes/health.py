"""``GET /healthz``: liveness for supervisors and load balancers."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas import Health
from sanjiang import __version__

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok", version=__version__)
