"""The warehouse sink against the real broker and a real embedded ClickHouse (chDB).

Also a child-process entry point for the crash test (the only other file allowed here):

    python -m tests.integration.test_sink BOOTSTRAP VAR_DIR PREFIX PARTITIONS GROUP WAREHOUSE N

runs a sink that SIGKILLs itself right after its N-th write, before that batch's commit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from projections.migrate import migrate
from projections.sink import SinkBatch, WarehouseSink
from projections.warehouse import ChdbWarehouse, Warehouse, WarehouseError, WarehouseProxy
from sanjiang.events import Event
from sanjiang.kafka.client import admin_client, make_consumer, make_producer
from sanjiang.kafka.deadletter import redact
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.signing import SIGNATURE_HEADER
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings, load_settings
from tests import simulated
from tests.integration.kafka_helpers import consume

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
POISON = [b"this is not an event", b'{"type": "no.such.event", "schema_version": 1}']
#: An invalid event under a forged signature header: validated in full, hence dead-lettered.
FORGED = b'{"type": "checkin.recorded", "schema_version": 1}'


@pytest.fixture(scope="module")
def backfill() -> list[Event]:
    """3,000 events of one simulated day, in emission order (a few repeat an event_id)."""
    emissions = simulated.emissions(date(2026, 11, 16), days=1, seed=3)
    events = [e.event for e in emissions if e.event.type != "kiosk.heartbeat"]
    return events[:3000]


def distinct_ids(events: list[Event]) -> int:
    return len({e.event_id for e in events})


def migrated(path: Path) -> ChdbWarehouse:
    warehouse = ChdbWarehouse(path)
    migrate(warehouse)
    return warehouse


def scalar(warehouse: Warehouse, sql: str) -> int:
    return int(warehouse.query(sql.replace("{db}", warehouse.database)).scalar())


def raw_count(warehouse: Warehouse) -> int:
    return scalar(warehouse, "SELECT count() FROM {db}.events")


def rollup_count(warehouse: Warehouse) -> int:
    return scalar(warehouse, "SELECT sum(events) FROM {db}.rollup_hourly")


async def publish(
    settings: Settings,
    topics: Topics,
    events: list[Event],
    poison: list[bytes],
    forged: Sequence[bytes] = (),
) -> None:
    async with EventPublisher(settings, topics) as publisher:
        assert await publisher.publish_many(events) == len(events)
    producer = make_producer(settings)
    await producer.start()
    try:
        for raw in poison:  # not events at all: what a buggy or hostile producer could write
            await producer.send_and_wait(topics.events, raw, key=b"WS-C")
        for raw in forged:  # a hostile producer that knows the header but not the key
            headers = [(SIGNATURE_HEADER, bytes(32))]
            await producer.send_and_wait(topics.events, raw, key=b"WS-C", headers=headers)
    finally:
        await producer.stop()


async def committed_offsets(admin: AIOKafkaAdminClient, group: str, topic: str) -> dict[int, int]:
    for attempt in range(50):  # the offsets topic may still be coming up in a fresh cluster
        try:
            found = await admin.list_consumer_group_offsets(group)
            break
        except KafkaError as exc:
            if not exc.retriable or attempt == 49:
                raise
            await asyncio.sleep(0.2)
    return {
        tp.partition: m.offset for tp, m in found.items() if tp.topic == topic and m.offset >= 0
    }


async def group_offsets(
    settings: Settings, topics: Topics, group: str
) -> tuple[dict[int, int], dict[int, int]]:
    """(committed, end) offsets of the events topic's partitions; committed 0 if none."""
    admin = admin_client(settings)
    await admin.start()
    try:
        committed = await committed_offsets(admin, group, topics.events)
    finally:
        await admin.close()
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topics.events, p) for p in range(topics.event_partitions)]
        end = {tp.partition: int(o) for tp, o in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()
    return {p: committed.get(p, 0) for p in end}, end


def test_sink_writes_each_event_once_and_dead_letters_poison(
    kafka_settings: Settings, topics: Topics, group_id: str, tmp_path: Path, backfill: list[Event]
) -> None:
    settings = kafka_settings.model_copy(update={"sink_batch_rows": 1000})
    asyncio.run(publish(settings, topics, backfill, POISON, [FORGED]))
    warehouse = migrated(tmp_path / "warehouse")
    try:
        sink = WarehouseSink(settings, warehouse, topics, group_id)
        stats = asyncio.run(sink.run_until_idle(idle_s=2.0, timeout_s=60.0))
        distinct = distinct_ids(backfill)
        assert distinct < len(backfill)  # the backfill repeats some deliveries
        assert raw_count(warehouse) == distinct
        assert rollup_count(warehouse) == distinct
        assert (stats.events_written, stats.duplicates) == (distinct, len(backfill) - distinct)
        assert stats.dead_lettered == 3
        assert stats.signed == len(backfill)  # what the publisher signed took the fast path
        assert stats.batches >= 3  # 3,003 records in batches of at most 1,000
        assert stats.first_record_at is not None and stats.last_write_at is not None
        seconds = (stats.last_write_at - stats.first_record_at).total_seconds()
        print(  # measured, not asserted
            f"\nsink throughput: {stats.records} records in {stats.batches} batches, "
            f"{stats.records / max(seconds, 1e-3):.0f} records/s "
            f"(first record to last write: {seconds:.2f} s, including the last, partial batch "
            f"waiting out sink_batch_seconds={settings.sink_batch_seconds:g} s)"
        )
    finally:
        warehouse.close()

    dead = asyncio.run(consume(settings, topics.deadletter, f"{group_id}-dlq", 3, timeout_s=20))
    reasons = {r.value: dict(r.headers)["reason"].decode() for r in dead}
    # each keeps the redacted shape of the poison record, not its bytes
    assert reasons == {
        redact(POISON[0]): "malformed_json",
        redact(POISON[1]): "unknown_type",
        redact(FORGED): "invalid",
    }
    assert all(dict(r.headers)["origin"] == b"warehouse-sink" for r in dead)
    committed, end = asyncio.run(group_offsets(settings, topics, group_id))
    assert committed == end
    assert sum(end.values()) == len(backfill) + len(POISON) + 1


class CrashAfterWrite(WarehouseSink):
    """Uses the sink's test seam: SIGKILL right after the n-th write, before its commit."""

    def __init__(
        self, settings: Settings, warehouse: ChdbWarehouse, topics: Topics, group: str, n: int
    ) -> None:
        super().__init__(settings, warehouse, topics, group)
        self.crash_after = n
        self.writes = 0

    def _after_write(self, batch: SinkBatch) -> None:
        self.writes += 1
        if self.writes >= self.crash_after:
            os.kill(os.getpid(), signal.SIGKILL)


def child_main(argv: list[str]) -> None:
    bootstrap, var_dir, prefix, partitions, group, path, crash_after = argv
    # The parent's var_dir: one deployment, one signing key (its events take the fast path).
    settings = load_settings(kafka_bootstrap=bootstrap, var_dir=var_dir, sink_batch_rows=500)
    warehouse = ChdbWarehouse(Path(path))  # migrated by the parent
    topics = Topics(prefix, int(partitions))
    sink = CrashAfterWrite(settings, warehouse, topics, group, int(crash_after))
    asyncio.run(sink.run_until_idle(idle_s=5.0, timeout_s=60.0))
    raise SystemExit("the sink finished without crashing")


def test_crash_between_write_and_commit_counts_nothing_twice(
    kafka_settings: Settings, topics: Topics, group_id: str, tmp_path: Path, backfill: list[Event]
) -> None:
    path = tmp_path / "warehouse"
    migrated(path).close()  # chDB: one owning process per folder, so close before the child
    asyncio.run(publish(kafka_settings, topics, backfill, []))
    args = [
        kafka_settings.bootstrap_servers,
        str(kafka_settings.var_dir),
        topics.prefix,
        str(topics.event_partitions),
    ]
    child = subprocess.run(
        [sys.executable, "-m", "tests.integration.test_sink", *args, group_id, str(path), "2"],
        cwd=ROOT,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr  # died in the seam, not elsewhere
    committed, end = asyncio.run(group_offsets(kafka_settings, topics, group_id))
    assert 0 < sum(committed.values()) < sum(end.values())  # the first batch was committed

    distinct = distinct_ids(backfill)
    warehouse = ChdbWarehouse(path)  # the child is dead: the folder is free
    try:
        written_by_child = raw_count(warehouse)
        assert 0 < written_by_child < distinct
        stored = warehouse.query(
            f"SELECT kafka_partition, kafka_offset FROM {warehouse.database}.events"
        ).rows
        # The second batch is in the warehouse but its offsets were never committed.
        beyond_commit = sum(1 for partition, offset in stored if offset >= committed[partition])
        assert beyond_commit > 0

        sink = WarehouseSink(kafka_settings, warehouse, topics, group_id)
        stats = asyncio.run(sink.run_until_idle(idle_s=2.0, timeout_s=60.0))
        assert raw_count(warehouse) == distinct
        assert rollup_count(warehouse) == distinct  # nothing counted twice by the views either
        assert stats.events_written == distinct - written_by_child
        assert stats.duplicates >= beyond_commit  # the replayed batch was dropped
    finally:
        warehouse.close()
    committed, end = asyncio.run(group_offsets(kafka_settings, topics, group_id))
    assert committed == end


class FlakyWarehouse(WarehouseProxy):
    """A real ChdbWarehouse whose inserts into ``events`` fail the first ``failures`` times,
    and each take ``delay_s`` longer.

    The engine is real; only the failure (and slowness) is injected, standing for a warehouse
    that is down or too slow (what ServerWarehouse raises on a timeout or a refused connection).
    """

    def __init__(self, inner: ChdbWarehouse, failures: int = 0, delay_s: float = 0.0) -> None:
        super().__init__(inner)
        self.to_fail = failures
        self.delay_s = delay_s
        self.failed = 0
        self.succeeded = 0

    def insert_json_rows(
        self, table: str, rows: bytes, settings: dict[str, Any] | None = None
    ) -> None:
        if table == f"{self.database}.events" and self.failed < self.to_fail:
            self.failed += 1
            raise WarehouseError("injected: Code: 210. Connection refused (warehouse down)")
        if table == f"{self.database}.events":
            time.sleep(self.delay_s)  # runs in the sink's worker thread, like a slow server
        self.inner.insert_json_rows(table, rows, settings)
        if table == f"{self.database}.events":
            self.succeeded += 1


def test_warehouse_failures_back_off_and_commit_only_after_success(
    kafka_settings: Settings, topics: Topics, group_id: str, tmp_path: Path, backfill: list[Event]
) -> None:
    settings = kafka_settings.model_copy(update={"sink_batch_rows": 1000})
    asyncio.run(publish(settings, topics, backfill, []))
    _, end = asyncio.run(group_offsets(settings, topics, group_id))
    warehouse = FlakyWarehouse(migrated(tmp_path / "warehouse"), failures=2)
    sink = WarehouseSink(settings, warehouse, topics, group_id)
    samples_while_failing = 0

    async def scenario() -> dict[int, int]:
        nonlocal samples_while_failing
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        admin = admin_client(settings)
        await admin.start()
        committed: dict[int, int] = {}
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while not task.done() and asyncio.get_running_loop().time() < deadline:
                committed = await committed_offsets(admin, group_id, topics.events)
                if warehouse.succeeded == 0:  # read after the offsets: no write had succeeded
                    samples_while_failing += 1
                    assert committed == {}, "offsets committed before any write succeeded"
                    # Backpressure: one batch retried, the next one full, fetching paused,
                    # nothing more taken.
                    assert sink.stats.records <= 2 * settings.sink_batch_rows
                if {p: committed.get(p, 0) for p in end} == end:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await task
            await admin.close()
        return committed

    try:
        committed = asyncio.run(scenario())
        distinct = distinct_ids(backfill)
        assert samples_while_failing > 0
        assert (warehouse.failed, sink.stats.write_failures) == (2, 2)
        assert {p: committed.get(p, 0) for p in end} == end
        assert raw_count(warehouse.inner) == distinct
        assert rollup_count(warehouse.inner) == distinct
        assert sink.stats.events_written == distinct
    finally:
        warehouse.close()


def test_rebalance_mid_stream_loses_nothing_and_writes_nothing_twice(
    kafka_settings: Settings, topics: Topics, group_id: str, tmp_path: Path, backfill: list[Event]
) -> None:
    # Events trickle in while a second sink joins the group. Batches close on time (1 s), so
    # the rebalance mostly lands while the first sink is collecting (its batch is dropped and
    # re-read from the committed offsets), sometimes during a (slowed) write (the revoke waits
    # for it and its commit). Either way: every event once, nothing lost.
    settings = kafka_settings.model_copy(update={"sink_batch_rows": 100_000})
    warehouse = FlakyWarehouse(migrated(tmp_path / "warehouse"), delay_s=0.1)
    first = WarehouseSink(settings, warehouse, topics, group_id)
    second = WarehouseSink(settings, warehouse, topics, group_id)

    async def trickle() -> None:
        async with EventPublisher(settings, topics) as publisher:
            for start in range(0, len(backfill), 100):
                await publisher.publish_many(backfill[start : start + 100])
                await asyncio.sleep(0.15)

    async def scenario() -> tuple[dict[int, int], dict[int, int]]:
        stop = asyncio.Event()
        producing = asyncio.create_task(trickle())
        tasks = [asyncio.create_task(first.run(stop))]
        committed: dict[int, int] = {}
        end: dict[int, int] = {}
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while first.stats.records == 0 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            tasks.append(asyncio.create_task(second.run(stop)))  # joins: the group rebalances
            await producing
            while not any(t.done() for t in tasks) and asyncio.get_running_loop().time() < deadline:
                committed, end = await group_offsets(settings, topics, group_id)
                if committed == end:
                    break
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.gather(producing, *tasks)
        return committed, end

    try:
        committed, end = asyncio.run(scenario())
        print(  # which rebalance path ran is timing-dependent: shown, not asserted
            f"\nrebalance: records dropped on revoke {first.stats.dropped_on_rebalance}, "
            f"taken {first.stats.records} + {second.stats.records} for {len(backfill)}"
        )
        distinct = distinct_ids(backfill)
        assert committed == end
        assert sum(end.values()) == len(backfill)
        assert second.stats.records > 0  # the second sink did get partitions
        assert raw_count(warehouse.inner) == distinct
        assert rollup_count(warehouse.inner) == distinct
        assert first.stats.events_written + second.stats.events_written == distinct
    finally:
        warehouse.close()


if __name__ == "__main__":
    child_main(sys.argv[1:])
