"""Why an event was rejected, as the headers of its ``<prefix>.deadletter`` record.

Written by ``EventPublisher.dead_letter`` (the record's value is the original bytes); read by
the stream worker's rejection counts (``streams.rejections``) and the ops sink
(``projections.ops_sink``). One definition of the headers, for all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

#: longest ``detail`` kept (a validation error can list every field of a large payload)
DETAIL_LIMIT = 2000


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
