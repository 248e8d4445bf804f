"""The embedded warehouse runs statements from several threads at once, each on a connection of
its own (``compute_kpis`` sends its four statements side by side)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from projections.warehouse import ChdbWarehouse, WarehouseError


def test_concurrent_statements_each_get_their_own_answer(warehouse: ChdbWarehouse) -> None:
    def ask(n: int) -> int:
        return int(
            warehouse.query("SELECT sum(number) FROM numbers({n:UInt32})", {"n": n}).scalar()
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(1, 201)))
    assert answers == [n * (n - 1) // 2 for n in range(1, 201)]


def test_a_failed_statement_spoils_no_other(warehouse: ChdbWarehouse) -> None:
    """chDB leaves a failed query's partial output in its connection: that connection is
    dropped, and the statements after it (on any thread) read clean results."""
    errors: list[Exception] = []

    def fail() -> None:
        try:
            warehouse.query("SELECT throwIf(number = 3) FROM numbers(10)")
        except WarehouseError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fail) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 6
    for _ in range(8):
        assert warehouse.query("SELECT 41 + 1 AS x").dicts() == [{"x": 42}]


def test_a_warehouse_needs_a_session(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one session"):
        ChdbWarehouse(tmp_path / "w", sessions=0)
