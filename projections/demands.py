"""A demand's status, for the resident who follows it and the staff who handle it.

Its events are read from the warehouse and folded by the deciders' own ``evolve`` (one
definition of what each event does to a demand); the answer says where the demand stands, in
machine codes and in Chinese, with its history. Who submitted or voted is never shown: only
how many support it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from projections.order import VERSION
from projections.warehouse import Warehouse
from sanjiang.commands.state import StationState, evolve
from sanjiang.events import EventError, from_raw
from sanjiang.taxonomy import Taxonomy

DEMAND_TYPES = (
    "demand.submitted",
    "demand.voted",
    "demand.accepted",
    "demand.dispatched",
    "demand.overdue",
    "demand.answered",
    "demand.linked",
    "demand.closed",
)
STATUS_LABELS = {
    "submitted": "已提交",
    "accepted": "已受理",
    "dispatched": "已派单",
    "answered": "已答复",
    "closed": "已办结",
}
EVENT_LABELS = {
    "demand.submitted": "居民提交需求",
    "demand.voted": "居民附议",
    "demand.accepted": "受理",
    "demand.dispatched": "派单",
    "demand.overdue": "派单逾期",
    "demand.answered": "答复",
    "demand.linked": "关联活动",
    "demand.closed": "办结",
}
#: events of one demand read at most (votes included)
MAX_EVENTS = 20_000


def demand_status(
    warehouse: Warehouse, taxonomy: Taxonomy, tz: ZoneInfo, station_id: str, demand_id: str
) -> dict[str, Any] | None:
    """Where the demand stands, or None if the station has no such demand."""
    sql = f"""
        SELECT toString(event_id) AS event_id, type, schema_version,
               formatDateTime(occurred_at_us, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS occurred_at,
               station_id, source, resident, payload
        FROM {warehouse.database}.events
        WHERE type IN {{types:Array(String)}}
          AND station_id = {{station:String}}
          AND demand_id = {{demand:String}}
        ORDER BY {VERSION}
        LIMIT {MAX_EVENTS}
    """
    rows = warehouse.query(
        sql, {"types": list(DEMAND_TYPES), "station": station_id, "demand": demand_id}
    ).dicts()
    state = StationState(station_id)
    history: list[dict[str, str]] = []
    for row in rows:
        try:
            event = from_raw(raw_event(row))
        except EventError:
            continue
        evolve(state, event)
        if event.type != "demand.voted":
            history.append(
                {
                    "at": _local(event.occurred_at, tz),
                    "event": event.type,
                    "label": EVENT_LABELS[event.type],
                }
            )
    demand = state.demands.get(demand_id)
    if demand is None:
        return None
    category = taxonomy.category_by_id.get(demand.category)
    dispatch = demand.dispatch
    return {
        "demand_id": demand.demand_id,
        "station_id": station_id,
        "category": demand.category,
        "category_name": category.name if category is not None else demand.category,
        "summary": demand.summary,
        "submitted_at": _local(demand.submitted_at, tz),
        "status": demand.status,
        "status_label": STATUS_LABELS[demand.status],
        "supporters": len(demand.voters),
        "dispatch": None
        if dispatch is None
        else {
            "unit": dispatch.unit,
            "due_at": _local(dispatch.due_at, tz),
            "overdue": dispatch.overdue,
        },
        "answer": demand.answer,
        "activity_ids": list(demand.activity_ids),
        "version": demand.version,
        "history": history,
    }


def raw_event(row: dict[str, Any], occurred_at: str = "occurred_at") -> dict[str, Any]:
    """An event as the catalog reads it (``from_raw``), from a row of the ``events`` table
    selected with its time as text in the column ``occurred_at``."""
    return {
        "event_id": row["event_id"],
        "type": row["type"],
        "schema_version": int(row["schema_version"]),
        "occurred_at": row[occurred_at],
        "station_id": row["station_id"],
        "source": row["source"],
        "resident": row["resident"] or None,
        "payload": orjson.loads(row["payload"]),
    }


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).isoformat(timespec="seconds")
