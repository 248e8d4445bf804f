"""Response shapes of the API (documented in OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    """A request refused as a whole; nothing in it was accepted."""

    error: str = Field(description="Machine-readable code, e.g. `payload_too_large`.")
    detail: str = Field(description="What was wrong, for a person.")


class ItemResultModel(BaseModel):
    index: int = Field(description="Position of the event in the request (0 for a single event).")
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None = None
    reason: str | None = Field(
        default=None,
        description="Why it was rejected: malformed_json, not_an_object, missing_type, "
        "unknown_type, bad_version, unknown_version, upcast_failed, invalid, unknown_station, "
        "forbidden_station, forbidden_source, forbidden_type, from_future, too_old.",
    )
    detail: str | None = None


class IngestResponse(BaseModel):
    """Per-event outcome. Accepted events are in Kafka (acks=all) when this is sent;
    rejected ones are in the dead-letter topic with their reason."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResultModel]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
