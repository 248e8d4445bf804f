"""FastAPI dependencies: the shared services and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, status

from api.errors import api_error
from api.keys import Principal
from api.services import Services


def get_services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_principal(
    services: ServicesDep,
    authorization: Annotated[str | None, Header(description="`Bearer <device key>`")] = None,
) -> Principal:
    """The device behind the request's key; 401 without a valid, unrevoked key."""
    challenge = {"WWW-Authenticate": 'Bearer realm="sanjiang"'}
    if not authorization:
        raise api_error(
            status.HTTP_401_UNAUTHORIZED,
            "missing_credentials",
            "send Authorization: Bearer <key>",
            challenge,
        )
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise api_error(
            status.HTTP_401_UNAUTHORIZED,
            "bad_credentials",
            "expected Authorization: Bearer <key>",
            challenge,
        )
    principal = services.keys.authenticate(key.strip())
    if principal == "revoked":
        raise api_error(
            status.HTTP_401_UNAUTHORIZED,
            "revoked_key",
            "this key was revoked; ask for a new one",
            challenge,
        )
    if principal is None:
        raise api_error(status.HTTP_401_UNAUTHORIZED, "invalid_key", "unknown key", challenge)
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]
