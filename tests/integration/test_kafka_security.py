"""A broker that authenticates its clients (SASL/SCRAM) and authorizes them by the platform's
ACLs (``sanjiang.kafka.security``), as the production stack runs it: a client without the
credentials of a process cannot write events; each process can do its own work and no other's;
and the whole pipeline (API → events → sink → warehouse, and the stream worker) runs with
each process as its own user.

One broker for the module, made by the compose stack's own scripts (infra/kafka/start.sh,
then acls.sh: ``compose_broker``), which the tests check are written from
``sanjiang.kafka.security``."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from projections.sink import WarehouseSink
from projections.warehouse import ChdbWarehouse
from sanjiang.events import encode_event
from sanjiang.kafka.broker import find_kafka_home, new_cluster_id, probe
from sanjiang.kafka.client import make_consumer, make_producer
from sanjiang.kafka.security import (
    ADMIN_USER,
    API_USER,
    PASSWORD_VARIABLES,
    SINK_USER,
    STREAMS_USER,
    WAREHOUSE_GROUP,
    acls_script,
    broker_start_script,
)
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.ports import free_port
from sanjiang.settings import Settings, load_settings
from tests.access import bearer, device_key, staff_token
from tests.integration.test_ingest_api import checkin
from tests.integration.test_live import start_worker, wait_for

pytestmark = pytest.mark.integration
PREFIX = "sanjiang"  #: the compose stack's topics (acls.sh names them)
#: the short-lived tools' JVMs (the storage format, kafka-acls' seventeen runs) compile with
#: C1 only; kafka-acls' runs after the first load their classes from the archive it left
TOOL_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
ROOT = Path(__file__).resolve().parents[2]


class SecureCluster:
    def __init__(self, admin: Settings, passwords: dict[str, str]) -> None:
        self.admin = admin
        self.passwords = passwords
        self.topics = Topics(PREFIX, 2)

    def user(self, name: str, password: str | None = None) -> Settings:
        return self.admin.model_copy(
            update={
                "kafka_username": name,
                "kafka_password": SecretStr(password or self.passwords[name]),
            }
        )

    def anonymous(self) -> Settings:
        return self.admin.model_copy(
            update={
                "kafka_security_protocol": "PLAINTEXT",
                "kafka_username": None,
                "kafka_password": None,
            }
        )


@dataclass
class ComposeBroker:
    """The compose stack's broker, made by its own scripts: what they printed, its ports."""

    cluster: SecureCluster
    acls: subprocess.CompletedProcess[str]
    host_port: int


@pytest.fixture(scope="module")
def compose_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeBroker]:
    """start.sh and acls.sh as the compose stack runs them, on the Maven jars instead of the
    image's (shims for its bin/ scripts), on 127.0.0.1: the one broker of the module."""
    tmp_path = tmp_path_factory.mktemp("compose-kafka")
    jars = find_kafka_home() / "target" / "dependency"
    home = tmp_path / "kafka-home"
    (home / "bin").mkdir(parents=True)
    classes = tmp_path / "kafka-acls.jsa"  # a class-data archive, written by the first run
    archive = (
        f"if [ -f {classes} ]; then A=-XX:SharedArchiveFile={classes}; "
        f"else A=-XX:ArchiveClassesAtExit={classes}; fi\n"
    )
    for script, main, flags, prelude in (
        ("kafka-storage.sh", "kafka.tools.StorageTool", TOOL_FLAGS, ""),
        ("kafka-server-start.sh", "kafka.Kafka", "", ""),
        ("kafka-acls.sh", "org.apache.kafka.tools.AclCommand", f"{TOOL_FLAGS} $A", archive),
    ):
        shim = home / "bin" / script
        java = f'exec java -Xmx384m {flags} -cp "{jars}/*" {main} "$@"\n'
        shim.write_text(f"#!/bin/sh\n{prelude}{java}")
        shim.chmod(0o755)
    passwords = {user: secrets.token_hex(24) for user in PASSWORD_VARIABLES}
    ports = {name: free_port() for name in ("INTERNAL", "CONTROLLER", "HOST")}
    env = {
        **os.environ,
        **{PASSWORD_VARIABLES[user]: password for user, password in passwords.items()},
        "CLUSTER_ID": new_cluster_id(),
        "KAFKA_HOME": str(home),
        "KAFKA_DATA": str(tmp_path / "data"),
        "KAFKA_CONFIG_DIR": str(tmp_path),
        "KAFKA_HOSTNAME": "127.0.0.1",
        "KAFKA_LISTEN_HOST": "127.0.0.1",
        "KAFKA_HOST_ADVERTISED": "127.0.0.1",
        "KAFKA_INTERNAL_PORT": str(ports["INTERNAL"]),
        "KAFKA_CONTROLLER_PORT": str(ports["CONTROLLER"]),
        "KAFKA_HOST_PORT": str(ports["HOST"]),
    }
    log = (tmp_path / "broker.log").open("wb")
    broker = subprocess.Popen(
        ["sh", str(ROOT / "infra" / "kafka" / "start.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    admin = load_settings(
        var_dir=tmp_path,
        kafka_bootstrap=f"127.0.0.1:{ports['INTERNAL']}",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_username=ADMIN_USER,
        kafka_password=passwords[ADMIN_USER],
        topic_prefix=PREFIX,
        event_partitions=2,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert broker.poll() is None, (tmp_path / "broker.log").read_text()[-3000:]
            try:
                asyncio.run(probe(admin))
                break
            except Exception:
                assert time.monotonic() < deadline, "the broker never answered"
                time.sleep(0.5)
        cluster = SecureCluster(admin, passwords)
        asyncio.run(ensure_topics(admin, cluster.topics))
        acls = subprocess.run(
            ["sh", str(ROOT / "infra" / "kafka" / "acls.sh")],
            env={**env, "KAFKA_BOOTSTRAP": admin.bootstrap_servers},
            capture_output=True,
            text=True,
            check=False,
        )
        yield ComposeBroker(cluster, acls, ports["HOST"])
    finally:
        os.killpg(broker.pid, signal.SIGTERM)
        broker.wait(60)
        log.close()


@pytest.fixture(scope="module")
def cluster(compose_broker: ComposeBroker) -> SecureCluster:
    """The compose stack's broker, its ACLs applied."""
    acls = compose_broker.acls
    assert acls.returncode == 0, acls.stdout + acls.stderr
    return compose_broker.cluster


async def can_produce(settings: Settings, topic: str) -> bool:
    producer = make_producer(settings, request_timeout_ms=8000, enable_idempotence=False)
    try:
        await asyncio.wait_for(producer.start(), 20)
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"WS-R03"), 20)
    except Exception:
        return False
    finally:
        await producer.stop()
    return True


async def can_consume(settings: Settings, topic: str, group: str) -> bool:
    consumer = make_consumer(settings, topic, group_id=group, request_timeout_ms=8000)
    try:
        await asyncio.wait_for(consumer.start(), 20)
        batch = await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 20)
        await consumer.commit()
    except Exception:
        return False
    finally:
        await consumer.stop()
    return batch is not None


def assert_each_process_may_only_do_its_part(cluster: SecureCluster) -> None:
    events, live = cluster.topics.events, cluster.topics.live

    def run(coro: Any) -> bool:
        return bool(asyncio.run(coro))

    assert not run(can_produce(cluster.anonymous(), events))  # no credentials: not even a word
    assert not run(can_produce(cluster.user(API_USER, "not-the-password"), events))
    assert run(can_produce(cluster.user(API_USER), events))
    assert not run(can_produce(cluster.user(STREAMS_USER), events))
    assert not run(can_produce(cluster.user(SINK_USER), events))
    assert not run(can_produce(cluster.user(API_USER), live))  # views come from the worker
    assert run(can_produce(cluster.user(STREAMS_USER), live))
    assert run(can_consume(cluster.user(SINK_USER), events, WAREHOUSE_GROUP))
    assert not run(can_consume(cluster.user(SINK_USER), events, "someone-elses-group"))
    assert not run(can_consume(cluster.user(API_USER), events, WAREHOUSE_GROUP))


def test_only_authenticated_processes_write_and_each_only_its_part(cluster: SecureCluster) -> None:
    assert_each_process_may_only_do_its_part(cluster)


def test_the_pipeline_runs_with_each_process_as_its_own_user(
    cluster: SecureCluster, tmp_path: Path
) -> None:
    api_settings = cluster.user(API_USER).model_copy(
        update={"var_dir": tmp_path, "api_hosts_sink": False}
    )
    kiosk = device_key(api_settings, "WS-R03-K1", "WS-R03", "kiosk")
    viewer = staff_token(api_settings)
    event = checkin()
    worker = start_worker(
        cluster.user(STREAMS_USER).model_copy(update={"var_dir": tmp_path}),
        SANJIANG_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        SANJIANG_KAFKA_USERNAME=STREAMS_USER,
        SANJIANG_KAFKA_PASSWORD=cluster.passwords[STREAMS_USER],
        SANJIANG_EVENT_PARTITIONS="2",
    )
    try:
        with TestClient(create_app(api_settings)) as client:
            answer = client.post(
                "/v1/events",
                content=encode_event(event),
                headers={**bearer(kiosk), "content-type": "application/json"},
            )
            assert answer.status_code == 202, answer.text
            client.headers.update(bearer(viewer))
            wait_for(client, "/v1/live/pipeline", {"applied": 1}, timeout_s=120)
        warehouse = ChdbWarehouse(tmp_path / "warehouse")
        try:
            from projections.migrate import migrate

            migrate(warehouse)
            sink = WarehouseSink(cluster.user(SINK_USER), warehouse)
            asyncio.run(sink.run_until_idle(idle_s=2, timeout_s=120))
            stored = warehouse.query(
                "SELECT count() FROM sanjiang.events WHERE event_id = {id:UUID}",
                {"id": str(event.event_id)},
            ).scalar()
            assert stored == 1
        finally:
            warehouse.close()
    finally:
        worker.kill()
        worker.wait()


def test_the_compose_stacks_kafka_files_are_fresh() -> None:
    """infra/kafka/start.sh and acls.sh are written from sanjiang.kafka.security."""
    folder = ROOT / "infra" / "kafka"
    assert (folder / "start.sh").read_text() == broker_start_script()
    assert (folder / "acls.sh").read_text() == acls_script(Topics("sanjiang"))


def test_the_compose_stacks_kafka_start_and_acl_scripts_secure_a_real_broker(
    compose_broker: ComposeBroker,
) -> None:
    """start.sh and acls.sh as the compose stack runs them (``compose_broker``): the broker
    they make authenticates every client and each process may only do its part, on the
    internal listener and the operators' one."""
    acls = compose_broker.acls
    assert acls.returncode == 0, acls.stdout + acls.stderr
    assert "kafka ACLs applied" in acls.stdout
    cluster = compose_broker.cluster
    assert_each_process_may_only_do_its_part(cluster)
    on_host = cluster.user(API_USER).model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{compose_broker.host_port}"}
    )
    assert asyncio.run(can_produce(on_host, cluster.topics.events))  # the operators' listener
    assert not asyncio.run(can_produce(cluster.anonymous(), cluster.topics.events))
