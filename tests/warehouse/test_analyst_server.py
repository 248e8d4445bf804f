"""The analyst gates on a ClickHouse server: the same escapes as on the embedded engine
(test_analyst.py), refused through a read-only user. Runs wherever a server is given:

    SANJIANG_TEST_CLICKHOUSE_URL=http://sanjiang:…@host:8123            (the writer)
    SANJIANG_TEST_CLICKHOUSE_ANALYST_URL=http://analyst_ro:…@host:8123  (read-only profile)
    SANJIANG_TEST_CLICKHOUSE_DATABASE=sanjiang                          (the analyst's grants)

The server must be ClickHouse 26.x (parseQueryToJSON); infra/clickhouse/users.d has the users.
No current ClickHouse server can be installed on the development machines, so here it skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.analyst import Limits, run_analyst_query
from projections.migrate import migrate
from projections.warehouse import ServerWarehouse, WarehouseError
from tests.warehouse.test_analyst import escapes

URL = os.environ.get("SANJIANG_TEST_CLICKHOUSE_URL")
ANALYST_URL = os.environ.get("SANJIANG_TEST_CLICKHOUSE_ANALYST_URL")
DATABASE = os.environ.get("SANJIANG_TEST_CLICKHOUSE_DATABASE", "sanjiang")

pytestmark = pytest.mark.skipif(
    not (URL and ANALYST_URL),
    reason="no ClickHouse server given (SANJIANG_TEST_CLICKHOUSE_URL and _ANALYST_URL)",
)


@pytest.fixture
def server() -> Iterator[ServerWarehouse]:
    assert URL and ANALYST_URL
    warehouse = ServerWarehouse(URL, DATABASE, ANALYST_URL)
    migrate(warehouse)
    try:
        yield warehouse
    finally:
        warehouse.close()


def test_every_escape_is_refused_on_a_server(server: ServerWarehouse, tmp_path: Path) -> None:
    limits = Limits(max_rows=1000, max_seconds=1.0)
    before = server.query(f"SELECT count() FROM {DATABASE}.events").scalar()
    for statement in escapes(Path("/etc/clickhouse-server/users.d/sanjiang.xml"), tmp_path / "x"):
        with pytest.raises(WarehouseError):
            run_analyst_query(server, statement, {}, "json", limits)
    assert server.query(f"SELECT count() FROM {DATABASE}.events").scalar() == before
    body, _ = run_analyst_query(server, "SELECT 42 AS answer", {}, "csv", limits)
    assert body == b'"answer"\n42\n'


def test_the_analyst_session_is_the_read_only_user(server: ServerWarehouse) -> None:
    with server.readonly_session({}) as session:
        assert int(session.query("SELECT getSetting('readonly')").scalar()) == 1
        with pytest.raises(WarehouseError):
            session.query(f"CREATE TABLE {DATABASE}.mine (a Int8) ENGINE = Memory")
