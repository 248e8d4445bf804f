"""Staff login: ``POST /v1/auth/token`` (OAuth2 password flow, for programs), the login page
(``GET``/``POST /login``, an HttpOnly session cookie for pages), ``POST /logout`` and
``GET /v1/auth/me``."""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import time
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.access.deps import CallerDep
from api.access.sessions import SESSION_COOKIE
from api.access.tokens import TokenError
from api.access.users import User
from api.deps import ServicesDep
from api.errors import api_error
from api.schemas import ErrorResponse
from api.services import Services
from sanjiang.events.payloads import LoginVia

router = APIRouter(tags=["access"])
log = logging.getLogger("sanjiang.access")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(description="Always `bearer`.")
    expires_in: int = Field(description="Seconds the token stays valid.")


class Me(BaseModel):
    kind: str = Field(description="`staff`, `kiosk`, `console` or `analyst` (a device key).")
    name: str
    role: str | None = None
    stations: list[str] | None = Field(description="Stations in scope; null = the whole network.")
    grants: list[str]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def check_login(
    services: Services, username: str, password: str, address: str, via: LoginVia
) -> User:
    """The user these credentials name; 429 while too many logins failed, 401 if wrong. Every
    attempt is an audit event (``login.attempted``, see ``api.access.audit``), recorded before
    the answer; the password never leaves this function."""
    account = username.strip().lower()
    now = time.time()
    wait = services.throttle.retry_after(account, address, now)
    if wait is not None:
        log.warning("login refused (too many failures): user=%s address=%s", account, address)
        await services.audit.login(
            tried=account,
            account=services.users.get(account),
            refusal="throttled",
            via=via,
            address=address,
            now=now,
            detail=f"retry in {wait:.0f} s",
        )
        raise api_error(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too_many_failed_logins",
            f"too many failed logins; try again in {wait:.0f} s",
            {"Retry-After": str(int(wait) + 1)},
        )
    check = await asyncio.to_thread(services.users.check, account, password)
    user = check.user
    if user is None:
        services.throttle.failed(account, address, now)
        log.warning("login failed: user=%s address=%s", account, address)
    else:
        services.throttle.succeeded(account)
        log.info("login: user=%s role=%s address=%s", user.username, user.role, address)
    await services.audit.login(
        tried=account,
        account=check.account,
        refusal=check.refusal,
        via=via,
        address=address,
        now=now,
    )
    if user is None:
        raise api_error(
            status.HTTP_401_UNAUTHORIZED, "bad_login", "wrong username or password, or disabled"
        )
    return user


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    summary="Log in (OAuth2 password flow): a short-lived bearer token",
    responses={
        401: {"model": ErrorResponse, "description": "Wrong username or password."},
        429: {"model": ErrorResponse, "description": "Too many failed logins; see Retry-After."},
    },
)
async def token(
    request: Request,
    services: ServicesDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenResponse:
    user = await check_login(
        services, form.username, form.password, client_address(request), "token"
    )
    ttl = services.settings.token_ttl_s
    issued, _ = services.tokens.issue(user.username, user.token_version, "access", ttl)
    return TokenResponse(access_token=issued, token_type="bearer", expires_in=int(ttl))


@router.get("/v1/auth/me", response_model=Me, summary="Who the credential belongs to")
async def me(caller: CallerDep) -> Me:
    return Me(
        kind=caller.kind,
        name=caller.name,
        role=caller.role,
        stations=None if caller.scope is None else sorted(caller.scope),
        grants=sorted(g.value for g in caller.grants),
    )


@cache
def _login_template() -> str:
    return resources.files("api").joinpath("pages/login.html").read_text("utf-8")


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/live"
    return target


def login_page(message: str = "", target: str = "/live", status_code: int = 200) -> HTMLResponse:
    page = (
        _login_template()
        .replace("__NEXT__", html.escape(safe_next(target), quote=True))
        .replace("__MESSAGE__", html.escape(message))
        .replace("__MESSAGE_CLASS__", "message" if message else "message hidden")
    )
    return HTMLResponse(page, status_code=status_code)


@router.get("/login", include_in_schema=False)
async def login_form(
    next: Annotated[str, Query(max_length=2000)] = "/live",
) -> HTMLResponse:
    return login_page(target=next)


@router.post("/login", include_in_schema=False)
async def login_submit(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/live",
) -> Response:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return login_page("请从本站登录页登录。", next, status.HTTP_403_FORBIDDEN)
    try:
        user = await check_login(services, username, password, client_address(request), "page")
    except HTTPException as exc:  # a refused login: said on the page
        detail: Any = exc.detail
        code = detail.get("error") if isinstance(detail, dict) else None
        if code == "too_many_failed_logins":
            return login_page("登录失败次数过多，请稍后再试。", next, 429)
        if code == "bad_login":
            return login_page("用户名或密码错误，或账号已停用。", next, 401)
        raise
    session, _ = services.sessions.issue(user.username, user.token_version)
    response = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    services.sessions.set_cookie(response, request, session)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End the page session (the form sends the session's CSRF token)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            claims = services.tokens.verify(cookie, "session")
        except TokenError:
            claims = None
        if claims is not None and not hmac.compare_digest(
            csrf.encode(), (claims.csrf or "").encode()
        ):
            raise api_error(status.HTTP_403_FORBIDDEN, "csrf_failed", "log out from the page")
    response = RedirectResponse(
        "/login?next=" + quote("/live"), status_code=status.HTTP_303_SEE_OTHER
    )
    services.sessions.clear_cookie(response, request)
    return response
