"""``GET /v1/live/...``: what is happening now (from the stream worker), and an SSE stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from api.access.deps import Reader, require_network, require_station
from api.access.roles import Caller
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED
from api.schemas import ErrorResponse
from sanjiang import metrics

router = APIRouter(tags=["live"], responses=PROTECTED)
VIEWS = ("network", "venues", "kiosks", "activities", "pipeline", "alerts", "processes")
STATION_VIEW = "station:"
DAY_VIEW = "day:"  #: ``day:<date>`` (the network's) and ``day:<date>:<station>``


def _view(services: ServicesDep, name: str) -> dict[str, Any]:
    document = services.live.views.get(name)
    if document is None:
        raise api_error(
            status.HTTP_404_NOT_FOUND,
            "no_live_view",
            f"no live view {name!r} yet (is the stream worker running? `sanjiang streams`)",
        )
    return document


def visible(caller: Caller, view: str) -> bool:
    """Whether a caller may see a live view: a station's (``station:<id>``, a day of it
    ``day:<date>:<id>``) needs that station, the rest the whole network."""
    if view.startswith(STATION_VIEW):
        return caller.sees(view.removeprefix(STATION_VIEW))
    if view.startswith(DAY_VIEW) and view.count(":") == 2:
        return caller.sees(view.rsplit(":", 1)[1])
    return caller.sees_network


@router.get(
    "/v1/live/stations/{station_id}",
    summary="Today at one station",
    description=(
        "Its counters today and `kpis`, its four KPIs today (see `/v1/live/kpis`). Needs a "
        "credential that sees the station."
    ),
    responses={404: {"model": ErrorResponse}},
)
async def live_station(
    station_id: Annotated[str, Path(max_length=64)], services: ServicesDep, caller: Reader
) -> dict[str, Any]:
    if station_id not in services.network.by_id:
        raise api_error(status.HTTP_404_NOT_FOUND, "unknown_station", f"no station {station_id!r}")
    require_station(caller, station_id)
    return _view(services, f"{STATION_VIEW}{station_id}")


@router.get(
    "/v1/live/kpis",
    summary="The four KPIs of today and the days before, live, for the network or a station",
    description=(
        "From the stream worker's views: 场馆使用率 `venue_utilization`, 项目精准率 "
        "`project_precision` (with the fill rate), 居民参与率 `resident_participation` and "
        "服务满意率 `service_satisfaction`, each with its `value` (null when its denominator "
        "is zero), the counts behind it and `provisional`: true while the day's window still "
        "takes late events (`SANJIANG_LIVE_GRACE_H` after the day ends, `final_at`), final "
        "after. Today first, then up to `days` days before it, newest first: only the days "
        "the live fold keeps (`SANJIANG_LIVE_DAYS_KEPT`); for others ask `GET /v1/kpis` (the "
        "warehouse). Without `station`, the whole network (a credential that sees it); with "
        "it, one station (a credential that sees that station)."
    ),
    responses={404: {"model": ErrorResponse}},
)
async def live_kpis(
    services: ServicesDep,
    caller: Reader,
    station: Annotated[str | None, Query(max_length=64, description="a station id")] = None,
    days: Annotated[int, Query(ge=0, le=62, description="days before today")] = 7,
) -> dict[str, Any]:
    if station is None:
        require_network(caller)
    else:
        if station not in services.network.by_id:
            raise api_error(status.HTTP_404_NOT_FOUND, "unknown_station", f"no station {station!r}")
        require_station(caller, station)
    views = services.live.views
    today = views.get("network" if station is None else f"{STATION_VIEW}{station}")
    if today is None or "kpis" not in today:
        raise api_error(
            status.HTTP_404_NOT_FOUND,
            "no_live_view",
            "no live KPIs yet (is the stream worker running? `sanjiang streams`)",
        )
    found = [today["kpis"]]
    first = date.fromisoformat(today["kpis"]["day"])
    for back in range(1, days + 1):
        day = (first - timedelta(days=back)).isoformat()
        document = views.get(f"{DAY_VIEW}{day}" + ("" if station is None else f":{station}"))
        if document is not None and "kpis" in document:
            found.append(document["kpis"])
    return {
        "scope": "network" if station is None else "station",
        "station_id": station,
        "as_of": today.get("as_of"),
        "days": found,
    }


@router.get(
    "/v1/live/stream",
    summary="Server-sent events: every change of every live view the caller may see",
    responses={429: {"model": ErrorResponse, "description": "Too many open streams."}},
    description=(
        "Each event has `id` (a sequence number), `event: <view name>` and the view's JSON as "
        "`data`. Reconnect with `Last-Event-ID` to continue after the last change you saw; if "
        "that is too old, the current state of every view is sent first. A caller scoped to "
        "stations gets those stations' views only. A credential holds at most "
        "`SANJIANG_SSE_PER_CALLER` (10) streams open at once."
    ),
    response_class=StreamingResponse,
)
async def live_stream(
    request: Request,
    services: ServicesDep,
    caller: Reader,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else -1
    settings, open_streams = services.settings, services.streams
    holder = f"{caller.kind}:{caller.name}"
    if (
        open_streams.get(holder, 0) >= settings.sse_per_caller
        or sum(open_streams.values()) >= settings.sse_total
    ):
        raise api_error(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too_many_streams",
            f"at most {settings.sse_per_caller} live streams per credential "
            f"({settings.sse_total} in all); close one first",
            {"Retry-After": "5"},
        )
    open_streams[holder] = open_streams.get(holder, 0) + 1
    metrics.SSE_CLIENTS.inc()

    async def events() -> AsyncIterator[bytes]:
        try:
            async for chunk in _changes(start):
                yield chunk
        finally:  # the client went away or the server stops
            metrics.SSE_CLIENTS.dec()
            open_streams[holder] -= 1
            if not open_streams[holder]:
                del open_streams[holder]

    async def _changes(start: int) -> AsyncIterator[bytes]:
        seq = start
        if seq < 0:  # a new client: the current state first
            for name, document in list(services.live.views.items()):
                if visible(caller, name):
                    yield _sse(services.live.seq, name, document)
            seq = services.live.seq
        yield b": connected\n\n"
        while not await request.is_disconnected():
            changes = await services.live.changes_after(seq, timeout_s=15)
            if not changes:
                yield b": keep-alive\n\n"
                continue
            for number, name, body in changes:
                seq = max(seq, number)
                if visible(caller, name):
                    yield f"id: {number}\nevent: {name}\ndata: ".encode() + body + b"\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/v1/live/{view}",
    summary="A live view: network, venues, kiosks, activities, pipeline, alerts or processes",
    description=(
        "The whole network (a credential that sees it). "
        "`network`: today's counters (check-ins, distinct residents, bookings, registrations, "
        "evaluations and satisfaction) and `kpis`, today's four KPIs (see `/v1/live/kpis`); "
        "`venues`: occupancy now per venue and per station, "
        "and venues over capacity; "
        "`kiosks`: offline kiosks; `activities`: hottest activities and heat by station and "
        "category; `pipeline`: events "
        "applied, too-late and undecodable events, the stream's watermark, the worker's lag, "
        "its last checkpoint and the one it started from, and events rejected today by "
        "reason; `alerts`: open alerts, each with "
        "severity, scope, reason (and a Chinese `display` text) and start; `processes`: the "
        "processes `sanjiang up` supervises, each running, restarting or given up on, with "
        "its restarts and last exit."
    ),
    responses={404: {"model": ErrorResponse}},
)
async def live_view(
    view: Annotated[str, Path(max_length=32)], services: ServicesDep, caller: Reader
) -> dict[str, Any]:
    if view not in VIEWS:
        raise api_error(status.HTTP_404_NOT_FOUND, "unknown_view", f"views: {', '.join(VIEWS)}")
    require_network(caller)
    return _view(services, view)


def _sse(number: int, name: str, document: dict[str, Any]) -> bytes:
    return f"id: {number}\nevent: {name}\ndata: ".encode() + orjson.dumps(document) + b"\n\n"
