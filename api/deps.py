"""FastAPI dependencies: the shared services (credentials are in ``api.access.deps``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.services import Services


async def get_services(request: Request) -> Services:
    """The app's services (``async``: FastAPI runs a plain ``def`` dependency in a thread)."""
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
