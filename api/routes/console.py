"""The staff console (工作台): ``/console``, for the staff who run a station's loops
(operators, managers, admins), and what it reads: a station's week (activities, bookings,
closures), its booking requests, its demand board and an activity's registrations. Decisions
go through ``POST /v1/commands`` like every other asker's (the page sends them with the
session's CSRF token); these routes only read, from the warehouse, folded by the deciders'
own ``evolve`` (``projections.console``).

What a role may not do is not offered: the page gets the command kinds the caller's role may
send (``sanjiang.commands.access``) and the stations it acts for, and shows only those forms
and buttons; the API refuses the rest anyway (403).
"""

from __future__ import annotations

import asyncio
import html
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from api.access.deps import CallerDep, require_station, session_caller
from api.access.roles import Caller, Grant
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED, bad
from api.routes.pages import names_block, page_forbidden, to_login
from api.schemas import ErrorResponse
from api.services import Services
from projections.console import activity_detail, booking_requests, demand_board, station_week
from sanjiang.commands.access import ALLOWED

router = APIRouter(tags=["console"], responses=PROTECTED)
Id = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
#: the roles the console is for: those that act for stations
CONSOLE_ROLES = ("operator", "manager", "admin")


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
