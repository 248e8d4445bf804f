"""``POST /v1/events``: devices send one event, a JSON array, or NDJSON."""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from api.access.deps import DeviceDep
from api.deps import ServicesDep
from api.errors import api_error
from api.ingest import FORBIDDEN_REASONS, ItemResult, PartlyStoredError
from api.keys import Principal
from api.schemas import ErrorResponse, IngestResponse
from api.services import Services
from sanjiang import metrics
from sanjiang.events import EventError

router = APIRouter(tags=["ingest"])

NDJSON = "application/x-ndjson"
_EVENT_REF = {"$ref": "#/components/schemas/Event"}
_INGEST_OR_ERROR = {
    "oneOf": [
        {"$ref": "#/components/schemas/IngestResponse"},
        {"$ref": "#/components/schemas/ErrorResponse"},
    ]
}

INGEST_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One event (JSON object), a batch (JSON array), or a batch as NDJSON "
        "(one event per line). Events follow the catalog (`sanjiang schema export`).",
        "content": {
            "application/json": {
                "schema": {"oneOf": [_EVENT_REF, {"type": "array", "items": _EVENT_REF}]}
            },
            NDJSON: {"schema": {"type": "string", "description": "one JSON event per line"}},
        },
    }
}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) past ``limit`` bytes, counted as they arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # chunked bodies have no Content-Length to trust
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Exception:
    return api_error(
        status.HTTP_413_CONTENT_TOO_LARGE,
        "payload_too_large",
        f"the body is over {limit} bytes; send smaller batches",
    )


def parse_items(body: bytes, content_type: str) -> tuple[list[Any], bool]:
    """Split a body into items; returns (items, is_single_event)."""
    if content_type.split(";")[0].strip().lower() == NDJSON:
        items: list[Any] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                items.append(EventError("malformed_json", f"not valid JSON: {exc}", line))
        return items, False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise api_error(
            status.HTTP_400_BAD_REQUEST, "malformed_json", f"not valid JSON: {exc}"
        ) from None
    if isinstance(parsed, list):
        return parsed, False
    if isinstance(parsed, dict):
        return [parsed], True
    raise api_error(
        status.HTTP_400_BAD_REQUEST,
        "not_an_object",
        "send a JSON object (one event) or an array of events",
    )


@router.post(
    "/v1/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResponse,
    summary="Send events from a kiosk or console",
    description=(
        "Authenticated with the device's key (`Authorization: Bearer <key>`); a key may only "
        "emit for its own station and as its own `source`. The answer comes after Kafka "
        "acknowledged every accepted event. **202**: every event accepted or a duplicate, or a "
        "batch in which at least one was accepted (see `results` for rejections). "
        "**400**: nothing accepted (malformed body or every event invalid). **403**: a single "
        "event (or every event) not this key's to send. Rejected events go to the dead-letter "
        "topic with their reason. Duplicates (same `event_id`) are accepted once. Events more "
        "than the clock-skew bound in the future or older than the late-upload window are "
        "rejected; older than the late threshold they are accepted and flagged `late`."
    ),
    responses={
        400: {
            "description": "Nothing accepted: every event was rejected (`IngestResponse`, see "
            "`results`), or the body was not events at all (`ErrorResponse`).",
            "content": {"application/json": {"schema": _INGEST_OR_ERROR}},
        },
        401: {"model": ErrorResponse, "description": "Missing, unknown or revoked key."},
        403: {
            "description": "Every event was not this key's station, source or type "
            "(`IngestResponse`), or the credential may not send events (`ErrorResponse`).",
            "content": {"application/json": {"schema": _INGEST_OR_ERROR}},
        },
        413: {"model": ErrorResponse, "description": "Body or batch too large."},
        429: {"model": ErrorResponse, "description": "Over this key's rate; see Retry-After."},
        503: {
            "model": ErrorResponse,
            "description": "Kafka did not store every accepted event (the detail says how many "
            "were); retry the same request: stored events come back as duplicates.",
        },
    },
    openapi_extra=INGEST_OPENAPI,
)
async def post_events(request: Request, principal: DeviceDep, services: ServicesDep) -> Response:
    try:
        answer = await _post_events(request, principal, services)
    except HTTPException as exc:
        error = exc.detail.get("error", "") if isinstance(exc.detail, dict) else ""
        metrics.INGEST_REQUESTS.labels(str(exc.status_code), error).inc()
        raise
    metrics.INGEST_REQUESTS.labels(str(answer.status_code), "").inc()
    return answer


async def _post_events(request: Request, principal: Principal, services: Services) -> Response:
    settings = services.settings
    body = await read_body(request, settings.ingest_max_body_bytes)
    items, _single = parse_items(body, request.headers.get("content-type", "application/json"))
    if not items:
        raise api_error(status.HTTP_400_BAD_REQUEST, "empty", "no events in the request")
    if len(items) > settings.ingest_max_batch:
        raise api_error(
            status.HTTP_413_CONTENT_TOO_LARGE,
            "batch_too_large",
            f"{len(items)} events in one request; at most {settings.ingest_max_batch}",
        )
    wait = services.limiter.take(principal.source, len(items))
    if wait is not None:
        raise api_error(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "rate_limited",
            f"over {settings.ingest_rate_per_key:g} events/s for this key; retry in {wait:.1f}s",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )
    try:
        results = await services.ingestor.ingest(principal, items)
    except PartlyStoredError as exc:
        stored = "none was" if exc.stored == 0 else f"{exc.stored} of {exc.accepted} were"
        raise api_error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "kafka_unavailable",
            f"the events could not all be stored ({type(exc.error).__name__}): {stored} "
            "stored; retry the same request, and those already stored are answered as "
            "duplicates",
            {"Retry-After": "5"},
        ) from exc
    return Response(
        orjson.dumps(_summary(results)),
        status_code=_status_for(results),
        media_type="application/json",
    )


def _status_for(results: list[ItemResult]) -> int:
    if any(r.status != "rejected" for r in results):
        return status.HTTP_202_ACCEPTED
    if all(r.reason in FORBIDDEN_REASONS for r in results):
        return status.HTTP_403_FORBIDDEN
    return status.HTTP_400_BAD_REQUEST


def _summary(results: list[ItemResult]) -> dict[str, Any]:
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for r in results:
        counts[r.status] += 1
    return {
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "results": [
            {k: v for k, v in r.__dict__.items() if v is not None or k == "event_id"}
            for r in results
        ],
    }
