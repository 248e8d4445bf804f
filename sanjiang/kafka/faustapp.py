"""The one way a Faust app of the platform is set up (the live fold's and the deciders'):
the cluster and credentials every client has, in-memory tables recovered from their
changelogs, no web server, and a short session timeout so a killed worker's partitions move
to another soon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from sanjiang.kafka.client import security_config
from sanjiang.settings import Settings


def faust_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """A Faust worker's SASL credentials, as every other client has them (``security_config``)."""
    config = security_config(settings)
    if not config:
        return None
    return faust.SASLCredentials(
        username=config["sasl_plain_username"],
        password=config["sasl_plain_password"],
        mechanism=config["sasl_mechanism"],
        ssl_context=config.get("ssl_context"),
    )


def faust_app(settings: Settings, name: str, datadir: Path, **overrides: Any) -> faust.App:
    """A Faust app ``<prefix>-<name>`` with its data under ``datadir`` (``overrides``: more
    Faust settings); nothing connects until its worker starts."""
    datadir.mkdir(parents=True, exist_ok=True)  # Faust itself only makes the last level
    return faust.App(
        f"{settings.topic_prefix}-{name}",
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=datadir,  # not Faust's default, ``<app id>-data`` in the working directory
        web_enabled=False,
        topic_replication_factor=1,
        topic_disable_leader=True,
        # a worker killed without leaving its group holds its partitions until the broker
        # gives up on it: 10 s, not Faust's 60
        broker_session_timeout=10.0,
        **overrides,
    )
