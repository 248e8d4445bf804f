"""Compacting the small rollups after bulk writes.

A query pays a fixed price for every part it opens, and for a small table that price outweighs
reading its rows: the all-history daily series on ``rollup_station_daily`` takes ~6 ms over five
parts and ~4.3 ms over one (10 M events). Background merges leave a few parts; after a bulk
load or a replay, ``compact_rollups`` merges each small rollup into one part (hundreds of
milliseconds: the table holds about 6 rows per 100 events). In steady state the table's
``min_age_to_force_merge_seconds`` merges parts older than ten minutes (migration 0013).
"""

from __future__ import annotations

from projections.warehouse import Warehouse

#: Rollups small enough to merge into one part after every bulk write.
SMALL_ROLLUPS = ("rollup_station_daily",)


def compact_rollups(warehouse: Warehouse) -> None:
    """Merge each small rollup into a single part (``OPTIMIZE … FINAL``)."""
    for table in SMALL_ROLLUPS:
        warehouse.command(f"OPTIMIZE TABLE {warehouse.database}.{table} FINAL")
