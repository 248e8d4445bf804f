"""The audit trail: every command the deciders answered (``command.decided`` events), newest
first, with who asked, what, and the answer."""

from __future__ import annotations

from typing import Any

from projections.kpi import Period
from projections.warehouse import Warehouse, ch_datetime


def audit_trail(
    warehouse: Warehouse,
    period: Period,
    *,
    station: str | None = None,
    actor: str | None = None,
    accepted: bool | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Decided commands in ``period`` (by when they were asked), newest first."""
    filters = [
        "type = 'command.decided'",
        "occurred_at >= {start:DateTime64(3,'UTC')}",
        "occurred_at < {end:DateTime64(3,'UTC')}",
    ]
    params: dict[str, Any] = {
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
        filters.append("JSONExtractBool(payload, 'accepted') = {accepted:Bool}")
        params["accepted"] = accepted
    sql = f"""
        SELECT
            concat(formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S', 'Asia/Shanghai'), '+08:00')
                AS at,
            station_id AS station,
            JSONExtractString(payload, 'command_id') AS command_id,
            JSONExtractString(payload, 'kind') AS kind,
            JSONExtractString(payload, 'actor') AS actor,
            JSONExtractString(payload, 'role') AS role,
            JSONExtractBool(payload, 'accepted') AS accepted,
            JSONExtractString(payload, 'reason') AS reason,
            JSONExtractString(payload, 'detail') AS detail,
            toString(event_id) AS event_id
        FROM {warehouse.database}.events
        WHERE {" AND ".join(filters)}
        ORDER BY occurred_at DESC, event_id DESC
        LIMIT {{limit:UInt32}}
    """
    return warehouse.query(sql, params).dicts()
