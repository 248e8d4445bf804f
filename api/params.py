"""Query parameters every route reads the same way, each bounded: a period (at most
``SANJIANG_MAX_PERIOD_DAYS`` long, inside 2000..2100) and a moment. Bad ones are 422 with the
one error body, never a 500."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from fastapi import status

from api.errors import api_error
from api.schemas import ErrorResponse
from projections.kpi import Period

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

#: Responses every route behind a credential may give (documented once for OpenAPI).
PROTECTED: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "No credential, or not a valid one."},
    403: {"model": ErrorResponse, "description": "The credential may not do this."},
    422: {"model": ErrorResponse, "description": "A parameter is malformed or out of range."},
}


def bad(code: str, detail: str) -> Exception:
    return api_error(status.HTTP_422_UNPROCESSABLE_CONTENT, code, detail)


def period_of(start: str, end: str, tz: tzinfo, max_days: int) -> Period:
    """A period from ``from``/``to`` (local dates, ``to`` inclusive, or ISO date-times)."""
    try:
        period = Period.parse(start, end, tz)
    except (ValueError, OverflowError) as exc:
        raise bad("bad_period", str(exc)) from None
    if period.start < EARLIEST or period.end > LATEST:
        raise bad("bad_period", "the period must lie between 2000-01-01 and 2100-01-01")
    if period.end - period.start > timedelta(days=max_days):
        raise bad("period_too_long", f"a period covers at most {max_days} days; split it")
    return period


def moment_of(text: str | None, tz: tzinfo) -> datetime:
    """An ISO date-time (local if naive); now if absent."""
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise bad("bad_moment", f"expected an ISO date-time, got {text[:40]!r}") from None
    if not EARLIEST <= moment <= LATEST:
        raise bad("bad_moment", "the moment must lie between 2000-01-01 and 2100-01-01")
    return moment


def days_of(start: str, end: str, max_days: int) -> list[date]:
    """Whole local days ``start``..``end`` (inclusive), at most ``max_days`` of them."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise bad("bad_period", "use YYYY-MM-DD") from None
    if last < first:
        raise bad("bad_period", "the last day is before the first")
    if not EARLIEST.date() <= first <= last < LATEST.date():
        raise bad("bad_period", "days must lie between 2000-01-01 and 2100-01-01")
    if (last - first).days + 1 > max_days:
        raise bad("period_too_long", f"at most {max_days} days at once; split the window")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
