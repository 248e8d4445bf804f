"""The reading half of the stream worker, in a process of its own: it reads the source topics
with aiokafka, checks every record's signature, and hands the fold process batches of record
values, each with a verified flag.

Why a process: reading a record (aiokafka: fetch, parse, build the record object, ~1.5 µs) and
checking its MAC (~0.9 µs) took a third of the worker's time, on the same core as the fold,
which no thread can share under the GIL. In a process of their own they run beside the fold on
the second core; the fold process only splits batches and decodes what it folds.

Started by ``ReaderProcess`` as ``python -m streams.reader``: its settings and assignment come
pickled on stdin (the fold process's own settings object, secrets included), and it writes
length-prefixed msgpack frames to stdout (anything else printing to stdout goes to stderr). The
frames, in order:

- ``Positions``, once: where it starts reading each partition (a checkpoint's offset, or the
  log's start for a partition read from the beginning);
- ``Batch``: one partition's records (values, verified flags, the offset after the last one);
- ``Idle``: nothing new for ``IDLE_REPORT_S``.

Each frame carries the highwater of every partition (for the fold process's lag and horizon).
It stops when its stdout closes (the fold process is gone) or when its parent changes, and the
fold process stops it when it stops.

Writes block while the pipe is full, which is the back-pressure: a reader ahead of the fold
stops fetching. The pipe is enlarged to ``PIPE_SIZE`` (Linux), so the reader can prepare about
half a batch while the fold folds one. Measured on the bench machine (2 cores shared with the
broker, 300k events): with 64 KiB pipes the two processes folded ~195k events/s, with 1 MiB
~220-235k/s; writing through an asyncio transport that buffered without bound instead was
slower still (~145k/s: the reader then competed with the fold for the cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pickle
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from sanjiang.settings import Settings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

#: Seconds without records after which the reader reports the highwaters anyway.
IDLE_REPORT_S = 0.25
#: The pipe's size (Linux ``F_SETPIPE_SZ``; 1 MiB is what an unprivileged process may set by
#: default, ``/proc/sys/fs/pipe-max-size``). A batch of 5,000 events is about 2 MB.
PIPE_SIZE = 1024 * 1024
_FRAME = struct.Struct(">I")


def offset_key(topic: str, partition: int) -> str:
    """How offsets are keyed in checkpoints and frames: ``topic:partition``."""
    return f"{topic}:{partition}"


class Positions(msgspec.Struct, tag="p", array_like=True):
    positions: dict[str, int]
    highwaters: dict[str, int]


class Batch(msgspec.Struct, tag="b", array_like=True):
    key: str  #: ``offset_key`` of the partition
    next_offset: int  #: the offset after the last record
    values: list[bytes]
    verified: bytes  #: 1 where the value's signature verified, else 0 (one per value)
    highwaters: dict[str, int]


class Idle(msgspec.Struct, tag="i", array_like=True):
    highwaters: dict[str, int]


Frame = Positions | Batch | Idle
_ENCODER = msgspec.msgpack.Encoder()
_DECODER: msgspec.msgpack.Decoder[Frame] = msgspec.msgpack.Decoder(Frame)


@dataclass(frozen=True)
class ReaderConfig:
    """What the reader process is told on stdin."""

    settings: Settings
    partitions: list[tuple[str, int]]
    offsets: dict[str, int]  #: where to start; partitions without one start at the log's start
    batch: int  #: records per batch at most
    wait_ms: int  #: how long a batch waits for records
    fetch_max_wait_ms: int  #: how long the broker may hold an empty fetch
    parent: int  #: the fold process's pid


class ReaderError(RuntimeError):
    """The reader process ended (its exit code and why are in the message)."""


class ReaderProcess:
    """The reader process, seen from the fold process: start it, then ``await next()``."""

    def __init__(
        self,
        settings: Settings,
        partitions: Sequence[tuple[str, int]],
        offsets: dict[str, int],
        *,
        batch: int,
        wait_ms: int,
        fetch_max_wait_ms: int,
    ) -> None:
        self.config = ReaderConfig(
            settings,
            list(partitions),
            dict(offsets),
            batch,
            wait_ms,
            fetch_max_wait_ms,
            parent=os.getpid(),
        )
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> Positions:
        """Start the process; returns where it reads each partition from."""
        process = self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.reader",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(pickle.dumps(self.config))
        process.stdin.close()
        first = await self.next()
        if not isinstance(first, Positions):
            raise ReaderError(f"the reader began with {type(first).__name__}, not its positions")
        return first

    async def next(self) -> Frame:
        """The next frame; ``ReaderError`` if the process ended."""
        process = self._process
        if process is None or process.stdout is None:
            raise ReaderError("the reader process is not running")
        try:
            (length,) = _FRAME.unpack(await process.stdout.readexactly(_FRAME.size))
            data = await process.stdout.readexactly(length)
        except asyncio.IncompleteReadError:
            code = await process.wait()
            raise ReaderError(f"the reader process ended (exit code {code})") from None
        return _DECODER.decode(data)

    async def stop(self) -> None:
        """Stop the process (and wait for it)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


class _FrameWriter:
    """Frames to a pipe, written as they come: a write blocks while the pipe is full."""

    def __init__(self, fd: int) -> None:
        set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
        if set_size is not None:
            with contextlib.suppress(OSError):  # best effort: a smaller pipe only slows it down
                fcntl.fcntl(fd, set_size, PIPE_SIZE)
        self._out = os.fdopen(fd, "wb")

    def send(self, frame: Frame) -> None:
        """Write one frame (blocks while the pipe is full)."""
        data = _ENCODER.encode(frame)
        self._out.write(_FRAME.pack(len(data)))
        self._out.write(data)
        self._out.flush()


async def _read(config: ReaderConfig, fd: int) -> None:
    """Read every partition of ``config`` and write frames to ``fd`` until stopped."""
    from aiokafka import TopicPartition

    from sanjiang.kafka.client import make_consumer
    from sanjiang.kafka.signing import signer_for

    verify = signer_for(config.settings).verify
    out = _FrameWriter(fd)
    topics: dict[str, list[TopicPartition]] = {}
    for topic, partition in config.partitions:
        topics.setdefault(topic, []).append(TopicPartition(topic, partition))
    # One consumer per topic: aiokafka keeps one fetch in flight per consumer and broker, and
    # leaves out of it the partitions whose records are still buffered; a fetch for an idle
    # topic (telemetry), held by the broker for ``fetch_max_wait_ms``, would hold up the next
    # fetch of events as long, again and again while catching up.
    consumers = {
        topic: make_consumer(
            config.settings, group_id=None, fetch_max_wait_ms=config.fetch_max_wait_ms
        )
        for topic in topics
    }
    for consumer in consumers.values():
        await consumer.start()
    try:
        positions: dict[str, int] = {}
        for topic, partitions in topics.items():
            consumer = consumers[topic]
            consumer.assign(partitions)
            for tp in partitions:
                key = offset_key(tp.topic, tp.partition)
                offset = config.offsets.get(key)
                if offset is None:
                    await consumer.seek_to_beginning(tp)
                    # the log's start, which retention moves (telemetry): a partition whose
                    # records all expired is caught up, not "behind and never read"
                    positions[key] = await consumer.position(tp)
                else:
                    consumer.seek(tp, offset)
                    positions[key] = offset

        def highwaters() -> dict[str, int]:
            marks = {}
            for topic, partitions in topics.items():
                for tp in partitions:
                    mark = consumers[topic].highwater(tp)
                    if mark is not None:
                        marks[offset_key(tp.topic, tp.partition)] = mark
            return marks

        out.send(Positions(positions, highwaters()))
        await asyncio.gather(
            *(_pump(config, consumer, verify, out, highwaters) for consumer in consumers.values())
        )
    finally:
        for consumer in consumers.values():
            await consumer.stop()


async def _pump(
    config: ReaderConfig,
    consumer: AIOKafkaConsumer,
    verify: Callable[[bytes, Sequence[tuple[str, bytes]]], bool],
    out: _FrameWriter,
    highwaters: Callable[[], dict[str, int]],
) -> None:
    """One consumer's batches, verified, as frames (and ``Idle`` when it has none)."""
    reported = time.monotonic()
    while os.getppid() == config.parent:
        got = await consumer.getmany(timeout_ms=config.wait_ms, max_records=config.batch)
        marks = highwaters() if got else {}
        for tp, records in got.items():
            out.send(
                Batch(
                    offset_key(tp.topic, tp.partition),
                    records[-1].offset + 1,
                    [record.value for record in records],
                    bytes([verify(record.value, record.headers) for record in records]),
                    marks,
                ),
            )
        now = time.monotonic()
        if got:
            reported = now
        elif now - reported >= IDLE_REPORT_S:
            out.send(Idle(highwaters()))
            reported = now


def main() -> None:
    """``python -m streams.reader``: read the config from stdin, frames to stdout."""
    config: ReaderConfig = pickle.loads(sys.stdin.buffer.read())
    out = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt frames
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the fold process is gone
        asyncio.run(_read(config, out))


if __name__ == "__main__":
    main()
