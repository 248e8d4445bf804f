"""What a station's kiosk shows, read from the warehouse and folded by the deciders' own
``evolve`` (one definition of what each event does): the station's activities around this
week, and one resident's registrations and demands (by pseudonym; never anyone else's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from projections.demands import demand_status, raw_event
from projections.order import VERSION
from projections.warehouse import Warehouse, ch_datetime
from sanjiang.commands.state import Activity, StationState, evolve
from sanjiang.events import EventError, from_raw
from sanjiang.network import Network
from sanjiang.taxonomy import Taxonomy

ACTIVITY_TYPES = (
    "activity.designed",
    "activity.published",
    "activity.updated",
    "activity.cancelled",
    "activity.places_released",
    "registration.submitted",
    "registration.waitlisted",
    "registration.cancelled",
)
#: activities listed at most, and events folded at most
MAX_ACTIVITIES = 200
MAX_EVENTS = 50_000
#: how far back a resident's registrations and demands are looked up
LOOKBACK_DAYS = 30
#: an activity can be rated this long after it ended
RATE_DAYS = 7

_COLUMNS = """toString(event_id) AS event_id, type, schema_version,
    formatDateTime(occurred_at_us, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS occurred_at,
    station_id, source, resident, payload"""


def _fold(warehouse: Warehouse, station_id: str, activity_ids: list[str]) -> StationState:
    state = StationState(station_id)
    if not activity_ids:
        return state
    rows = warehouse.query(
        f"""SELECT {_COLUMNS} FROM {warehouse.database}.events
        WHERE type IN {{types:Array(String)}} AND station_id = {{station:String}}
          AND activity_id IN {{ids:Array(String)}}
        ORDER BY {VERSION} LIMIT {MAX_EVENTS}""",
        {"types": list(ACTIVITY_TYPES), "station": station_id, "ids": activity_ids},
    ).dicts()
    for row in rows:
        try:
            event = from_raw(raw_event(row))
        except EventError:
            continue
        evolve(state, event)
    return state


def _local(at: datetime | None, tz: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat(timespec="minutes")


def _activity(a: Activity, network: Network, taxonomy: Taxonomy, now: datetime) -> dict[str, Any]:
    tz = network.tz
    venue = next(
        (v for s in network.stations for v in s.venues if v.id == a.venue_id),
        None,
    )
    category = taxonomy.category_by_id.get(a.category)
    return {
        "activity_id": a.activity_id,
        "title": a.title,
        "category": a.category,
        "category_name": category.name if category is not None else a.category,
        "venue_id": a.venue_id,
        "venue_name": venue.name if venue is not None else a.venue_id,
        "starts_at": _local(a.starts_at, tz),
        "ends_at": _local(a.ends_at, tz),
        "capacity": a.capacity,
        "registered": len(a.registered),
        "waitlisted": len(a.waitlist),
        "registration_required": a.registration_required,
        "open": a.ends_at is not None and a.ends_at > now,
    }


def week_activities(
    warehouse: Warehouse, network: Network, taxonomy: Taxonomy, station_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The station's published activities that end from ``RATE_DAYS`` ago (to be rated) up to
    those starting within the next 7 days (to come to), by start."""
    tz = network.tz
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    since, until = today - timedelta(days=RATE_DAYS), today + timedelta(days=8)
    ids = warehouse.query(
        f"""SELECT activity_id FROM {warehouse.database}.events
        WHERE type IN ('activity.published', 'activity.updated')
          AND station_id = {{station:String}} AND starts_at IS NOT NULL
          AND starts_at < {{until:DateTime64(3, 'UTC')}}
          AND ends_at >= {{since:DateTime64(3, 'UTC')}}
        GROUP BY activity_id ORDER BY min(starts_at) LIMIT {MAX_ACTIVITIES}""",
        {"station": station_id, "since": ch_datetime(since), "until": ch_datetime(until)},
    ).dicts()
    state = _fold(warehouse, station_id, [str(row["activity_id"]) for row in ids])
    listed = [
        a
        for a in state.activities.values()
        if a.status == "published"
        and a.starts_at is not None
        and a.ends_at is not None
        and a.starts_at < until
        and a.ends_at >= since
    ]
    listed.sort(key=lambda a: (a.starts_at, a.activity_id))
    return [_activity(a, network, taxonomy, now) for a in listed]


def resident_lookup(
    warehouse: Warehouse,
    network: Network,
    taxonomy: Taxonomy,
    station_id: str,
    resident: str,
    now: datetime,
) -> dict[str, Any]:
    """One resident's registrations and demands at the station over ``LOOKBACK_DAYS``."""
    since = ch_datetime(now - timedelta(days=LOOKBACK_DAYS))
    mine = warehouse.query(
        f"""SELECT registration_id, any(activity_id) AS activity_id
        FROM {warehouse.database}.events
        WHERE type IN ('registration.submitted', 'registration.waitlisted')
          AND station_id = {{station:String}} AND resident = {{resident:String}}
          AND occurred_at >= {{since:DateTime64(3, 'UTC')}}
        GROUP BY registration_id LIMIT 100""",
        {"station": station_id, "resident": resident, "since": since},
    ).dicts()
    state = _fold(warehouse, station_id, sorted({str(r["activity_id"]) for r in mine}))
    registrations: list[dict[str, Any]] = []
    for row in mine:
        activity = state.activities.get(str(row["activity_id"]))
        if activity is None:
            continue
        registration_id = str(row["registration_id"])
        if registration_id in activity.registered:
            status, label, position = "registered", "已报名", None
        elif registration_id in activity.waiting:
            position = activity.waitlist.index(registration_id) + 1
            status, label = "waitlisted", f"候补第 {position} 位"
        else:
            status, label, position = "cancelled", "已取消", None
        if activity.status == "cancelled":
            status, label = "activity_cancelled", "活动已取消"
        registrations.append(
            {
                "registration_id": registration_id,
                "status": status,
                "status_label": label,
                "position": position,
                **_activity(activity, network, taxonomy, now),
            }
        )
    registrations.sort(key=lambda r: r["starts_at"] or "")
    demand_ids = warehouse.query(
        f"""SELECT demand_id FROM {warehouse.database}.events
        WHERE type = 'demand.submitted' AND station_id = {{station:String}}
          AND resident = {{resident:String}} AND occurred_at >= {{since:DateTime64(3, 'UTC')}}
        GROUP BY demand_id ORDER BY max(occurred_at) DESC LIMIT 20""",
        {"station": station_id, "resident": resident, "since": since},
    ).dicts()
    demands = [
        found
        for demand_id in (row["demand_id"] for row in demand_ids)
        if (found := demand_status(warehouse, taxonomy, network.tz, station_id, str(demand_id)))
        is not None
    ]
    return {"registrations": registrations, "demands": demands}
