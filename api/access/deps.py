"""A request's credential, turned into a :class:`Caller` — or 401/403 with a reason.

Three credentials, each declared as a FastAPI security scheme so ``/docs`` shows which routes
take which:

- ``staffToken``: ``Authorization: Bearer <JWT>`` from ``POST /v1/auth/token`` (OAuth2
  password flow), short-lived;
- ``deviceKey``: ``Authorization: Bearer sjk_…``, a device's revocable key;
- ``staffSession``: the HttpOnly cookie the login page sets; state-changing requests that ride on
  it must carry the session's CSRF token in ``X-CSRF-Token``.

A staff credential is checked against the account on every request: a disabled account, or a
token older than the account's last password change, is refused at once.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import (
    APIKeyCookie,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
)

from api.access.roles import Caller, Grant
from api.access.sessions import SESSION_COOKIE
from api.access.tokens import TokenError
from api.deps import ServicesDep
from api.errors import api_error
from api.keys import KEY_PREFIX, Principal
from api.services import Services

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

staff_token = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token",
    scheme_name="staffToken",
    description="A staff member's access token (`POST /v1/auth/token`, OAuth2 password flow).",
    auto_error=False,
)
device_key = HTTPBearer(
    scheme_name="deviceKey",
    bearerFormat="sjk_…",
    description="A device's key (`sanjiang kiosk add`): kiosk, console or analyst.",
    auto_error=False,
)
staff_session = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="staffSession",
    description="The session cookie the login page (`/login`) sets; state-changing requests "
    f"also send its CSRF token in `{CSRF_HEADER}`.",
    auto_error=False,
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sanjiang"'}


def _unauthorized(code: str, detail: str) -> Exception:
    return api_error(status.HTTP_401_UNAUTHORIZED, code, detail, _CHALLENGE)


def _device(services: Services, key: str) -> Principal:
    principal = services.keys.authenticate(key)
    if principal == "revoked":
        raise _unauthorized("revoked_key", "this key was revoked; ask for a new one")
    if principal is None:
        raise _unauthorized("invalid_key", "unknown key")
    return principal


def _staff(
    services: Services, token: str, via: Literal["token", "session"], request: Request
) -> Caller:
    kind: Literal["access", "session"] = "access" if via == "token" else "session"
    try:
        claims = services.tokens.verify(token, kind)
    except TokenError as exc:
        raise _unauthorized("invalid_token", f"the {via} is {exc}; log in again") from None
    user = services.users.get(claims.username)
    if user is None or not user.active or user.token_version != claims.version:
        raise _unauthorized("invalid_token", f"the {via} is no longer valid; log in again")
    if via == "session":
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not claims.csrf or not hmac.compare_digest(sent.encode(), claims.csrf.encode()):
                raise api_error(
                    status.HTTP_403_FORBIDDEN,
                    "csrf_failed",
                    f"a request from a page must send the session's {CSRF_HEADER}",
                )
        services.sessions.renew_if_due(request, user.username, user.token_version, claims)
        request.state.csrf = claims.csrf
    return Caller.staff(user.username, user.role, user.stations, via)


async def authenticate(
    request: Request,
    services: ServicesDep,
    token: Annotated[str | None, Security(staff_token)] = None,
    key: Annotated[HTTPAuthorizationCredentials | None, Security(device_key)] = None,
    session: Annotated[str | None, Security(staff_session)] = None,
) -> Caller:
    """Whoever the request's credential names; 401 without a valid one."""
    bearer = token or (key.credentials if key else None)
    if bearer:
        if bearer.startswith(KEY_PREFIX):
            principal = _device(services, bearer)
            return Caller.device(principal.kind, principal.device_id, principal.station_id)
        return _staff(services, bearer, "token", request)
    if session:
        return _staff(services, session, "session", request)
    authorization = request.headers.get("authorization")
    if authorization and not authorization.lower().startswith("bearer "):
        raise _unauthorized("bad_credentials", "expected Authorization: Bearer <token or key>")
    raise _unauthorized(
        "missing_credentials",
        "log in (POST /v1/auth/token, or the login page) or send a device key: "
        "Authorization: Bearer <token or key>",
    )


CallerDep = Annotated[Caller, Depends(authenticate)]


def require(grant: Grant) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the caller, who must hold ``grant`` (403 otherwise)."""

    async def dependency(caller: CallerDep) -> Caller:
        if not caller.can(grant):
            raise api_error(
                status.HTTP_403_FORBIDDEN,
                "forbidden",
                f"{caller.describe()} may not do this (needs the {grant.value} grant)",
            )
        return caller

    return dependency


Reader = Annotated[Caller, Depends(require(Grant.READ))]
Analyst = Annotated[Caller, Depends(require(Grant.SQL))]
Commander = Annotated[Caller, Depends(require(Grant.COMMAND))]


async def require_device(
    request: Request,
    services: ServicesDep,
    key: Annotated[HTTPAuthorizationCredentials | None, Security(device_key)] = None,
) -> Principal:
    """The kiosk or console behind the request's key (ingest takes device keys only): 401
    without a valid credential, 403 for a staff token or an analyst key."""
    if key is None:
        raise _unauthorized(
            "missing_credentials", "send the device's key: Authorization: Bearer sjk_…"
        )
    if not key.credentials.startswith(KEY_PREFIX):
        caller = _staff(services, key.credentials, "token", request)  # 401 if not valid
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden",
            f"{caller.describe()} may not send events: kiosks and consoles do, with their keys",
        )
    principal = _device(services, key.credentials)
    if not Caller.device(principal.kind, principal.device_id, principal.station_id).can(
        Grant.INGEST
    ):
        raise api_error(
            status.HTTP_403_FORBIDDEN, "forbidden", f"an {principal.kind} key may not send events"
        )
    return principal


DeviceDep = Annotated[Principal, Depends(require_device)]


def require_network(caller: Caller) -> None:
    """403 unless the caller sees the whole network."""
    if not caller.sees_network:
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden_scope",
            f"{caller.describe()} sees stations {', '.join(sorted(caller.scope or ()))} only; "
            "this covers the whole network",
        )


def require_station(caller: Caller, station_id: str) -> None:
    """403 unless the caller sees this station."""
    if not caller.sees(station_id):
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden_scope",
            f"{caller.describe()} does not see station {station_id}",
        )


def session_caller(request: Request, services: Services) -> Caller | None:
    """The staff member of the request's page session, or None (no session, or not valid)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return _staff(services, cookie, "session", request)
    except HTTPException:
        return None
