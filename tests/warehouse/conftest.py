"""A fresh embedded warehouse (real chDB engine, migrated, reference data loaded) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.migrate import load_reference, migrate
from projections.warehouse import ChdbWarehouse
from sanjiang.network import load_network
from sanjiang.taxonomy import load_taxonomy


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[ChdbWarehouse]:
    store = ChdbWarehouse(tmp_path / "warehouse")
    migrate(store)
    load_reference(store, load_network(), load_taxonomy())
    try:
        yield store
    finally:
        store.close()
