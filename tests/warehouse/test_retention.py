"""The warehouse keeps dead letters as long as their topic does (a TTL set from settings)."""

from __future__ import annotations

from projections.migrate import apply_retention
from projections.warehouse import ChdbWarehouse


def ttl(warehouse: ChdbWarehouse) -> str:
    engine = warehouse.query(
        "SELECT engine_full FROM system.tables WHERE database = 'sanjiang' "
        "AND name = 'dead_letters'"
    ).scalar()
    return str(engine)


def test_dead_letters_get_the_configured_retention(warehouse: ChdbWarehouse) -> None:
    assert apply_retention(warehouse, 30)
    assert "TTL toDateTime(rejected_at) + toIntervalDay(30)" in ttl(warehouse)
    assert not apply_retention(warehouse, 30)  # unchanged: nothing to do
    assert apply_retention(warehouse, 7)
    assert "toIntervalDay(7)" in ttl(warehouse) and "toIntervalDay(30)" not in ttl(warehouse)
    warehouse.command(
        "INSERT INTO sanjiang.dead_letters VALUES "
        "(now64(3) - INTERVAL 40 DAY, 'invalid', '', 'api', '{}', 0, 1), "
        "(now64(3), 'invalid', '', 'api', '{}', 0, 2)"
    )
    warehouse.command("OPTIMIZE TABLE sanjiang.dead_letters FINAL")
    assert warehouse.query("SELECT kafka_offset FROM sanjiang.dead_letters").rows == [[2]]
