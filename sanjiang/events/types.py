"""Constrained field types shared by the event catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field, StrictBool, StrictInt, StringConstraints

#: Ids of stations, venues, activities, bookings, registrations…: short, ASCII, no spaces.
Ident = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
]
#: A taxonomy id (category, program): lowercase snake_case.
TaxonomyId = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]{0,39}$")]
#: Who emitted the event: a kiosk id, ``api`` or ``console:<staff>``.
Source = Annotated[
    str,
    StringConstraints(
        strict=True, pattern=r"^(api|console(:[A-Za-z0-9._-]{1,40})?|kiosk:[A-Za-z0-9._-]{1,40})$"
    ),
]
#: A device's id, as its ``source`` names it (``kiosk:<id>``, ``console:<id>``).
DeviceId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9._-]{1,40}$")]
#: A staff username as the platform issues them (``api.access.users.USERNAME``).
StaffName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9._-]{1,39}$")]
#: A client's network address as the API saw it (IPv4, IPv6, or a name): printable ASCII.
ClientAddress = Annotated[str, StringConstraints(strict=True, pattern=r"^[!-~]{1,64}$")]
#: A resident's keyed pseudonym: 32 lowercase hex digits (truncated HMAC-SHA256).
Pseudonym = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{32}$")]
#: A short title shown to users.
Title = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=80)
]
#: Free text (no personal data, by the kiosk UI's contract); bounded.
Note = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, max_length=500)]


def _text_or_datetime(value: Any) -> Any:
    """Only ISO 8601 text (or a datetime) is a time: a number is refused, not read as seconds
    since 1970 (a device that sends one has a bug the platform must not paper over)."""
    if not isinstance(value, (str, datetime)):
        raise ValueError("expected an ISO 8601 date-time with its UTC offset, as text")
    return value


#: A tz-aware timestamp as ISO 8601 text; naive times and numbers are rejected.
Instant = Annotated[AwareDatetime, BeforeValidator(_text_or_datetime)]
#: People counts and capacities: strictly positive, bounded.
Capacity = Annotated[StrictInt, Field(gt=0, le=5000)]
Rating = Annotated[StrictInt, Field(ge=1, le=5)]
Count = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
Flag = StrictBool

#: Age bands instead of ages (minimum necessary data).
AgeBand = Literal["0-13", "14-17", "18-34", "35-59", "60-69", "70-79", "80+"]
MINOR_AGE_BANDS: frozenset[str] = frozenset({"0-13", "14-17"})

#: The focus groups of the network (一老一少, young talent, new-employment workers) and everyone.
TargetGroup = Literal["elderly", "children", "youth_talent", "new_employment", "families", "all"]
TargetGroups = Annotated[list[TargetGroup], Field(min_length=1, max_length=6)]
