"""The kiosk page (``/kiosk``) of a station's touch screen, its pairing, and the routes it calls.

**Pairing.** A staff member who may act for the station (operator, manager or admin) logs in on
the kiosk's browser and opens ``/kiosk/pair``: the API issues a kiosk device key for the station
(audited as ``device_key.changed``), puts it in an HttpOnly, SameSite=Strict cookie
(``Secure`` over https) that page scripts cannot read, and ends the staff session on that
browser. The cookie is honoured by the ``/v1/kiosk/*`` routes only — a kiosk key can do no more
than send residents' actions for its station — and ``sanjiang kiosk revoke`` unpairs it.
State-changing requests riding on the cookie must carry ``X-Sanjiang-Kiosk: 1`` (a header no
form of another site can send, nor a cross-origin script without a CORS grant).

**Actions.** The page seals a resident's identifier with the platform's public key
(``api.kiosk``) and sends facts to ``POST /v1/kiosk/events`` and commands to
``POST /v1/kiosk/commands``, each with the id and time it was made with on the kiosk: the API
opens the identifier, turns it into the pseudonym, and hands the event to the same ingest as
``POST /v1/events`` (deduplicated by ``event_id``) or the command to the same deciders as
``POST /v1/commands`` (decided once per ``command_id``).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from api.access.audit import key_event
from api.access.deps import authenticate, session_caller
from api.access.roles import Caller, Grant
from api.access.sessions import SESSION_COOKIE
from api.access.tokens import TokenError
from api.deps import ServicesDep
from api.errors import api_error
from api.ingest import PartlyStoredError
from api.keys import DEVICE_ID, KEY_PREFIX, KeyStoreError, Principal
from api.kiosk import Sealer, SealError, Visits, load_or_create_sealer, seal_key_path, visits_path
from api.kiosk_views import resident_lookup, week_activities
from api.params import PROTECTED
from api.routes.commands import CommandAnswer, CommandRequest, send_command
from api.routes.demands import Id, get_demand
from api.schemas import ErrorResponse
from api.services import Services
from sanjiang.commands.access import may
from sanjiang.commands.model import AnyBody
from sanjiang.events import EVENT_TYPES
from sanjiang.pseudonym import Pseudonymizer, pseudonymizer_for

router = APIRouter(tags=["kiosk"])

KIOSK_COOKIE = "sj_kiosk"
KIOSK_HEADER = "X-Sanjiang-Kiosk"
#: the cookie lasts as long as browsers keep one (400 days); revoking the key ends it sooner
COOKIE_MAX_AGE = 400 * 24 * 3600
APP_VERSION = "kiosk-page-1"
#: commands a kiosk page sends, and whether they name the resident
PAGE_COMMANDS = {
    "registration.register": True,
    "registration.cancel": False,
    "demand.submit": True,
    "demand.vote": True,
}


@dataclass(frozen=True)
class KioskParts:
    sealer: Sealer
    pseudonymize: Pseudonymizer
    visits: Visits


async def _parts(request: Request, services: Services) -> KioskParts:
    """Built once per app, on first use (making the sealing key takes a moment; two requests
    that build it at once get the same key, made atomically on disk)."""
    parts: KioskParts | None = getattr(request.app.state, "kiosk_parts", None)
    if parts is None:
        settings = services.settings
        parts = KioskParts(
            sealer=await asyncio.to_thread(load_or_create_sealer, seal_key_path(settings)),
            pseudonymize=pseudonymizer_for(settings),
            visits=Visits(visits_path(settings)),
        )
        request.app.state.kiosk_parts = parts
    return parts


def _rate(services: Services, principal: Principal) -> None:
    """The kiosk's key shares the ingest's rate (``SANJIANG_INGEST_RATE_PER_KEY``)."""
    wait = services.limiter.take(principal.source, 1)
    if wait is not None:
        raise api_error(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "rate_limited",
            f"too many requests from this kiosk; retry in {wait:.1f}s",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )


@cache
def _template(name: str) -> str:
    return resources.files("api").joinpath(f"pages/{name}").read_text("utf-8")


def _fonts_link() -> str:
    """The shared webfont's stylesheet, once the deployment serves one."""
    fonts = resources.files("api").joinpath("static/vendor/fonts.css")
    return '<link rel="stylesheet" href="/static/vendor/fonts.css">' if fonts.is_file() else ""


# --- the page -----------------------------------------------------------------------------


@router.get("/kiosk", include_in_schema=False)
async def kiosk_page() -> HTMLResponse:
    """The same page for every kiosk (so the service worker can keep it): what station it
    serves comes from ``/v1/kiosk/config`` with the kiosk's cookie."""
    return HTMLResponse(_template("kiosk.html").replace("__FONTS__", _fonts_link()))


@router.get("/kiosk/sw.js", include_in_schema=False)
async def kiosk_worker() -> Response:
    """The page's service worker, allowed to control ``/kiosk``."""
    script = resources.files("api").joinpath("static/kiosk/sw.js").read_bytes()
    return Response(
        script,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/kiosk", "Cache-Control": "no-cache"},
    )


# --- pairing ------------------------------------------------------------------------------


def _pairable(caller: Caller, services: Services) -> list[tuple[str, str]]:
    """Stations this staff member may pair a kiosk for: those they act for (commands)."""
    if caller.kind != "staff" or not caller.can(Grant.COMMAND):
        return []
    return [(s.id, s.name) for s in services.network.stations if caller.sees(s.id)]


def _pair_page(
    caller: Caller, services: Services, csrf: str, message: str = "", code: int = 200
) -> HTMLResponse:
    stations = _pairable(caller, services)
    options = "".join(
        f'<option value="{html.escape(sid, quote=True)}">{html.escape(name)}（{html.escape(sid)}）'
        "</option>"
        for sid, name in stations
    )
    page = (
        _template("kiosk-pair.html")
        .replace("__FONTS__", _fonts_link())
        .replace("__USER__", html.escape(caller.describe()))
        .replace("__CSRF__", html.escape(csrf, quote=True))
        .replace("__STATIONS__", options)
        .replace("__MESSAGE__", html.escape(message))
        .replace("__MESSAGE_CLASS__", "message" if message else "message hidden")
        .replace("__FORM_CLASS__", "" if stations else "hidden")
        .replace("__NONE_CLASS__", "hidden" if stations else "message")
    )
    return HTMLResponse(page, status_code=code)


@router.get("/kiosk/pair", include_in_schema=False)
async def pair_form(request: Request, services: ServicesDep) -> Response:
    caller = session_caller(request, services)
    if caller is None:
        return RedirectResponse("/login?next=/kiosk/pair", status_code=status.HTTP_303_SEE_OTHER)
    return _pair_page(caller, services, getattr(request.state, "csrf", "") or "")


def _form_caller(request: Request, services: Services, csrf: str) -> tuple[Caller, str] | None:
    """The staff member of a form post's session, its CSRF token checked (None if not)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        claims = services.tokens.verify(cookie, "session")
    except TokenError:
        return None
    user = services.users.get(claims.username)
    if user is None or not user.active or user.token_version != claims.version:
        return None
    if not claims.csrf or not hmac.compare_digest(csrf.encode(), claims.csrf.encode()):
        raise api_error(status.HTTP_403_FORBIDDEN, "csrf_failed", "pair from the pairing page")
    return Caller.staff(user.username, user.role, user.stations, "session"), claims.csrf


@router.post("/kiosk/pair", include_in_schema=False)
async def pair(
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    station_id: Annotated[str, Form(max_length=64)] = "",
    device_id: Annotated[str, Form(max_length=64)] = "",
    replace: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Issue the kiosk's key into its HttpOnly cookie and log the staff member out here."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise api_error(status.HTTP_403_FORBIDDEN, "cross_site", "pair from the pairing page")
    found = _form_caller(request, services, csrf)
    if found is None:
        return RedirectResponse("/login?next=/kiosk/pair", status_code=status.HTTP_303_SEE_OTHER)
    caller, token = found
    if station_id not in dict(_pairable(caller, services)):
        return _pair_page(caller, services, token, "您无权为该站点配对终端。", 403)
    device_id = device_id.strip()
    if not DEVICE_ID.match(device_id):
        return _pair_page(
            caller, services, token, "终端编号只能用字母、数字和 . _ -，最多 40 个字符。", 422
        )
    keys, audit = services.keys, []
    try:
        with keys.transaction():
            record = keys.active(device_id, "kiosk")
            if record is not None and not replace:
                return _pair_page(
                    caller,
                    services,
                    token,
                    f"终端 {device_id} 已配对；如需更换本机，请勾选“替换原有配对”。",
                    409,
                )
            if record is not None:
                if record.station_id != station_id:
                    return _pair_page(
                        caller, services, token, f"终端 {device_id} 属于其他站点。", 409
                    )
                keys.revoke(device_id, "kiosk")
                audit.append("revoked")
            key = keys.add(device_id, station_id, "kiosk")
            audit.append("issued")
    except KeyStoreError as exc:
        return _pair_page(caller, services, token, str(exc), 409)
    for change in audit:
        await services.audit.record(
            key_event(
                station=station_id,
                actor=caller.name,
                role=caller.role,
                device_id=device_id,
                kind="kiosk",
                change=change,  # type: ignore[arg-type]
                note="paired on the kiosk page",
            )
        )
    response = RedirectResponse("/kiosk", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        KIOSK_COOKIE,
        key,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    services.sessions.clear_cookie(response, request)  # no staff session left on the kiosk
    return response


# --- the kiosk's credential ---------------------------------------------------------------


async def kiosk_principal(request: Request, services: ServicesDep) -> Principal:
    """The paired kiosk behind the request: its cookie (or, for programs, its key as a bearer
    token). 401 ``not_paired`` without a valid kiosk key; 403 for any other credential."""
    bearer = request.headers.get("authorization", "")
    key = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
    if key and not key.startswith(KEY_PREFIX):  # a staff token: valid (or 401), not a kiosk
        caller = await authenticate(request, services, token=key)
        raise api_error(
            status.HTTP_403_FORBIDDEN, "forbidden", f"{caller.describe()} is not a kiosk"
        )
    if not key:
        key = request.cookies.get(KIOSK_COOKIE, "")
        if (
            key
            and request.method not in ("GET", "HEAD")
            and request.headers.get(KIOSK_HEADER) != "1"
        ):
            raise api_error(
                status.HTTP_403_FORBIDDEN, "csrf_failed", f"the kiosk page sends {KIOSK_HEADER}"
            )
    principal = services.keys.authenticate(key) if key.startswith(KEY_PREFIX) else None
    if not isinstance(principal, Principal):
        raise api_error(
            status.HTTP_401_UNAUTHORIZED,
            "not_paired",
            "this kiosk is not paired, or its key was revoked: pair it at /kiosk/pair",
            {"WWW-Authenticate": 'Bearer realm="sanjiang"'},
        )
    if principal.kind != "kiosk":
        raise api_error(
            status.HTTP_403_FORBIDDEN, "forbidden", f"an {principal.kind} key is not a kiosk"
        )
    return principal


#: the kiosk a request comes from (resolved before its body is validated: 401/403 first)
KioskDep = Annotated[Principal, Depends(kiosk_principal)]


def _caller(principal: Principal) -> Caller:
    return Caller.device("kiosk", principal.device_id, principal.station_id)


# --- what the page shows ------------------------------------------------------------------


_NOT_PAIRED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Not a paired kiosk (`not_paired`)."},
    403: {
        "model": ErrorResponse,
        "description": "Not a kiosk's key, or a cookie without `X-Sanjiang-Kiosk: 1`.",
    },
    422: {"model": ErrorResponse, "description": "Malformed, or a seal that does not open."},
}
_RATED: dict[int | str, dict[str, Any]] = {
    **_NOT_PAIRED,
    429: {"model": ErrorResponse, "description": "Over the kiosk's rate; see Retry-After."},
}


@router.get(
    "/v1/kiosk/config",
    summary="A paired kiosk's station, sealing key and offer",
    responses=_NOT_PAIRED,
)
async def kiosk_config(
    principal: KioskDep, request: Request, services: ServicesDep
) -> dict[str, Any]:
    """The station the kiosk serves, its venues, the demand categories, the public key that
    seals residents' identifiers, and the station's activities around this week (null while
    the warehouse is not open). Nothing in it is secret: the page keeps it for offline use."""
    parts = await _parts(request, services)
    station = services.network.by_id[principal.station_id]
    activities: list[dict[str, Any]] | None = None
    if services.warehouse is not None:
        activities = await asyncio.to_thread(
            week_activities,
            services.warehouse,
            services.network,
            services.taxonomy,
            station.id,
            datetime.now(UTC),
        )
    return {
        "station": {"id": station.id, "name": station.name},
        "device_id": principal.device_id,
        "source": principal.source,
        "tz": str(services.network.tz),
        "app_version": APP_VERSION,
        "seal": parts.sealer.public(),
        "venues": [{"id": v.id, "name": v.name} for v in station.venues],
        "categories": [
            {"id": c.id, "name": c.name, "family": c.family} for c in services.taxonomy.categories
        ],
        "activities": activities,
        "as_of": datetime.now(UTC).isoformat(),
    }


def _v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError("ids made on the kiosk are UUIDv7")
    return value


V7 = Annotated[UUID, AfterValidator(_v7)]
Sealed = Annotated[
    str, Field(min_length=10, max_length=1200, pattern=r"^[0-9a-f]{16}\.[A-Za-z0-9_-]+$")
]


class KioskEvent(BaseModel):
    """A fact recorded on the kiosk page; ``resident_sealed`` is the resident's identifier
    sealed for this ``event_id`` (``api.kiosk``)."""

    model_config = ConfigDict(extra="forbid")

    event_id: V7
    type: Literal[
        "checkin.recorded", "checkout.recorded", "evaluation.submitted", "kiosk.heartbeat"
    ]
    occurred_at: datetime = Field(description="The kiosk's clock when it happened.")
    payload: dict[str, Any] = Field(default={})
    resident_sealed: Sealed | None = None


class KioskCommand(BaseModel):
    """A resident's request made on the kiosk page, decided by the station's decider."""

    model_config = ConfigDict(extra="forbid")

    command_id: V7
    command: dict[str, Any]
    resident_sealed: Sealed | None = None
    made_at: datetime | None = Field(
        default=None,
        description="When the resident asked, by the kiosk's clock. Not used to decide: the "
        "platform decides a command at the time it receives it, as for any command (a place "
        "asked for offline may be gone by then).",
    )


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lookup_id: V7
    resident_sealed: Sealed


def _resident(parts: KioskParts, sealed: str | None, station_id: str, action_id: UUID) -> str:
    if sealed is None:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "resident_required", "resident_sealed: required"
        )
    try:
        identifier = parts.sealer.open(sealed, station_id, str(action_id))
        return parts.pseudonymize(identifier)
    except (SealError, ValueError) as exc:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "bad_seal", f"resident_sealed: {exc}"
        ) from None


def _visit_id(event_id: UUID) -> str:
    return f"kv-{event_id.hex}"


class KioskEventAnswer(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: str


@router.post(
    "/v1/kiosk/events",
    summary="A fact from the kiosk page (check-in, check-out, evaluation, heartbeat)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=KioskEventAnswer,
    responses={
        **_RATED,
        400: {"model": ErrorResponse, "description": "The ingest refused it (the reason)."},
        409: {"model": ErrorResponse, "description": "A check-out with no visit to close."},
        503: {"model": ErrorResponse, "description": "Not stored: send it again."},
    },
)
async def kiosk_event(
    principal: KioskDep, body: KioskEvent, request: Request, services: ServicesDep
) -> JSONResponse:
    """Opened, pseudonymized and handed to the ingest of ``POST /v1/events``: **202** accepted
    or a duplicate (same ``event_id``); **409** no open visit for a check-out; **400/403** the
    ingest refused it (the answer says why); **503** not stored, send it again."""
    _rate(services, principal)
    parts = await _parts(request, services)
    station = principal.station_id
    payload = dict(body.payload)
    resident: str | None = None
    closing: str | None = None
    if body.type == "kiosk.heartbeat":
        payload["kiosk_id"] = principal.device_id
    else:
        resident = _resident(parts, body.resident_sealed, station, body.event_id)
    if body.type == "checkin.recorded":
        payload["visit_id"] = _visit_id(body.event_id)
    elif body.type == "checkout.recorded":
        visit = await asyncio.to_thread(
            parts.visits.close, station, resident or "", str(body.event_id)
        )
        if visit is None:
            raise api_error(
                status.HTTP_409_CONFLICT,
                "no_open_visit",
                "no check-in of this resident at this station to close",
            )
        payload = {"visit_id": visit.visit_id, "venue_id": visit.venue_id}
        closing = str(body.event_id)
    raw = {
        "event_id": str(body.event_id),
        "type": body.type,
        "schema_version": EVENT_TYPES[body.type].VERSION,
        "occurred_at": body.occurred_at.isoformat(),
        "station_id": station,
        "source": principal.source,
        "resident": resident,
        "payload": payload,
    }
    try:
        [result] = await services.ingestor.ingest(principal, [raw])
    except PartlyStoredError as exc:
        if closing is not None:
            await asyncio.to_thread(parts.visits.reopen, closing)
        raise api_error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "kafka_unavailable",
            f"not stored ({type(exc.error).__name__}); send it again",
            {"Retry-After": "5"},
        ) from exc
    if result.status == "rejected":
        if closing is not None:
            await asyncio.to_thread(parts.visits.reopen, closing)
        forbidden = result.reason in ("forbidden_station", "forbidden_source", "forbidden_type")
        raise api_error(403 if forbidden else 400, result.reason or "rejected", result.detail or "")
    answer = {"status": result.status, "event_id": result.event_id}
    if body.type == "checkin.recorded" and resident is not None:
        await asyncio.to_thread(
            parts.visits.opened, station, resident, payload["visit_id"], str(payload["venue_id"])
        )
    return JSONResponse(answer, status_code=status.HTTP_202_ACCEPTED)


_BODY: TypeAdapter[Any] = TypeAdapter(AnyBody)


@router.post(
    "/v1/kiosk/commands",
    summary="A resident's request from the kiosk page",
    response_model=CommandAnswer,
    responses={
        **PROTECTED,
        **_RATED,
        409: {"model": CommandAnswer, "description": "Rejected by a rule of the decider."},
        404: {"model": CommandAnswer, "description": "What the command names does not exist."},
        504: {"model": ErrorResponse, "description": "No decision in time: ask again."},
    },
)
async def kiosk_command(
    principal: KioskDep, body: KioskCommand, request: Request, services: ServicesDep
) -> JSONResponse:
    """Registrations (or the waitlist), cancelling one, demands and votes: the resident's
    identifier is opened and pseudonymized, and the command goes to the station's decider as
    ``POST /v1/commands`` sends it, decided once per ``command_id``. The answers are those of
    ``POST /v1/commands``."""
    _rate(services, principal)
    kind = body.command.get("kind")
    if kind not in PAGE_COMMANDS or not may("kiosk", str(kind)):
        raise api_error(
            status.HTTP_403_FORBIDDEN, "forbidden", f"a kiosk page may not ask {kind!r}"
        )
    command = dict(body.command)
    if PAGE_COMMANDS[str(kind)]:
        parts = await _parts(request, services)
        command["resident"] = _resident(
            parts, body.resident_sealed, principal.station_id, body.command_id
        )
    try:
        parsed = _BODY.validate_python(command)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request", problems
        ) from None
    request_model = CommandRequest(
        station_id=principal.station_id, command=parsed, command_id=body.command_id
    )
    return await send_command(request_model, _caller(principal), services)


@router.post(
    "/v1/kiosk/lookup",
    summary="A resident's registrations and demands at the station",
    responses={
        **_RATED,
        503: {"model": ErrorResponse, "description": "The warehouse is not open."},
    },
)
async def kiosk_lookup(
    principal: KioskDep, body: Lookup, request: Request, services: ServicesDep
) -> dict[str, Any]:
    """For the resident at the screen, who presented their card: their registrations (with
    the waitlist position) and demands (with their status) at this station over 30 days."""
    _rate(services, principal)
    parts = await _parts(request, services)
    resident = _resident(parts, body.resident_sealed, principal.station_id, body.lookup_id)
    return await asyncio.to_thread(
        resident_lookup,
        services.require_warehouse(),
        services.network,
        services.taxonomy,
        principal.station_id,
        resident,
        datetime.now(UTC),
    )


@router.get(
    "/v1/kiosk/demands/{demand_id}",
    summary="A demand's status, by its id",
    responses={
        **_NOT_PAIRED,
        404: {"model": ErrorResponse, "description": "No such demand at the kiosk's station."},
        503: {"model": ErrorResponse, "description": "The warehouse is not open."},
    },
)
async def kiosk_demand(principal: KioskDep, demand_id: Id, services: ServicesDep) -> Any:
    """As ``GET /v1/stations/{station_id}/demands/{demand_id}`` for the kiosk's station."""
    return await get_demand(principal.station_id, demand_id, _caller(principal), services)
