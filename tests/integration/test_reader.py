"""The worker's reader process (``streams.reader``) on the real broker: it hands over every
record in order with its signature checked, starts where it is told, and never outlives the
process that started it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from sanjiang.kafka.client import make_producer
from sanjiang.kafka.signing import SIGNATURE_HEADER, signer_for
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from streams.reader import Batch, Frame, Positions, ReaderProcess, offset_key

pytestmark = pytest.mark.integration


def reader(settings: Settings, topics: Topics, offsets: dict[str, int]) -> ReaderProcess:
    partitions = [(topics.events, p) for p in range(settings.event_partitions)]
    return ReaderProcess(settings, partitions, offsets, batch=100, wait_ms=20, fetch_max_wait_ms=50)


async def read_values(process: ReaderProcess, n: int) -> tuple[list[Batch], list[Frame]]:
    batches: list[Batch] = []
    others: list[Frame] = []
    while sum(len(b.values) for b in batches) < n:
        frame = await asyncio.wait_for(process.next(), 30)
        if isinstance(frame, Batch):
            batches.append(frame)
        else:
            others.append(frame)
    return batches, others


def test_records_come_in_order_with_their_signature_checked(
    kafka_settings: Settings, topics: Topics
) -> None:
    signer = signer_for(kafka_settings)
    values = [f'{{"n": {i}}}'.encode() for i in range(5)]
    headers = [
        signer.headers(values[0]),
        signer.headers(values[1]),
        signer.headers(values[2]),
        [(SIGNATURE_HEADER, b"\0" * 32)],  # a wrong signature
        [],  # none
    ]
    key = offset_key(topics.events, 0)

    async def scenario() -> None:
        producer = make_producer(kafka_settings)
        await producer.start()
        try:
            for value, header in zip(values, headers, strict=True):
                await producer.send_and_wait(topics.events, value, partition=0, headers=header)
        finally:
            await producer.stop()

        first = reader(kafka_settings, topics, {})
        start = await first.start()
        try:
            assert isinstance(start, Positions)
            assert start.positions == {
                offset_key(topics.events, p): 0 for p in range(kafka_settings.event_partitions)
            }
            batches, _ = await read_values(first, 5)
        finally:
            await first.stop()
        assert [v for b in batches for v in b.values] == values
        assert b"".join(b.verified for b in batches) == bytes([1, 1, 1, 0, 0])
        assert {b.key for b in batches} == {key}
        assert batches[-1].next_offset == 5 and batches[-1].highwaters[key] == 5

        again = reader(kafka_settings, topics, {key: 3})
        start = await again.start()
        try:
            assert start.positions[key] == 3
            batches, _ = await read_values(again, 2)
        finally:
            await again.stop()
        assert [v for b in batches for v in b.values] == values[3:]

    asyncio.run(scenario())


PARENT = """
import asyncio, sys
from sanjiang.settings import load_settings
from streams.reader import ReaderProcess

async def main():
    settings = load_settings(kafka_bootstrap=sys.argv[1], var_dir=sys.argv[2])
    process = ReaderProcess(settings, [(sys.argv[3], 0)], {}, batch=10, wait_ms=20,
                            fetch_max_wait_ms=50)
    await process.start()
    print(process._process.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    """The process runs (a zombie, ended but not reaped by whoever adopted it, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_reader_ends_with_the_process_that_started_it(
    kafka_settings: Settings, topics: Topics
) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARENT,
            kafka_settings.bootstrap_servers,
            str(kafka_settings.var_dir),
            topics.events,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert alive(pid)
    finally:
        parent.kill()  # kill -9: no chance to stop its reader
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the reader outlived the process that started it")
