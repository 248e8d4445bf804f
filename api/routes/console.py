"""The staff console (工作台): ``/console``, for the staff who run a station's loops
(operators, managers, admins), and what it reads: a station's week (activities, bookings,
closures), its booking requests, its demand board and an activity's registrations. Decisions
go through ``POST /v1/commands`` like every other asker's (the page sends them with the
session's CSRF token); these routes read, from the warehouse, folded by the deciders' own
``evolve`` (``projections.console``). The desk's two routes are the exception, because a card
or QR number typed by staff must become a resident's pseudonym where the key is, in the API:
a check-in (a fact, to the ingest) and a registration (a command, to the deciders as
``POST /v1/commands`` sends it), both through ``_resident_of``.

What a role may not do is not offered: the page gets the command kinds the caller's role may
send (``sanjiang.commands.access``) and the stations it acts for, and shows only those forms
and buttons; the API refuses the rest anyway (403).
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from api.access.deps import CallerDep, require_station, session_caller
from api.access.roles import Caller, Grant
from api.deps import ServicesDep
from api.errors import api_error
from api.ingest import PartlyStoredError
from api.keys import Principal
from api.params import PROTECTED, bad
from api.routes.commands import CommandAnswer, CommandRequest, send_command
from api.routes.pages import names_block, page_forbidden, to_login
from api.schemas import ErrorResponse
from api.services import Services
from projections.audit import audit_trail
from projections.console import (
    activity_detail,
    booking_requests,
    demand_board,
    registrant,
    station_heat,
    station_week,
)
from projections.kpi import Period, Scope, compute_kpis
from sanjiang.commands.access import ALLOWED
from sanjiang.commands.model import Register
from sanjiang.events import EVENT_TYPES
from sanjiang.events.types import Ident
from sanjiang.pseudonym import pseudonymizer_for
from sanjiang.targets import KPI_TARGETS, YELLOW_FROM

router = APIRouter(tags=["console"], responses=PROTECTED)
Id = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
#: the roles the console is for: those that act for stations
CONSOLE_ROLES = ("operator", "manager", "admin")
KPIS = ("venue_utilization", "project_precision", "resident_participation", "service_satisfaction")


def _acts(caller: Caller) -> bool:
    return caller.kind == "staff" and caller.role in CONSOLE_ROLES and caller.can(Grant.COMMAND)


async def _staff(caller: CallerDep) -> Caller:
    if not _acts(caller):
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden",
            f"{caller.describe()} may not use the console (operators, managers and admins do)",
        )
    return caller


Staff = Annotated[Caller, Depends(_staff)]


def _station(services: Services, caller: Caller, station_id: str) -> None:
    if station_id not in services.network.by_id:
        raise api_error(status.HTTP_404_NOT_FOUND, "unknown_station", f"no station {station_id}")
    require_station(caller, station_id)


@router.get("/console", include_in_schema=False)
async def console_page(request: Request, services: ServicesDep) -> Response:
    caller = session_caller(request, services)
    if caller is None:
        return to_login(request)
    if not _acts(caller):
        return page_forbidden(caller, "站点工作台（运营、管理人员使用）")
    network = services.network
    stations = [s.id for s in network.stations if caller.sees(s.id)]
    assert caller.role is not None
    extra = {
        "mine": stations,
        "role": caller.role,
        "may": sorted(ALLOWED.get(caller.role, frozenset())),
        "programs": {
            p.id: {"name": p.name, "category": p.category} for p in services.taxonomy.programs
        },
        "timezone": str(network.tz),
        # the calendar shades the hours a venue is closed: weekday -> [["08:30", "20:00"], …]
        "hours": {
            v.id: {
                day: [[i.start.strftime("%H:%M"), i.end.strftime("%H:%M")] for i in intervals]
                for day, intervals in v.opening_hours.items()
            }
            for s in network.stations
            if s.id in stations
            for v in s.venues
        },
    }
    template = resources.files("api").joinpath("pages/console.html").read_text("utf-8")
    page = (
        template.replace("__NAMES__", names_block(network, services.taxonomy, extra))
        .replace("__USER__", html.escape(f"{caller.name}（{caller.role}）"))
        .replace("__CSRF__", html.escape(getattr(request.state, "csrf", "") or "", quote=True))
    )
    return HTMLResponse(page)


def _week_start(text: str | None, services: Services) -> date:
    if not text:
        today = datetime.now(services.network.tz).date()
        return today - timedelta(days=today.weekday())
    try:
        start = date.fromisoformat(text)
    except ValueError:
        raise bad("bad_date", f"expected a date YYYY-MM-DD, got {text[:20]!r}") from None
    if not date(2000, 1, 1) <= start <= date(2099, 12, 24):
        raise bad("bad_date", "the week must lie between 2000-01-01 and 2100-01-01")
    return start


_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such station (or activity)."},
    503: {"model": ErrorResponse, "description": "The warehouse is not open."},
}


@router.get(
    "/v1/console/stations/{station_id}/week",
    summary="A station's week: activities, bookings and closures",
    description=(
        "The seven local days from `start` (a date; this week's Monday if absent): every "
        "activity of the station overlapping them (drafts, published and cancelled, with "
        "registrations, waitlist and check-ins counted), every booking (pending, confirmed, "
        "rejected…) and every closure, times in Shanghai time, status labels in Chinese. At "
        "most 500 of each. For operators, managers and admins who act for the station."
    ),
    responses=_RESPONSES,
)
async def console_week(
    station_id: Id,
    services: ServicesDep,
    caller: Staff,
    start: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
) -> dict[str, Any]:
    _station(services, caller, station_id)
    first = _week_start(start, services)
    return await asyncio.to_thread(
        station_week, services.require_warehouse(), services.network.tz, station_id, first
    )


@router.get(
    "/v1/console/stations/{station_id}/bookings",
    summary="A station's booking requests awaiting approval",
    description=(
        "Bookings requested at the station, still pending and not ended, soonest first (at "
        "most 500): venue, time, party size, version. Managers approve or reject them with "
        "`booking.approve` / `booking.reject`."
    ),
    responses=_RESPONSES,
)
async def console_bookings(station_id: Id, services: ServicesDep, caller: Staff) -> dict[str, Any]:
    _station(services, caller, station_id)
    requests = await asyncio.to_thread(
        booking_requests,
        services.require_warehouse(),
        services.network.tz,
        station_id,
        datetime.now(services.network.tz),
    )
    return {"station_id": station_id, "bookings": requests}


@router.get(
    "/v1/console/stations/{station_id}/demands",
    summary="A station's demand board",
    description=(
        "Demands submitted at the station in the last 180 days (at most 500), open ones "
        "first: category, summary, status with its Chinese label, how many support it, the "
        "dispatch (unit, due date, overdue), the official answer and the linked activities "
        "with their titles. Never who submitted or voted."
    ),
    responses=_RESPONSES,
)
async def console_demands(station_id: Id, services: ServicesDep, caller: Staff) -> dict[str, Any]:
    _station(services, caller, station_id)
    board = await asyncio.to_thread(
        demand_board,
        services.require_warehouse(),
        services.network.tz,
        station_id,
        datetime.now(services.network.tz),
    )
    return {"station_id": station_id, "demands": board}


@router.get(
    "/v1/console/stations/{station_id}/activities/{activity_id}",
    summary="An activity with its registrations and waitlist",
    description=(
        "The activity as its station's decider folds it: status, time, venue, capacity; who "
        "holds a place (registration id, the resident's pseudonym shortened to 8 characters, "
        "checked in or not) and who waits, in order."
    ),
    responses=_RESPONSES,
)
async def console_activity(
    station_id: Id, activity_id: Id, services: ServicesDep, caller: Staff
) -> dict[str, Any]:
    _station(services, caller, station_id)
    found = await asyncio.to_thread(
        activity_detail,
        services.require_warehouse(),
        services.network.tz,
        station_id,
        activity_id,
    )
    if found is None:
        raise api_error(
            status.HTTP_404_NOT_FOUND, "not_found", f"no activity {activity_id} at {station_id}"
        )
    return found


def _v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError("ids made by the page are UUIDv7")
    return value


V7 = Annotated[UUID, AfterValidator(_v7)]
Card = Annotated[str, Field(min_length=1, max_length=64)]


def _resident_of(services: Services, identifier: str) -> str:
    """The pseudonym of the resident a card or QR number names: the one way the desk turns a
    typed number into a resident (check-ins and registrations alike). The number is used here
    and forgotten; the pseudonym key never leaves the API."""
    try:
        return pseudonymizer_for(services.settings)(identifier)
    except ValueError:
        raise bad("bad_identifier", "the card or QR number is empty") from None


def _desk_rate(services: Services, principal: Principal, what: str) -> None:
    wait = services.limiter.take(principal.source, 1)
    if wait is not None:
        raise api_error(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "rate_limited",
            f"too many {what} from this account; wait a moment",
            {"Retry-After": str(max(1, int(wait + 0.999)))},
        )


class DeskCheckin(BaseModel):
    """A resident checked in at the desk: by their registration (no card needed) or by the
    card or QR number staff type or scan."""

    model_config = ConfigDict(extra="forbid")

    checkin_id: V7 = Field(
        description="The check-in's event id (a UUIDv7 made by the page): sending it again "
        "records it once."
    )
    venue_id: Ident
    activity_id: Ident | None = None
    registration_id: Ident | None = Field(
        default=None, description="A registration of `activity_id`: its resident is checked in."
    )
    identifier: Card | None = Field(
        default=None,
        description="A card or QR number; pseudonymized here and forgotten (never stored, "
        "logged or sent on).",
    )

    @model_validator(mode="after")
    def _one_resident(self) -> DeskCheckin:
        if (self.registration_id is None) == (self.identifier is None):
            raise ValueError("name the resident by registration_id or by identifier, not both")
        if self.registration_id is not None and self.activity_id is None:
            raise ValueError("a registration_id needs its activity_id")
        return self


class DeskAnswer(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: str
    visit_id: str


@router.post(
    "/v1/console/stations/{station_id}/checkins",
    summary="The check-in desk: staff check a resident in",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeskAnswer,
    description=(
        "A `checkin.recorded` fact for the station, at the time the API receives it, with "
        "`source` `console:<username>`: the same ingest, checks and deduplication as a "
        "kiosk's (`POST /v1/events`), for a walk-in or a resident staff help (an elderly "
        "resident without a card is found by their registration). Only staff who act for the "
        "station (operators, managers, admins; from a page, with the session's CSRF token); "
        "only a check-in, never a decision. **202** recorded (or a duplicate of the same "
        "`checkin_id`); **404** no such registration; **400** the ingest refused it; **503** "
        "not stored, send it again."
    ),
    responses={
        **_RESPONSES,
        400: {"model": ErrorResponse, "description": "The ingest refused it (the reason)."},
    },
)
async def desk_checkin(
    station_id: Id, body: DeskCheckin, request: Request, services: ServicesDep, caller: Staff
) -> JSONResponse:
    _station(services, caller, station_id)
    if body.venue_id not in {v.id for v in services.network.by_id[station_id].venues}:
        raise api_error(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "venue_unknown",
            f"{body.venue_id} is not a venue of {station_id}",
        )
    principal = Principal(caller.name, "console", station_id)
    _desk_rate(services, principal, "check-ins")
    if body.identifier is not None:
        resident = _resident_of(services, body.identifier)
    else:
        assert body.activity_id is not None
        assert body.registration_id is not None
        found = await asyncio.to_thread(
            registrant,
            services.require_warehouse(),
            station_id,
            body.activity_id,
            body.registration_id,
        )
        if found is None:
            raise api_error(
                status.HTTP_404_NOT_FOUND,
                "not_found",
                f"no registration {body.registration_id} of {body.activity_id} at {station_id}",
            )
        resident = found
    visit_id = f"cv-{body.checkin_id.hex}"
    payload: dict[str, Any] = {"visit_id": visit_id, "venue_id": body.venue_id}
    if body.activity_id is not None:
        payload["activity_id"] = body.activity_id
    raw = {
        "event_id": str(body.checkin_id),
        "type": "checkin.recorded",
        "schema_version": EVENT_TYPES["checkin.recorded"].VERSION,
        "occurred_at": datetime.now(UTC).isoformat(),
        "station_id": station_id,
        "source": principal.source,
        "resident": resident,
        "payload": payload,
    }
    try:
        [result] = await services.ingestor.ingest(principal, [raw])
    except PartlyStoredError as exc:
        raise api_error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "kafka_unavailable",
            f"not stored ({type(exc.error).__name__}); send it again",
            {"Retry-After": "5"},
        ) from exc
    if result.status == "rejected":
        raise api_error(400, result.reason or "rejected", result.detail or "")
    answer = {"status": result.status, "event_id": result.event_id, "visit_id": visit_id}
    return JSONResponse(answer, status_code=status.HTTP_202_ACCEPTED)


class DeskRegistration(BaseModel):
    """A resident registered by staff, named by the card or QR number they type or scan."""

    model_config = ConfigDict(extra="forbid")

    command_id: V7 = Field(
        description="The command's id (a UUIDv7 made by the page): sending it again returns "
        "the decision made, never a second one."
    )
    activity_id: Ident
    registration_id: Ident
    identifier: Card = Field(
        description="A card or QR number; pseudonymized here and forgotten (never stored, "
        "logged or sent on)."
    )


@router.post(
    "/v1/console/stations/{station_id}/registrations",
    summary="The desk registers a resident for an activity (or its waitlist)",
    response_model=CommandAnswer,
    description=(
        "For a resident staff help (at the desk or on the phone): the card or QR number is "
        "turned into the resident's pseudonym here, as the check-in desk does, and "
        "`registration.register` goes to the station's decider as `POST /v1/commands` sends "
        "it (decided once per `command_id`), with `source` `console:<username>`. The answers "
        "are those of `POST /v1/commands`: **200** a place, or the waitlist (`outcome` "
        "`waitlisted` with `position`); **409** rejected (`already_registered`, "
        "`not_published`, `activity_started`…); **404** no such activity. Only staff who act "
        "for the station (from a page, with the session's CSRF token)."
    ),
    responses={
        **_RESPONSES,
        409: {"model": CommandAnswer, "description": "Rejected by a rule of the decider."},
        504: {"model": ErrorResponse, "description": "No decision in time: ask again."},
    },
)
async def desk_register(
    station_id: Id, body: DeskRegistration, services: ServicesDep, caller: Staff
) -> JSONResponse:
    _station(services, caller, station_id)
    _desk_rate(services, Principal(caller.name, "console", station_id), "registrations")
    command = Register(
        registration_id=body.registration_id,
        activity_id=body.activity_id,
        resident=_resident_of(services, body.identifier),
    )
    asked = CommandRequest(station_id=station_id, command=command, command_id=body.command_id)
    return await send_command(asked, caller, services)


def _kpis(services: Services, station_id: str, start: date, end: date) -> dict[str, Any]:
    tz = services.network.tz
    period = Period(
        datetime.combine(start, datetime.min.time(), tz),
        datetime.combine(end, datetime.min.time(), tz),
    )
    report = compute_kpis(
        services.require_warehouse(), services.network, period, Scope("station", station_id)
    )
    values = report.as_dict()
    return {k: values.get(k) for k in (*KPIS, "fill_rate")}


def _overview(services: Services, station_id: str) -> dict[str, Any]:
    now = datetime.now(services.network.tz)
    today = now.date()
    return {
        "station_id": station_id,
        "day": today.isoformat(),
        "targets": {k: KPI_TARGETS[k] for k in (*KPIS, "fill_rate")},
        "yellow_from": YELLOW_FROM,
        "kpis": {
            "today": _kpis(services, station_id, today, today + timedelta(days=1)),
            "last_7_days": _kpis(services, station_id, today - timedelta(days=7), today),
        },
        "heat": station_heat(services.require_warehouse(), station_id, now),
    }


@router.get(
    "/v1/console/stations/{station_id}/overview",
    summary="A station's KPIs and heat",
    description=(
        "The station's four KPIs (and the fill rate) of today so far and of the 7 days "
        "before, from the warehouse, with their targets (green at the target, yellow from "
        "`yellow_from` × target, red below); its heat (热度) now and its ten hottest "
        "activities with their titles."
    ),
    responses=_RESPONSES,
)
async def console_overview(station_id: Id, services: ServicesDep, caller: Staff) -> dict[str, Any]:
    _station(services, caller, station_id)
    return await asyncio.to_thread(_overview, services, station_id)


@router.get(
    "/v1/console/stations/{station_id}/audit",
    summary="A station's audit trail of commands (managers)",
    description=(
        "Every command answered for the station in the last `days` days (at most 31), newest "
        "first, at most `limit` (500): when, kind, who asked (actor, role), accepted or the "
        "rejection's reason, and the subject, in the row shape of `GET /v1/audit`. For the "
        "station's managers and for admins (who also read `GET /v1/audit` for the network)."
    ),
    responses=_RESPONSES,
)
async def console_audit(
    station_id: Id,
    services: ServicesDep,
    caller: Staff,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[dict[str, Any]]:
    _station(services, caller, station_id)
    if caller.role not in ("manager", "admin"):
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden",
            f"{caller.describe()} may not read the audit trail (managers and admins do)",
        )
    now = datetime.now(services.network.tz)
    period = Period(now - timedelta(days=days), now + timedelta(minutes=1))
    return await asyncio.to_thread(
        audit_trail,
        services.require_warehouse(),
        period,
        what="command",
        station=station_id,
        limit=limit,
    )
