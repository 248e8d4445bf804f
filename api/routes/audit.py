"""``GET /v1/audit``: the audit trail of commands, logins and changes of staff accounts and
device keys, for admins."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.access.deps import require
from api.access.roles import Caller, Grant
from api.deps import ServicesDep
from api.params import PROTECTED, period_of
from api.routes.kpis import FromQuery, IdQuery, ToQuery
from projections.audit import AuditWhat, audit_trail

router = APIRouter(tags=["audit"], responses=PROTECTED)
Admin = Annotated[Caller, Depends(require(Grant.ADMIN))]


@router.get(
    "/v1/audit",
    summary="Every command answered, every login and every change of users and keys (admins)",
    description=(
        "From the warehouse's audit events, newest first: when (Shanghai time), station, "
        "`what` (`command`: a command answered, `command.decided`; `login`: a staff login let "
        "in or refused, `login.attempted`; `user`: a staff account created, given a password, "
        "disabled or enabled, `user.changed`; `device`: a device key issued or revoked, "
        "`device_key.changed`), `kind`, actor and role, accepted, outcome, the refusal's "
        "reason, detail, `subject` (the command id, the account or the device) and the event "
        "id. Logins and accounts are the network's: their station is the flagship center "
        "(`WS-C`); a key's is its device's. Filter by `what`, `station`, `actor`, `accepted`; "
        "at most `limit` (1000) rows, a period of at most `SANJIANG_MAX_PERIOD_DAYS` (400) "
        "days."
    ),
)
async def get_audit(
    services: ServicesDep,
    caller: Admin,
    from_: FromQuery,
    to: ToQuery,
    what: Annotated[
        AuditWhat | None,
        Query(description="one kind of act: `command`, `login`, `user` or `device`; all if absent"),
    ] = None,
    station: IdQuery = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    accepted: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[dict[str, Any]]:
    period = period_of(from_, to, services.network.tz, services.settings.max_period_days)
    return await asyncio.to_thread(
        audit_trail,
        services.require_warehouse(),
        period,
        what=what,
        station=station,
        actor=actor,
        accepted=accepted,
        limit=limit,
    )
