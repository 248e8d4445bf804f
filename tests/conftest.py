"""Shared fixtures. The real Kafka broker is started once per session, only if a test needs it.

Set ``SANJIANG_TEST_KAFKA_BOOTSTRAP`` to run the integration tests against an existing cluster.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sanjiang.kafka.broker import LocalKafka
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.ports import free_port
from sanjiang.settings import Settings, load_settings


def local_kafka_settings(var_dir: Path, **overrides: object) -> Settings:
    """Settings for a private local broker on free ports under ``var_dir``."""
    return load_settings(
        var_dir=var_dir,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        kafka_heap="384m",
        **overrides,
    )


@pytest.fixture(scope="session")
def kafka_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a running real broker (started here, stopped at session end)."""
    external = os.environ.get("SANJIANG_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield load_settings(kafka_bootstrap=external, var_dir=tmp_path_factory.mktemp("var"))
        return
    settings = local_kafka_settings(tmp_path_factory.mktemp("kafka-session"))
    broker = LocalKafka(settings)
    broker.start()
    try:
        yield settings.model_copy(update={"kafka_bootstrap": settings.bootstrap_servers})
    finally:
        broker.stop()


@pytest.fixture
def topics(kafka_settings: Settings) -> Topics:
    """Fresh topics for one test (a unique prefix), created on the real broker."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    topics = Topics(prefix, event_partitions=kafka_settings.event_partitions)
    asyncio.run(ensure_topics(kafka_settings, topics))
    return topics


@pytest.fixture
def group_id() -> str:
    """A consumer group no other test uses."""
    return f"g{uuid.uuid4().hex[:12]}"
