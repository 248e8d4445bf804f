"""``POST /v1/sql``: one read-only SELECT for analysts over the warehouse."""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.access.deps import Analyst
from api.deps import ServicesDep
from api.errors import api_error
from api.params import PROTECTED
from api.schemas import ErrorResponse
from projections.analyst import Limits, OutputFormat, QueryRefusedError, run_analyst_query
from projections.warehouse import WarehouseError

router = APIRouter(tags=["analysts"], responses=PROTECTED)

#: parameter values: scalars or flat lists of scalars, bounded
ParamValue = str | int | float | bool | None | list[str | int | float | bool | None]


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT statement.")
    params: dict[str, ParamValue] = Field(
        default_factory=dict,
        max_length=100,
        description="Values for `{name:Type}` placeholders, bound by the engine.",
    )
    format: OutputFormat = "json"
    max_rows: int = Field(default=10_000, ge=1, le=1_000_000)


@router.post(
    "/v1/sql",
    summary="Run a read-only query (analysts)",
    description=(
        "Needs an analyst key or a staff account with the analyst role. The statement must be "
        "one SELECT as ClickHouse's own parser reads it (`UNION`, `WITH`, subqueries and the "
        "generating table functions `numbers`, `values`, … allowed; no `INTO OUTFILE`, `FORMAT` "
        "or `SETTINGS`, no table functions or functions that reach files, URLs, other servers "
        "or programs; tables of the warehouse and a few `system` tables). It runs in a "
        "read-only session whose limits — time, rows, result bytes, memory — were fixed before "
        "it was seen. Output: `json` (JSONCompact), `csv` (with names) or `arrow` (Arrow IPC "
        "stream). Tables: `events`, `rollup_hourly`, `rollup_daily`, `rollup_station_daily`, "
        "`activity_state`, `booking_state`, `registration_state`, `stations`, `venues`, "
        "`venue_hours`, `categories` (database `sanjiang`). **400** names why a statement was "
        "refused: `not_a_select`, `syntax_error`, `clause_not_allowed`, "
        "`table_function_not_allowed`, `function_not_allowed`, `table_not_allowed`, "
        "`not_checkable` (the parser gives no tree of it, e.g. INSERT with data), or "
        "`query_failed` (the engine stopped it: read-only, a limit)."
    ),
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "application/vnd.apache.arrow.stream": {},
            }
        },
        400: {"model": ErrorResponse, "description": "The statement was refused; see `error`."},
        429: {"model": ErrorResponse, "description": "Too many analyst queries at once."},
    },
)
async def post_sql(request: SqlRequest, caller: Analyst, services: ServicesDep) -> Response:
    settings = services.settings
    limits = Limits(
        max_rows=min(request.max_rows, settings.analyst_max_rows),
        max_seconds=settings.analyst_max_seconds,
        max_memory_bytes=settings.analyst_max_memory_bytes,
        max_result_bytes=settings.analyst_max_result_bytes,
    )
    slots = services.analyst_slots
    if slots.locked():
        raise api_error(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "busy",
            f"{settings.analyst_max_concurrent} analyst queries are running; retry shortly",
            {"Retry-After": str(max(1, math.ceil(settings.analyst_max_seconds)))},
        )
    async with slots:
        try:
            body, content_type = await asyncio.to_thread(
                run_analyst_query,
                services.require_warehouse(),
                request.sql,
                dict(request.params),
                request.format,
                limits,
            )
        except QueryRefusedError as exc:
            raise api_error(status.HTTP_400_BAD_REQUEST, exc.reason, str(exc)) from None
        except WarehouseError as exc:
            raise api_error(status.HTTP_400_BAD_REQUEST, "query_failed", str(exc)) from None
    return Response(body, media_type=content_type)
