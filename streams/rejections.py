"""Rejected events per local day and reason, counted from the ``<prefix>.deadletter`` topic.

The worker keeps these counts in a Faust table (changelog topic ``<app id>-rejections-changelog``,
restored by Faust when a worker starts). Faust commits the dead-letter offsets after the table
was written, so a crash can re-deliver records already counted; each day's count therefore
carries the offset of the last record it counted, and a record at or before it is skipped. The
counts are exact across crashes (the topic has one partition, read in order).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sanjiang.kafka.deadletter import Rejection


def rejection_day(rejection: Rejection, timestamp_s: float, tz: tzinfo) -> date:
    """The local day a record was rejected on: its ``rejected_at``, else the record's
    timestamp."""
    moment = rejection.rejected_at or datetime.fromtimestamp(timestamp_s, UTC)
    return moment.astimezone(tz).date()


def counted(current: Mapping[str, Any] | None, reason: str, offset: int) -> dict[str, Any] | None:
    """A day's counts with one more rejection, or ``None`` if the record at ``offset`` was
    counted already (re-delivered after a crash)."""
    count = dict(current or {"count": 0, "by_reason": {}, "offset": -1})
    if offset <= count["offset"]:
        return None
    by_reason = dict(count["by_reason"])
    by_reason[reason] = by_reason.get(reason, 0) + 1
    return {"count": count["count"] + 1, "by_reason": by_reason, "offset": offset}
