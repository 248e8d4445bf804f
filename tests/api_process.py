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
from sanjiang.ports import free_port
from sanjiang.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


class ApiProcess:
    """``sanjiang api`` in a process of its own that a test can stop and start again on the
    same port, topics and var directory (a kiosk that loses the API and finds it back)."""

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers ``/healthz``."""
        log = self.settings.var_dir / "api.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "sanjiang", "api"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        self.process = process
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.settings.api_port}/healthz", timeout=2
                ):
                    return
            except OSError:
                assert time.monotonic() < deadline, f"the API never answered:\n{log.read_text()}"
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop it (SIGTERM: it shuts down as it would in production)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None


@contextmanager
def restartable_api(
    kafka_settings: Settings,
    var: Path,
    hosts_sink: bool = False,
    prefix: str | None = None,
    **env: str,
) -> Iterator[ApiProcess]:
    """As ``api_process``, yielding the process to stop and start again."""
    prefix = prefix or f"t{uuid.uuid4().hex[:12]}"
    settings = kafka_settings.model_copy(
        update={"topic_prefix": prefix, "var_dir": var, "api_port": free_port()}
    )
    asyncio.run(ensure_topics(settings, Topics(prefix, settings.event_partitions)))
    api = ApiProcess(
        settings,
        {
            **os.environ,
            **env,
            "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
            "SANJIANG_TOPIC_PREFIX": prefix,
            "SANJIANG_VAR_DIR": str(var),
            "SANJIANG_API_PORT": str(settings.api_port),
            "SANJIANG_API_HOSTS_SINK": "true" if hosts_sink else "false",
            "SANJIANG_SINK_BATCH_SECONDS": "0.2",
        },
    )
    api.start()
    try:
        yield api
    finally:
        api.stop()


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
    with restartable_api(kafka_settings, var, hosts_sink, prefix, **env) as api:
        yield api.settings


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
        "SANJIANG_DECIDERS_METRICS_PORT": "0",  # several at once: no fixed port (test_up)
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
