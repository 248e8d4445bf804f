"""``POST /v1/sql``: read-only SQL for analysts over the warehouse."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import PrincipalDep, ServicesDep
from api.errors import api_error
from api.schemas import ErrorResponse
from projections.analyst import Limits, OutputFormat, run_analyst_query
from projections.warehouse import WarehouseError

router = APIRouter(tags=["analysts"])


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT statement.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Values for `{name:Type}` placeholders, bound server-side.",
    )
    format: OutputFormat = "json"
    max_rows: int = Field(default=10_000, ge=1, le=1_000_000)


@router.post(
    "/v1/sql",
    summary="Run a read-only query (analysts)",
    description=(
        "Needs an analyst or console key. The warehouse runs the statement with `readonly=1`, "
        "so writes, DDL and settings changes are refused by the engine; it is stopped past "
        "the time, row or memory limit. Output: `json` (JSONCompact), `csv` (with names) or "
        "`arrow` (Arrow IPC stream). Tables: `sanjiang.events`, `rollup_hourly`, "
        "`rollup_daily`, `activity_state`, `booking_state`, `registration_state`, `stations`, "
        "`venues`, `venue_hours`, `categories`."
    ),
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "application/vnd.apache.arrow.stream": {},
            }
        },
        400: {"model": ErrorResponse, "description": "The warehouse refused the query."},
        403: {"model": ErrorResponse, "description": "Not an analyst or console key."},
    },
)
async def post_sql(request: SqlRequest, principal: PrincipalDep, services: ServicesDep) -> Response:
    if principal.kind not in ("analyst", "console"):
        raise api_error(status.HTTP_403_FORBIDDEN, "forbidden", "analyst SQL needs an analyst key")
    settings = services.settings
    limits = Limits(
        max_rows=min(request.max_rows, settings.analyst_max_rows),
        max_seconds=settings.analyst_max_seconds,
        max_memory_bytes=settings.analyst_max_memory_bytes,
    )
    try:
        body, content_type = await asyncio.to_thread(
            run_analyst_query,
            services.require_warehouse(),
            request.sql,
            request.params,
            request.format,
            limits,
        )
    except WarehouseError as exc:
        raise api_error(status.HTTP_400_BAD_REQUEST, "query_refused", str(exc)) from None
    return Response(body, media_type=content_type)
