"""A ``<prefix>.deadletter`` record: why an event was rejected (its headers) and what is kept of
the rejected body to diagnose it (its value, :func:`redact`).

Written by ``EventPublisher.dead_letter``; read by the stream worker's rejection counts
(``streams.rejections``) and the ops sink (``projections.ops_sink``). One definition of the
headers, for all three.

Dead letters keep only what is needed to tell why an event was refused, not what a resident
wrote: a rejected body can hold a name or a phone number in any field, and dead letters are
read by operators and kept for weeks. So the value is the body's *shape*: its keys, numbers and
booleans, and the strings of the envelope and id fields when they look like ids, codes or
times; any other string becomes ``"<redacted: N chars>"``. A body that is not JSON keeps only
its size and a hash (to match it against the sender's own copy); one whose shape is still
large keeps its top-level keys. The value is at most :data:`BODY_LIMIT` bytes, so a rejected
item can never be too large for the broker, whatever was sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

#: longest ``detail`` kept (a validation error can list every field of a large payload)
DETAIL_LIMIT = 2000
#: largest dead-letter value, in bytes (the redacted shape of the rejected body)
BODY_LIMIT = 4096
#: fields whose strings are kept when they look like an id, a code or a time
KEPT_FIELDS = frozenset(
    {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "received_at",
        "station_id",
        "source",
        "category",
        "program",
        "age_band",
        "starts_at",
        "ends_at",
        "status",
        "kind",
        "channel",
        "target_groups",
        # the catalog's ids
        "activity_id",
        "booking_id",
        "demand_id",
        "kiosk_id",
        "registration_id",
        "venue_id",
        "visit_id",
    }
)
#: what an id, a code or an ISO time looks like: ASCII, no spaces, short
_TOKEN = re.compile(r"^[A-Za-z0-9._:+-]{1,64}$")
#: a phone or identity-card number is never kept, whatever field it is in
_PERSONAL_NUMBER = re.compile(r"^\+?\d{6,}[Xx]?$")
MAX_DEPTH = 8


def redact(raw: bytes) -> bytes:
    """What a dead letter keeps of a rejected body: its redacted shape, at most ``BODY_LIMIT``
    bytes (see the module docstring)."""
    digest = hashlib.sha256(raw).hexdigest()[:32]
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return orjson.dumps({"redacted": "not JSON", "bytes": len(raw), "sha256": digest})
    shape = orjson.dumps(_shape(document, None, 0))
    if len(shape) <= BODY_LIMIT:
        return shape
    keys = sorted(str(k) for k in document)[:50] if isinstance(document, dict) else []
    stub = {"redacted": "too large", "bytes": len(raw), "sha256": digest, "keys": keys}
    return orjson.dumps(stub)[:BODY_LIMIT]


def _shape(value: Any, field: str | None, depth: int) -> Any:
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return "<redacted: nested>"
        return {str(k): _shape(v, str(k), depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            return "<redacted: nested>"
        return [_shape(v, field, depth + 1) for v in value[:20]]
    if isinstance(value, str):
        keep = field in KEPT_FIELDS and _TOKEN.match(value) is not None
        if keep and not _PERSONAL_NUMBER.match(value):
            return value
        return f"<redacted: {len(value)} chars>"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e9:
        return "<redacted: number>"  # a phone number sent as a number
    return value  # small numbers, booleans, null


@dataclass(frozen=True, slots=True)
class Rejection:
    """A dead-letter record's headers."""

    reason: str  #: a short code, such as ``invalid_event``
    detail: str
    origin: str  #: where the event came in (``api``, a kiosk, the sink)
    rejected_at: datetime | None  #: ``None``: a record without a readable one

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers that say all of it."""
        headers = [
            ("reason", self.reason.encode()),
            ("detail", self.detail[:DETAIL_LIMIT].encode()),
            ("origin", self.origin.encode()),
        ]
        if self.rejected_at is not None:
            headers.append(("rejected_at", self.rejected_at.isoformat().encode()))
        return headers

    @classmethod
    def from_headers(
        cls, headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None
    ) -> Rejection:
        """Read a record's headers, whichever shape the client gave them in; what is missing
        reads as ``unknown`` (reason), empty, or ``None`` (an unreadable ``rejected_at`` too)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        meta = {key: value.decode("utf-8", "replace") for key, value in pairs}
        try:
            rejected_at = datetime.fromisoformat(meta["rejected_at"])
        except (KeyError, ValueError):
            rejected_at = None
        return cls(
            reason=meta.get("reason", "unknown"),
            detail=meta.get("detail", ""),
            origin=meta.get("origin", ""),
            rejected_at=rejected_at,
        )
