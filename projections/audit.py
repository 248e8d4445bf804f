"""The audit trail, newest first: every command the deciders answered (``command.decided``),
every staff login let in or refused (``login.attempted``), every change of a staff account
(``user.changed``) and of a device key (``device_key.changed``): who did it, with what role, at
which station, and the outcome.

One row shape for all (``what`` says which):

- ``command``: ``kind`` the command's kind; ``actor``/``role`` who asked; ``accepted``;
  ``outcome`` ``done``, ``waitlisted``, ``pending`` or ``rejected``; ``reason`` and ``detail``
  the rejection's; ``subject`` and ``command_id`` the command's id.
- ``login``: ``kind`` ``login.token`` or ``login.page``; ``actor`` the name tried (empty if it
  could not be a username), ``role`` its account's; ``accepted`` let in; ``outcome``
  ``succeeded`` or ``refused``; ``reason`` the refusal's; ``detail`` the client's address and
  more; ``subject`` the name tried.
- ``user`` / ``device``: ``kind`` ``user.<change>`` / ``device_key.<change>``; ``actor`` who
  made it (``cli:<OS user>``), ``role`` empty from the command line; ``accepted`` true (only
  changes made are recorded); ``outcome`` the change; ``detail`` why (``--reason``);
  ``subject`` the account / ``<kind>:<device id>``.
"""

from __future__ import annotations

from typing import Any, Literal

from projections.kpi import Period
from projections.warehouse import Warehouse, ch_datetime

AuditWhat = Literal["command", "login", "user", "device"]
#: what kind of act -> its event type
EVENT_TYPE_OF: dict[AuditWhat, str] = {
    "command": "command.decided",
    "login": "login.attempted",
    "user": "user.changed",
    "device": "device_key.changed",
}

#: accepted: a command accepted, a login let in; a change (recorded only once made) always
_ACCEPTED = (
    "if(type IN ('command.decided', 'login.attempted'), JSONExtractBool(payload, 'accepted'), true)"
)


def audit_trail(
    warehouse: Warehouse,
    period: Period,
    *,
    what: AuditWhat | None = None,
    station: str | None = None,
    actor: str | None = None,
    accepted: bool | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Audited acts in ``period`` (by when they happened), newest first: of one kind
    (``what``), or all."""
    filters = [
        "type IN {types:Array(String)}",
        "occurred_at >= {start:DateTime64(3,'UTC')}",
        "occurred_at < {end:DateTime64(3,'UTC')}",
    ]
    params: dict[str, Any] = {
        "types": list(EVENT_TYPE_OF.values()) if what is None else [EVENT_TYPE_OF[what]],
        "start": ch_datetime(period.start),
        "end": ch_datetime(period.end),
        "limit": limit,
    }
    if station is not None:
        filters.append("station_id = {station:String}")
        params["station"] = station
    if actor is not None:
        filters.append("JSONExtractString(payload, 'actor') = {actor:String}")
        params["actor"] = actor
    if accepted is not None:
        # acts that are not refused (changes) are accepted: only true ones are recorded
        filters.append(f"{_ACCEPTED} = {{accepted:Bool}}")
        params["accepted"] = accepted
    sql = f"""
        SELECT
            concat(formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S', 'Asia/Shanghai'), '+08:00')
                AS at,
            station_id AS station,
            multiIf(
                type = 'command.decided', 'command',
                type = 'login.attempted', 'login',
                type = 'user.changed', 'user',
                'device'
            ) AS what,
            multiIf(
                type = 'command.decided', JSONExtractString(payload, 'kind'),
                type = 'login.attempted', concat('login.', JSONExtractString(payload, 'via')),
                type = 'user.changed', concat('user.', JSONExtractString(payload, 'change')),
                concat('device_key.', JSONExtractString(payload, 'change'))
            ) AS kind,
            JSONExtractString(payload, 'actor') AS actor,
            JSONExtractString(payload, 'role') AS role,
            {_ACCEPTED} AS accepted,
            multiIf(
                type = 'command.decided',
                    if(JSONExtractBool(payload, 'accepted'),
                       if(JSONExtractString(payload, 'outcome') = '', 'done',
                          JSONExtractString(payload, 'outcome')),
                       'rejected'),
                type = 'login.attempted',
                    if(JSONExtractBool(payload, 'accepted'), 'succeeded', 'refused'),
                JSONExtractString(payload, 'change')
            ) AS outcome,
            JSONExtractString(payload, 'reason') AS reason,
            multiIf(
                type = 'command.decided', JSONExtractString(payload, 'detail'),
                type = 'login.attempted', concat(
                    'from ', JSONExtractString(payload, 'address'),
                    if(JSONExtractString(payload, 'detail') = '', '',
                       concat('; ', JSONExtractString(payload, 'detail'))),
                    if(JSONExtractUInt(payload, 'repeated') = 0, '',
                       concat('; ', toString(JSONExtractUInt(payload, 'repeated')),
                              ' more refused from this address since the last record'))
                ),
                JSONExtractString(payload, 'note')
            ) AS detail,
            multiIf(
                type = 'command.decided', JSONExtractString(payload, 'command_id'),
                type = 'login.attempted', JSONExtractString(payload, 'actor'),
                type = 'user.changed', JSONExtractString(payload, 'username'),
                concat(JSONExtractString(payload, 'kind'), ':',
                       JSONExtractString(payload, 'device_id'))
            ) AS subject,
            JSONExtractString(payload, 'command_id') AS command_id,
            toString(event_id) AS event_id
        FROM {warehouse.database}.events
        WHERE {" AND ".join(filters)}
        ORDER BY occurred_at_us DESC, toString(event_id) DESC
        LIMIT {{limit:UInt32}}
    """
    return warehouse.query(sql, params).dicts()
