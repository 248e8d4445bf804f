"""A visit: one person's stay at a venue, from check-in to check-out (or closing time).

Its own module, outside the compiled fold (``streams.compiled``): msgspec reads a struct's
field types from its class annotations, which a mypyc-compiled module does not keep as msgspec
needs them (checkpoints encode and decode visits with msgspec).
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Visit(msgspec.Struct, gc=False, array_like=True):
    """One person's stay at a venue. It holds only strings and instants, so it can never be in
    a reference cycle: untracked by the garbage collector (``gc=False``), the tens of thousands
    a day brings add nothing to the collector's work."""

    venue_id: str
    checkin_at: datetime | None = None
    closes_at: datetime | None = None  #: end of the opening interval the check-in fell in
    checked_out_at: datetime | None = None
    counted_in: str | None = None  #: the venue whose occupancy counts it now (``Occupancy.at``)

    def inside(self, now: datetime) -> bool:
        """Checked in by ``now``, and neither checked out nor closed automatically by then."""
        return (
            self.checkin_at is not None
            and self.checkin_at <= now
            and (self.checked_out_at is None or now < self.checked_out_at)
            and (self.closes_at is None or now < self.closes_at)
        )
