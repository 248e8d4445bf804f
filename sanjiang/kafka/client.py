"""The one place Kafka clients are configured.

Security: with ``SANJIANG_KAFKA_SECURITY_PROTOCOL`` SASL_PLAINTEXT or SASL_SSL every client
(producers, consumers, admin, the Faust worker) authenticates as this process's user
(``SANJIANG_KAFKA_USERNAME``/``_PASSWORD``, SCRAM by default); what each user may do is the
cluster's ACLs (``sanjiang.kafka.security``).

Producers: ``acks=all`` with idempotence (no duplicates or reordering from the producer's own
retries within a session) and lz4 compression. Consumers: explicit commits only, after the
effect is durable; reading starts at the earliest offset so a new group sees the whole log.
Duplicates across producer sessions remain possible, so every consumer is idempotent on
``event_id``.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from sanjiang.settings import Settings

CLIENT_ID = "sanjiang"


def security_config(settings: Settings) -> dict[str, Any]:
    """How every client of the project authenticates (nothing for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    username, password = settings.kafka_username, settings.kafka_password
    if not (username and password):
        raise ValueError("SASL needs SANJIANG_KAFKA_USERNAME and SANJIANG_KAFKA_PASSWORD")
    config: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password.get_secret_value(),
    }
    if protocol == "SASL_SSL":
        config["ssl_context"] = ssl.create_default_context()
    return config


def producer_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every producer of the project."""
    return {
        **security_config(settings),
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": CLIENT_ID,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": "lz4",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30_000,
    }


def consumer_config(settings: Settings, group_id: str | None) -> dict[str, Any]:
    """Keyword arguments for every consumer of the project."""
    return {
        **security_config(settings),
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": CLIENT_ID,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": 5000,
    }


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """A producer with the project's settings (call ``await producer.start()``)."""
    return AIOKafkaProducer(**{**producer_config(settings), **overrides})


def make_consumer(
    settings: Settings, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer with the project's settings (call ``await consumer.start()``)."""
    return AIOKafkaConsumer(*topics, **{**consumer_config(settings, group_id), **overrides})


def admin_client(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        **security_config(settings),
        bootstrap_servers=settings.bootstrap_servers,
        client_id=CLIENT_ID,
    )
