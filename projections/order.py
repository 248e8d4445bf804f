"""The one order of "latest" and "first" in the warehouse's SQL, as in the live fold.

DESIGN.md: "latest" is by ``occurred_at`` to the microsecond, then ``event_id`` in its canonical
(RFC 9562) text order — what the live fold compares (``streams.state``: a datetime and the
lowercase text of the id). In the warehouse that is the tuple ``VERSION``:

- ``occurred_at_us`` (DateTime64(6), migration 0020), not ``occurred_at``, which keeps
  milliseconds: two events of one millisecond would tie and fall to the id;
- ``toString(event_id)``, not ``event_id``: ClickHouse compares a UUID by its second half
  first (its documentation: UUIDs are sorted by their second half, for historical reasons),
  so two UUIDv7 ids of one millisecond, whose first halves count up, rank by their random
  part. The canonical text is lowercase hex digits at fixed places and sorts as the 128-bit
  id does, which is the text order.

Every argMax/argMin, min/max of a version tuple and ordering of events that decides a latest
or first row uses it (``tests/warehouse/test_order.py`` checks the SQL and the answers).
"""

from __future__ import annotations

#: The elements of ``VERSION``, for tuples that carry a value after them
VERSION_ITEMS = "occurred_at_us, toString(event_id)"
#: (occurred_at to the microsecond, event_id as canonical text): "latest" is its max
VERSION = f"({VERSION_ITEMS})"
#: The order a replay of one station's events follows (the console folds the deciders'
#: ``evolve`` over them): time to the microsecond, then the log's order (a station's events are
#: in one partition; -1 for rows loaded from a file), then the id. Events of one instant (an
#: activity designed and published at once) are applied as the deciders applied them: by
#: ``VERSION`` alone, a publish whose id ranks first came before its design and was lost.
REPLAY_ORDER = "occurred_at_us, kafka_offset, toString(event_id)"
#: What an event that does not set a value contributes in place of ``VERSION_ITEMS``: smaller
#: than any real event's (the state tables' "nothing yet")
NO_VERSION_ITEMS = "toDateTime64('1900-01-01', 6, 'UTC'), ''"
