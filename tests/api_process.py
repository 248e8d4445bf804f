"""The API as ``sanjiang api`` runs it, in a process of its own under uvicorn, for the tests
that use it over HTTP (Schemathesis, the browser, the README's examples)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def api_process(
    kafka_settings: Settings,
    var: Path,
    hosts_sink: bool = False,
    prefix: str | None = None,
    **env: str,
) -> Iterator[Settings]:
    """Start the API on fresh topics (or those of ``prefix``) and a free port (``env``: more
    SANJIANG_ variables); yields its settings (``api_port``, ``var_dir``: where keys and
    accounts for it are made); stops it at the end."""
    prefix = prefix or f"t{uuid.uuid4().hex[:12]}"
    settings = kafka_settings.model_copy(
        update={"topic_prefix": prefix, "var_dir": var, "api_port": free_port()}
    )
    asyncio.run(ensure_topics(settings, Topics(prefix, settings.event_partitions)))
    env = {
        **os.environ,
        **env,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": prefix,
        "SANJIANG_VAR_DIR": str(var),
        "SANJIANG_API_PORT": str(settings.api_port),
        "SANJIANG_API_HOSTS_SINK": "true" if hosts_sink else "false",
        "SANJIANG_SINK_BATCH_SECONDS": "0.2",
    }
    log = var / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sanjiang", "api"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{settings.api_port}/healthz", timeout=2
                ):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"the API never answered:\n{log.read_text()}"
                time.sleep(0.2)
        yield settings
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def deciders_process(
    settings: Settings, name: str = "deciders"
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``sanjiang deciders`` for ``settings``' topics (its log: ``<var>/<name>.log``);
    yields the process; stops it at the end (unless the test killed it)."""
    env = {
        **os.environ,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": settings.topic_prefix,
        "SANJIANG_VAR_DIR": str(settings.var_dir),
        "SANJIANG_EVENT_PARTITIONS": str(settings.event_partitions),
        "SANJIANG_FAUST_LOG_LEVEL": "INFO",
        **({"SANJIANG_NETWORK_FILE": str(settings.network_file)} if settings.network_file else {}),
    }
    log = settings.var_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sanjiang", "deciders"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
