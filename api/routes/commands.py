"""``POST /v1/commands``: ask the platform to decide (design, publish, book, register, answer…).

The command goes to the decider of its station (one writer per station, ``sanjiang.commands``)
and the answer comes back: *accepted*, with the ids of the events written and the new version
of what changed, or *rejected* with a typed reason and what was in the way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from api.access.deps import Commander
from api.access.roles import Caller
from api.commandbus import DecisionPendingError
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED
from api.schemas import ErrorResponse
from sanjiang.commands.access import may
from sanjiang.commands.decision import Reason
from sanjiang.commands.model import AnyBody, Command
from sanjiang.events.types import Ident
from sanjiang.ids import uuid7

router = APIRouter(tags=["commands"], responses=PROTECTED)


def _v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError("command_id must be a UUIDv7")
    return value


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: Ident = Field(description="The station the command concerns.")
    command: AnyBody = Field(description="What to decide; `kind` names it.")
    command_id: Annotated[UUID, AfterValidator(_v7)] | None = Field(
        default=None,
        description="Your id for this command (a UUIDv7). Asking again with the same id "
        "returns the decision made, never a second one. Given by the platform if absent.",
    )
    expected_version: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None,
        description="The version of what it changes that you last saw: rejected with "
        "`version_conflict` if it changed since.",
    )


class CommandAnswer(BaseModel):
    """The decision."""

    command_id: str
    status: Literal["accepted", "rejected"]
    event_ids: list[str] = Field(default=[], description="Accepted: the events written.")
    version: int | None = Field(
        default=None, description="Accepted: the new version of what changed."
    )
    outcome: str | None = Field(
        default=None,
        description="Accepted: `done`, `pending` (a booking awaiting approval) or "
        "`waitlisted` (with `position`).",
    )
    position: int | None = None
    reason: str | None = Field(
        default=None,
        description="Rejected: " + ", ".join(f"`{r.value}`" for r in Reason) + ".",
    )
    detail: str | None = Field(default=None, description="Rejected: why, for a person.")
    cause: str | None = Field(
        default=None,
        description="Rejected: the id of what was in the way (a booking, an activity, a "
        "closure, `opening_hours`…).",
    )


def _role_and_source(caller: Caller) -> tuple[str, str]:
    if caller.kind == "staff":
        assert caller.role is not None
        return caller.role, f"console:{caller.name}"
    return caller.kind, f"{caller.kind}:{caller.name}"


#: rejections answered with another status than 409 (the state does not allow it)
_STATUS = {Reason.NOT_FOUND.value: 404, Reason.FORBIDDEN.value: 403}


@router.post(
    "/v1/commands",
    summary="Ask the platform to decide",
    response_model=CommandAnswer,
    description=(
        "Staff (operator, manager, admin: at their stations) and kiosks (residents' "
        "registrations, bookings and demands, at their own station) send commands. The "
        "station's decider decides each once, in order, against the station's state. "
        "**200** accepted; **409** rejected by a rule (the answer names the reason and what "
        "was in the way); **404** what it names does not exist at the station; **403** the "
        "role or station may not; **504** no decision in time (it will be made: ask again "
        "with the same `command_id`)."
    ),
    responses={
        409: {"model": CommandAnswer, "description": "Rejected by a rule of the decider."},
        404: {"model": CommandAnswer, "description": "What the command names does not exist."},
        504: {"model": ErrorResponse, "description": "No decision within the time allowed."},
    },
)
async def send_command(
    request: CommandRequest, caller: Commander, services: ServicesDep
) -> JSONResponse:
    kind = request.command.kind
    role, source = _role_and_source(caller)
    if not may(role, kind):
        raise api_error(
            status.HTTP_403_FORBIDDEN, "forbidden", f"{caller.describe()} may not ask {kind}"
        )
    if not caller.sees(request.station_id):
        raise api_error(
            status.HTTP_403_FORBIDDEN,
            "forbidden_scope",
            f"{caller.describe()} does not act for station {request.station_id}",
        )
    if request.station_id not in services.network.by_id:
        raise api_error(
            status.HTTP_404_NOT_FOUND, "unknown_station", f"no station {request.station_id}"
        )
    command = Command(
        command_id=request.command_id or uuid7(),
        station_id=request.station_id,
        issued_at=datetime.now(UTC),
        actor=caller.name,
        role=role,
        source=source,
        expected_version=request.expected_version,
        body=request.command,
    )
    try:
        answer: dict[str, Any] = await services.commands.ask(command)
    except DecisionPendingError:
        raise api_error(
            status.HTTP_504_GATEWAY_TIMEOUT,
            "decision_pending",
            f"no decision yet on {command.command_id}; ask again with this command_id",
        ) from None
    code = 200 if answer["status"] == "accepted" else _STATUS.get(answer["reason"], 409)
    return JSONResponse(answer, status_code=code)
