"""What the staff console reads from the warehouse: a station's week (activities, bookings,
closures), its booking requests, its demand board, and an activity's registrations.

Each answer is the deciders' own fold: the events of the things asked about are read from
the warehouse and applied with ``sanjiang.commands.state.evolve``, so the console shows an
activity, a booking or a demand exactly as the decider that judges the next command sees it
(one definition of what each event does). Every read is bounded: first the ids of what falls
in the window (at most ``MAX_ITEMS`` of each kind), then the events of those ids only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from projections.demands import DEMAND_TYPES, STATUS_LABELS, raw_event
from projections.history import HEAT_HORIZON
from projections.order import REPLAY_ORDER, VERSION
from projections.warehouse import Warehouse, ch_datetime
from sanjiang.commands.state import Activity, Booking, StationState, evolve
from sanjiang.events import EventError, from_raw
from sanjiang.heat import HEAT_TYPES, heat_sql_expression

#: activities, bookings, closures or demands of one answer, at most
MAX_ITEMS = 500
#: events folded for one answer, at most (an activity's registrations and check-ins included)
MAX_EVENTS = 100_000
#: how long before a week the events about its activities, bookings and closures can occur:
#: a series is designed at most 26 weeks ahead, a booking 30 days, and what follows a design
#: (publication, registrations, check-ins) comes after it. Reads are bounded by it, so the
#: engine skips older months.
LOOKBACK = timedelta(days=200)

NEVER_FORGET = datetime(9999, 1, 1, tzinfo=UTC)

ACTIVITY_TYPES = (
    "activity.designed",
    "activity.published",
    "activity.updated",
    "activity.cancelled",
    "activity.places_released",
    "registration.submitted",
    "registration.waitlisted",
    "registration.cancelled",
    "checkin.recorded",
)
BOOKING_TYPES = (
    "booking.requested",
    "booking.confirmed",
    "booking.rejected",
    "booking.cancelled",
    "booking.checked_in",
    "booking.no_show",
)
CLOSURE_TYPES = ("venue.closure_scheduled", "venue.closure_lifted")
ACTIVITY_STATUS = {"draft": "草稿", "published": "已发布", "cancelled": "已取消"}
BOOKING_STATUS = {
    "pending": "待审批",
    "confirmed": "已确认",
    "rejected": "已驳回",
    "cancelled": "已取消",
    "checked_in": "已入场",
    "no_show": "未到场",
}

_EVENT_COLUMNS = """
    toString(event_id) AS event_id, type, schema_version,
    formatDateTime(occurred_at_us, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS at_text,
    station_id, source, resident, payload
"""


def _local(at: datetime | None, tz: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat(timespec="seconds")


def _fold(
    warehouse: Warehouse,
    station_id: str,
    where: str,
    params: dict[str, Any],
    since: datetime | None = None,
) -> StationState:
    """The station's state after the events selected by ``where`` (in the log's order),
    those that occurred from ``since`` on if given (so the engine reads only those months)."""
    bound = "" if since is None else "AND occurred_at >= {since:DateTime64(3,'UTC')} "
    rows = warehouse.query(
        f"SELECT {_EVENT_COLUMNS} FROM {warehouse.database}.events "
        f"WHERE station_id = {{station:String}} {bound}AND ({where}) "
        f"ORDER BY {REPLAY_ORDER} LIMIT {MAX_EVENTS}",
        {
            "station": station_id,
            **params,
            **({} if since is None else {"since": ch_datetime(since)}),
        },
    ).dicts()
    state = StationState(station_id)
    # the deciders forget what is done 30 days after it to stay bounded; the console shows
    # history (a demand answered months ago is still on the board), and each of its folds is
    # bounded by what it asks about: a forgetting time far ahead keeps ``evolve`` from it
    state.forgotten_at = NEVER_FORGET
    for row in rows:
        try:
            event = from_raw(raw_event(row, "at_text"))
        except EventError:
            continue
        evolve(state, event)
    return state


def _ids(
    warehouse: Warehouse, column: str, types: Iterable[str], where: str, params: dict[str, Any]
) -> list[str]:
    rows = warehouse.query(
        f"SELECT DISTINCT {column} AS id FROM {warehouse.database}.events "
        "WHERE type IN {types:Array(String)} AND station_id = {station:String} "
        f"AND {column} != '' AND ({where}) ORDER BY id LIMIT {MAX_ITEMS}",
        {"types": list(types), **params},
    ).dicts()
    return [str(r["id"]) for r in rows]


def _window(start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    return (
        "starts_at < {end:DateTime64(3,'UTC')} AND ends_at > {start:DateTime64(3,'UTC')}",
        {"start": ch_datetime(start), "end": ch_datetime(end)},
    )


def activity_view(activity: Activity, tz: ZoneInfo, people: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "activity_id": activity.activity_id,
        "title": activity.title,
        "category": activity.category,
        "program": activity.program,
        "venue_id": activity.venue_id,
        "starts_at": _local(activity.starts_at, tz),
        "ends_at": _local(activity.ends_at, tz),
        "capacity": activity.capacity,
        "status": activity.status,
        "status_label": ACTIVITY_STATUS[activity.status],
        "version": activity.version,
        "series_id": activity.series_id,
        "registration_required": activity.registration_required,
        "registered": len(activity.registered),
        "waiting": len(activity.waitlist),
        "checked_in": len(activity.checked_in),
        "demand_ids": list(activity.demand_ids),
    }
    if people:
        # pseudonyms are shown shortened: staff recognise a resident by their card, never by
        # the pseudonym, and the full one is of no use to them
        view["registrations"] = [
            {
                "registration_id": r.registration_id,
                "resident": r.resident[:8],
                "checked_in": r.resident in activity.checked_in,
            }
            for r in activity.registered.values()
        ]
        view["waitlist"] = [
            {
                "registration_id": rid,
                "position": i + 1,
                "resident": activity.waiting[rid].resident[:8],
            }
            for i, rid in enumerate(activity.waitlist)
            if rid in activity.waiting
        ]
    return view


def booking_view(booking: Booking, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "booking_id": booking.booking_id,
        "venue_id": booking.venue_id,
        "starts_at": _local(booking.starts_at, tz),
        "ends_at": _local(booking.ends_at, tz),
        "attendees": booking.attendees,
        "status": booking.status,
        "status_label": BOOKING_STATUS[booking.status],
        "version": booking.version,
    }


def station_week(
    warehouse: Warehouse, tz: ZoneInfo, station_id: str, start: date
) -> dict[str, Any]:
    """The seven local days from ``start``: every activity (drafts and cancelled ones too),
    booking and closure of the station overlapping them."""
    lo = datetime.combine(start, time(), tz)
    hi = datetime.combine(start + timedelta(days=7), time(), tz)
    window, params = _window(lo, hi)
    window += " AND occurred_at >= {since:DateTime64(3,'UTC')}"
    params["station"] = station_id
    params["since"] = ch_datetime(lo - LOOKBACK)
    activities = _ids(
        warehouse,
        "activity_id",
        ("activity.designed", "activity.published", "activity.updated"),
        window,
        params,
    )
    bookings = _ids(
        warehouse, "booking_id", ("booking.requested", "booking.confirmed"), window, params
    )
    closures = [
        str(r["id"])
        for r in warehouse.query(
            f"SELECT DISTINCT JSONExtractString(payload, 'closure_id') AS id "
            f"FROM {warehouse.database}.events "
            "WHERE type = 'venue.closure_scheduled' AND station_id = {station:String} "
            f"AND ({window}) ORDER BY id LIMIT {MAX_ITEMS}",
            params,
        ).dicts()
    ]
    state = _fold(
        warehouse,
        station_id,
        "(type IN {atypes:Array(String)} AND activity_id IN {activities:Array(String)}) "
        "OR (type IN {btypes:Array(String)} AND booking_id IN {bookings:Array(String)}) "
        "OR (type IN {ctypes:Array(String)} "
        "    AND JSONExtractString(payload, 'closure_id') IN {closures:Array(String)})",
        {
            "atypes": list(ACTIVITY_TYPES),
            "activities": activities,
            "btypes": list(BOOKING_TYPES),
            "bookings": bookings,
            "ctypes": list(CLOSURE_TYPES),
            "closures": closures,
        },
        since=lo - LOOKBACK,
    )
    return {
        "station_id": station_id,
        "start": start.isoformat(),
        "end": (start + timedelta(days=7)).isoformat(),
        "activities": sorted(
            (activity_view(a, tz) for a in state.activities.values()),
            key=lambda a: (a["starts_at"] or "", a["activity_id"]),
        ),
        "bookings": sorted(
            (booking_view(b, tz) for b in state.bookings.values()),
            key=lambda b: (b["starts_at"], b["booking_id"]),
        ),
        "closures": sorted(
            (
                {
                    "closure_id": c.closure_id,
                    "venue_id": c.venue_id,
                    "starts_at": _local(c.starts_at, tz),
                    "ends_at": _local(c.ends_at, tz),
                    "reason": c.reason,
                }
                for c in state.closures.values()
            ),
            key=lambda c: (c["starts_at"] or "", c["closure_id"]),
        ),
    }


def booking_requests(
    warehouse: Warehouse, tz: ZoneInfo, station_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The station's bookings still awaiting approval that have not ended (soonest first)."""
    ids = _ids(
        warehouse,
        "booking_id",
        ("booking.requested",),
        "ends_at > {now:DateTime64(3,'UTC')} AND occurred_at >= {since:DateTime64(3,'UTC')}",
        {"station": station_id, "now": ch_datetime(now), "since": ch_datetime(now - LOOKBACK)},
    )
    state = _fold(
        warehouse,
        station_id,
        "type IN {btypes:Array(String)} AND booking_id IN {bookings:Array(String)}",
        {"btypes": list(BOOKING_TYPES), "bookings": ids},
        since=now - LOOKBACK,
    )
    pending = [b for b in state.bookings.values() if b.status == "pending"]
    return [booking_view(b, tz) for b in sorted(pending, key=lambda b: (b.starts_at, b.booking_id))]


def activity_detail(
    warehouse: Warehouse, tz: ZoneInfo, station_id: str, activity_id: str
) -> dict[str, Any] | None:
    """One activity with its registrations (pseudonyms shortened), waitlist and check-ins."""
    state = _fold(
        warehouse,
        station_id,
        "type IN {atypes:Array(String)} AND activity_id = {activity:String}",
        {"atypes": list(ACTIVITY_TYPES), "activity": activity_id},
    )
    activity = state.activities.get(activity_id)
    return None if activity is None else activity_view(activity, tz, people=True)


def demand_board(
    warehouse: Warehouse, tz: ZoneInfo, station_id: str, now: datetime, days: int = 180
) -> list[dict[str, Any]]:
    """The station's demands submitted in the last ``days`` days: status, supporters,
    dispatch, answer and linked activities (with titles); open ones first, newest first."""
    ids = _ids(
        warehouse,
        "demand_id",
        ("demand.submitted",),
        "occurred_at >= {since:DateTime64(3,'UTC')}",
        {"station": station_id, "since": ch_datetime(now - timedelta(days=days))},
    )
    state = _fold(
        warehouse,
        station_id,
        "type IN {dtypes:Array(String)} AND demand_id IN {demands:Array(String)}",
        {"dtypes": list(DEMAND_TYPES), "demands": ids},
        since=now - timedelta(days=days),
    )
    linked = sorted({a for d in state.demands.values() for a in d.activity_ids})
    titles = activity_titles(warehouse, station_id, linked)
    board: list[dict[str, Any]] = []
    ordered = sorted(
        state.demands.values(), key=lambda d: (d.status == "closed", -d.submitted_at.timestamp())
    )
    for d in ordered:
        board.append(
            {
                "demand_id": d.demand_id,
                "category": d.category,
                "summary": d.summary,
                "submitted_at": _local(d.submitted_at, tz),
                "status": d.status,
                "status_label": STATUS_LABELS[d.status],
                "supporters": len(d.voters),
                "version": d.version,
                "dispatch": None
                if d.dispatch is None
                else {
                    "unit": d.dispatch.unit,
                    "due_at": _local(d.dispatch.due_at, tz),
                    "overdue": d.dispatch.overdue,
                },
                "answer": d.answer,
                "activities": [
                    {"activity_id": a, "title": titles.get(a, a)} for a in d.activity_ids
                ],
            }
        )
    return board


def activity_titles(
    warehouse: Warehouse, station_id: str, activity_ids: list[str]
) -> dict[str, str]:
    """The latest title of each of the station's activities named (drafts included)."""
    if not activity_ids:
        return {}
    rows = warehouse.query(
        "SELECT activity_id, argMax(JSONExtractString(payload, 'title'), "
        f"{VERSION}) AS title "
        f"FROM {warehouse.database}.events "
        "WHERE type IN ('activity.designed', 'activity.published', 'activity.updated') "
        "AND station_id = {station:String} AND activity_id IN {ids:Array(String)} "
        "AND JSONExtractString(payload, 'title') != '' GROUP BY activity_id",
        {"station": station_id, "ids": activity_ids[:MAX_ITEMS]},
    ).dicts()
    return {str(r["activity_id"]): str(r["title"]) for r in rows}


def registrant(
    warehouse: Warehouse, station_id: str, activity_id: str, registration_id: str
) -> str | None:
    """The pseudonym of the resident holding ``registration_id`` at the activity (placed or
    waiting), or None: how the check-in desk checks in a registered resident who brought no
    card, without anyone typing an identifier."""
    state = _fold(
        warehouse,
        station_id,
        "type IN {atypes:Array(String)} AND activity_id = {activity:String}",
        {"atypes": list(ACTIVITY_TYPES), "activity": activity_id},
    )
    activity = state.activities.get(activity_id)
    if activity is None:
        return None
    who = activity.registered.get(registration_id) or activity.waiting.get(registration_id)
    return who.resident if who is not None and who.resident else None


def station_heat(
    warehouse: Warehouse, station_id: str, at: datetime, limit: int = 10
) -> dict[str, Any]:
    """The station's heat (热度) at ``at`` and its hottest activities with their titles, by
    the one definition of heat (``sanjiang.heat``) the screen and the history use."""
    db = warehouse.database
    params = {
        "types": list(HEAT_TYPES),
        "since": ch_datetime(at - HEAT_HORIZON),
        "at": ch_datetime(at),
        "station": station_id,
    }
    window = (
        "type IN {types:Array(String)} AND station_id = {station:String} "
        "AND occurred_at > {since:DateTime64(3,'UTC')} AND occurred_at <= {at:DateTime64(3,'UTC')}"
    )
    total = warehouse.query(
        f"SELECT round({heat_sql_expression()}, 3) AS heat FROM {db}.events WHERE {window}",
        params,
    ).dicts()
    rows = warehouse.query(
        f"SELECT activity_id, round({heat_sql_expression()}, 3) AS heat FROM {db}.events "
        f"WHERE {window} AND activity_id != '' GROUP BY activity_id "
        f"ORDER BY heat DESC, activity_id LIMIT {int(limit)}",
        params,
    ).dicts()
    titles = activity_titles(warehouse, station_id, [str(r["activity_id"]) for r in rows])
    return {
        "station": float(total[0]["heat"] or 0) if total else 0.0,
        "activities": [
            {
                "activity_id": r["activity_id"],
                "title": titles.get(str(r["activity_id"]), r["activity_id"]),
                "heat": float(r["heat"]),
            }
            for r in rows
        ],
    }
