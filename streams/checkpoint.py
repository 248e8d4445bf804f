"""The stream worker's changelog: checkpoints of its state in the compacted
``<prefix>.streams-changelog`` topic, so a restarted worker (or one started on another machine)
goes on from its last checkpoint instead of refolding the whole log.

A checkpoint is a ``streams.snapshot`` (the state plus the source offsets it reflects), cut
into parts small enough for Kafka's default message size, written to one of two slots, then
named by a ``manifest`` record:

    key ``A/0`` ... ``A/n``  -> generation (8 bytes, big-endian) + part
    key ``manifest``         -> JSON: generation, slot, parts, sha256, size, written_at

Generations alternate between the slots ``A`` and ``B``, and the manifest is written only after
every part was acknowledged (``acks=all``): a worker killed while writing leaves the previous
slot and manifest intact. Compaction keeps the latest record of every key, which is all a load
reads. A checkpoint that fails its checksum loads as nothing, and the worker rebuilds from the
log (always correct, only slower).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from sanjiang.kafka.client import make_consumer
from sanjiang.settings import Settings

log = logging.getLogger(__name__)
PART_BYTES = 512 * 1024  #: well under the broker's default 1 MiB message size
MANIFEST = b"manifest"
SLOTS = ("A", "B")
_GENERATION = struct.Struct(">Q")


@dataclass(frozen=True)
class Checkpoint:
    generation: int
    data: bytes


def parts_of(generation: int, data: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of one checkpoint, its manifest last."""
    slot = SLOTS[generation % 2]
    prefix = _GENERATION.pack(generation)
    chunks = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
    records = [(f"{slot}/{i}".encode(), prefix + chunk) for i, chunk in enumerate(chunks)]
    manifest = {
        "generation": generation,
        "slot": slot,
        "parts": len(chunks),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "written_at": datetime.now(UTC).isoformat(),
    }
    return [*records, (MANIFEST, orjson.dumps(manifest))]


def assemble(latest: dict[bytes, bytes]) -> Checkpoint | None:
    """The checkpoint the latest manifest names, from the latest record of every key; ``None``
    if there is none or it is incomplete or corrupt."""
    raw = latest.get(MANIFEST)
    if raw is None:
        return None
    manifest = orjson.loads(raw)
    generation, slot = manifest["generation"], manifest["slot"]
    chunks = []
    for i in range(manifest["parts"]):
        value = latest.get(f"{slot}/{i}".encode())
        if value is None or _GENERATION.unpack_from(value)[0] != generation:
            log.warning("checkpoint %s is missing part %s: rebuilding from the log", generation, i)
            return None
        chunks.append(value[_GENERATION.size :])
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        log.warning("checkpoint %s fails its checksum: rebuilding from the log", generation)
        return None
    return Checkpoint(generation, data)


class CheckpointStore:
    """Reads and writes the checkpoints of one deployment's worker."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.generation = 0  #: of the last checkpoint loaded or written

    async def load(self) -> Checkpoint | None:
        """The latest complete checkpoint (reads the changelog to its end)."""
        consumer = make_consumer(self.settings, group_id=None, isolation_level="read_uncommitted")
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            latest: dict[bytes, bytes] = {}
            while await consumer.position(tp) < end:
                for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    for record in records:
                        if record.key is not None and record.value is not None:
                            latest[record.key] = record.value
        finally:
            await consumer.stop()
        checkpoint = assemble(latest)
        if checkpoint is not None:
            self.generation = checkpoint.generation
        return checkpoint

    async def save(self, producer: AIOKafkaProducer, data: bytes) -> int:
        """Write ``data`` as the next checkpoint; returns its generation once every record of
        it is acknowledged."""
        generation = self.generation + 1
        # in a thread: hashing tens of megabytes releases the GIL, the fold goes on meanwhile
        *parts, manifest = await asyncio.to_thread(parts_of, generation, data)
        futures = [await producer.send(self.topic, value, key=key) for key, value in parts]
        for future in futures:
            await future  # every part durable before the manifest names them
        await (await producer.send(self.topic, manifest[1], key=manifest[0]))
        self.generation = generation
        return generation
