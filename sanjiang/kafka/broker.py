"""A local single-node Apache Kafka (KRaft) run from the jars Maven fetches into infra/kafka.

State lives under ``<var_dir>/kafka``: ``data/`` (the log), ``logs/`` (broker logs),
``server.properties`` and ``broker.pid``. Start formats storage on first use, launches the broker
in its own session (it outlives the CLI), and waits until it answers a metadata request.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sanjiang.kafka.security import ADMIN_USER, SCRAM_MECHANISM, broker_security
from sanjiang.settings import Settings

Progress = Callable[[str], None]


class KafkaError(RuntimeError):
    """The local broker could not be set up, started or stopped."""


def _silent(_: str) -> None:
    return None


def find_kafka_home(start: Path | None = None) -> Path:
    """The ``infra/kafka`` folder with pom.xml (searched up from cwd, then from this file)."""
    candidates = [start or Path.cwd(), Path(__file__).resolve()]
    for origin in candidates:
        for folder in (origin, *origin.parents):
            if (folder / "infra" / "kafka" / "pom.xml").is_file():
                return folder / "infra" / "kafka"
    raise KafkaError("cannot find infra/kafka/pom.xml; run from the Sanjiang checkout")


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    answering: bool
    bootstrap: str

    def describe(self) -> str:
        if not self.running:
            return f"kafka: stopped ({self.bootstrap})"
        state = "answering" if self.answering else "not answering yet"
        return f"kafka: running, pid {self.pid}, {state} on {self.bootstrap}"


def new_cluster_id() -> str:
    """A random KRaft cluster id: 22 URL-safe base64 characters, never starting with "-"
    (the storage tool would read it as an option; Kafka's own Uuid.randomUuid avoids it too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    """Lifecycle of the local broker: ``start``, ``stop``, ``status``.

    With ``scram`` (user -> password) the broker authenticates every client as the production
    stack's does: SASL/SCRAM-SHA-512 on the client listener, SASL/PLAIN (the admin only) on the
    controller listener, the standard authorizer with ``allow.everyone.if.no.acl.found=false``
    and the admin (``security.ADMIN_USER``, whose password ``scram`` holds) as super user; the
    settings must then name that admin as their Kafka user. Without, plain 127.0.0.1 listeners
    (the embedded profile)."""

    def __init__(
        self,
        settings: Settings,
        kafka_home: Path | None = None,
        scram: Mapping[str, str] | None = None,
    ) -> None:
        if settings.kafka_external:
            raise KafkaError(
                f"SANJIANG_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} points at an existing "
                "cluster; the local broker is not used"
            )
        self.settings = settings
        self.scram = dict(scram) if scram else None
        if self.scram is not None and ADMIN_USER not in self.scram:
            raise KafkaError(f"a broker with SCRAM users needs {ADMIN_USER} among them")
        self.home = kafka_home or find_kafka_home()
        self.root = settings.var_dir.resolve() / "kafka"
        self.data_dir = self.root / "data"
        self.logs_dir = self.root / "logs"
        self.config_file = self.root / "server.properties"
        self.log4j_file = self.root / "log4j2.properties"
        self.pid_file = self.root / "broker.pid"

    # --- classpath -------------------------------------------------------------------

    @property
    def jars_dir(self) -> Path:
        return self.home / "target" / "dependency"

    def ensure_jars(self, progress: Progress = _silent) -> Path:
        """Fetch the broker jars with Maven unless they are already there."""
        marker = self.jars_dir / ".complete"
        if marker.is_file():
            return self.jars_dir
        if shutil.which("mvn") is None:
            raise KafkaError("Maven (mvn) is needed to fetch the Kafka jars; install Maven 3.8+")
        progress("fetching Apache Kafka jars with Maven (first run only)…")
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(self.home / "pom.xml"), "dependency:copy-dependencies"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise KafkaError(
                f"mvn failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        if not any(self.jars_dir.glob("kafka_2.13-*.jar")):
            raise KafkaError(f"mvn ran but no kafka_2.13 jar is in {self.jars_dir}")
        marker.write_text("ok\n")
        return self.jars_dir

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if not java:
            raise KafkaError("Java 17+ is needed to run Kafka; none found (set JAVA_HOME or PATH)")
        return java

    def _java_cmd(self, main_class: str, *args: str) -> list[str]:
        return [
            self._java(),
            f"-Xmx{self.settings.kafka_heap}",
            f"-Xms{self.settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            f"{self.jars_dir}/*",
            main_class,
            *args,
        ]

    # --- configuration ---------------------------------------------------------------

    def write_config(self) -> None:
        """(Re)write server.properties and the log4j2 config from the settings."""
        port, cport = self.settings.kafka_port, self.settings.kafka_controller_port
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "# written by `sanjiang kafka start`; edit the settings, not this file",
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{cport}",
                    *self._listeners(port, cport),
                    f"log.dirs={self.data_dir}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # flush is left to the OS: durability comes from acks=all + fsync on shutdown
                    "",
                ]
            )
        )
        self.log4j_file.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = File",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {self.logs_dir}/server.log",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "logger.state.name = state.change.logger",
                    "logger.state.level = WARN",
                    "",
                ]
            )
        )

    def _listeners(self, port: int, cport: int) -> list[str]:
        if self.scram is None:
            return [
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        return [
            f"listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=SASL_PLAINTEXT",
            "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,"
            "CONTROLLER:SASL_PLAINTEXT",
            *broker_security(self.scram[ADMIN_USER], ["sasl_plaintext"]),
        ]

    def is_formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    def format_storage(self) -> None:
        """Format the KRaft storage once, with a fresh cluster id."""
        cluster_id = new_cluster_id()
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.config_file),
            "--standalone",
            *(
                argument
                for user, password in (self.scram or {}).items()
                for argument in (
                    "--add-scram",
                    f"{SCRAM_MECHANISM}=[name={user},password={password}]",
                )
            ),
        )
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def apply_acls(self, commands: list[list[str]]) -> None:
        """Run ``kafka-acls`` (``AclCommand``) as the admin, each ``--add`` command at once."""
        if self.scram is None:
            raise KafkaError("ACLs need a broker with SCRAM users")
        admin_config = self.root / "admin-client.properties"
        admin_config.write_text(
            "security.protocol=SASL_PLAINTEXT\n"
            f"sasl.mechanism={SCRAM_MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{self.scram[ADMIN_USER]}";\n'
        )
        admin_config.chmod(0o600)
        tool = [
            self._java(),
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            f"{self.jars_dir}/*",
            "org.apache.kafka.tools.AclCommand",
            "--bootstrap-server",
            self.settings.bootstrap_servers,
            "--command-config",
            str(admin_config),
        ]
        running = [
            subprocess.Popen(
                [*tool, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for command in commands
        ]
        failed = []
        for process, command in zip(running, commands, strict=True):
            output, _ = process.communicate()
            if process.returncode != 0:
                failed.append(f"{shlex.join(command)}:\n{output[-1500:]}")
        if failed:
            raise KafkaError("kafka-acls failed:\n" + "\n".join(failed))

    # --- lifecycle -------------------------------------------------------------------

    def pid(self) -> int | None:
        """The broker's pid if it is running (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid) and _is_kafka(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def status(self) -> BrokerStatus:
        pid = self.pid()
        answering = pid is not None and _port_open(self.settings.kafka_port)
        return BrokerStatus(pid is not None, pid, answering, self.settings.bootstrap_servers)

    def start(self, progress: Progress = _silent) -> BrokerStatus:
        """Start the broker unless it runs already; return once it answers."""
        if self.pid() is not None:
            self.wait_ready()
            return self.status()
        for port in (self.settings.kafka_port, self.settings.kafka_controller_port):
            if _port_open(port):
                raise KafkaError(f"port {port} on 127.0.0.1 is taken by another process")
        self.ensure_jars(progress)
        self.write_config()
        if not self.is_formatted():
            progress(f"formatting KRaft storage in {self.data_dir}")
            self.format_storage()
        progress(f"starting Kafka on {self.settings.bootstrap_servers} (logs: {self.logs_dir})")
        # Launched through sh with `&` so the broker is re-parented to init: it outlives this
        # process as a daemon and never becomes our zombie. sh prints the broker's pid.
        command = shlex.join(self._java_cmd("kafka.Kafka", str(self.config_file)))
        out = shlex.quote(str(self.logs_dir / "broker.out"))
        launched = subprocess.run(
            ["sh", "-c", f"{command} >>{out} 2>&1 </dev/null & echo $!"],
            capture_output=True,
            text=True,
            check=True,
            start_new_session=True,
        )
        pid = int(launched.stdout.strip())
        self.pid_file.write_text(f"{pid}\n")
        self.wait_ready(pid)
        return self.status()

    def wait_ready(self, pid: int | None = None) -> None:
        """Block until the broker answers a metadata request, or raise with the log's tail."""
        deadline = time.monotonic() + self.settings.kafka_start_timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            if pid is not None and not _alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise KafkaError(f"Kafka exited during start-up:\n{self.log_tail()}")
            try:
                with _quiet("aiokafka"):
                    asyncio.run(probe(self.settings))
                return
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise KafkaError(
            f"Kafka did not answer within {self.settings.kafka_start_timeout_s:.0f}s "
            f"({last_error}); see {self.logs_dir}:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the broker cleanly (SIGTERM; SIGKILL after ``timeout_s``). False if not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self._wait_ports_released()
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> bool:
        """Kill the broker at once (SIGKILL), as a crash would."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
        self._wait_ports_released()
        self.pid_file.unlink(missing_ok=True)
        return True

    def _wait_ports_released(self, timeout_s: float = 15.0) -> None:
        """Wait until the broker's ports stop answering: a JVM's threads (and its sockets)
        can outlive the moment its main thread shows up as a zombie."""
        deadline = time.monotonic() + timeout_s
        ports = (self.settings.kafka_port, self.settings.kafka_controller_port)
        while time.monotonic() < deadline and any(_port_open(p) for p in ports):
            time.sleep(0.1)

    def log_tail(self, lines: int = 30) -> str:
        chunks = []
        for name in ("broker.out", "server.log"):
            path = self.logs_dir / name
            if path.is_file():
                chunks.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(chunks[-lines:])


async def probe(settings: Settings, timeout_s: float = 5.0) -> None:
    """Raise unless the cluster answers a metadata request (as the settings' Kafka user)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from sanjiang.kafka.client import security_config

    admin = AIOKafkaAdminClient(
        **security_config(settings),
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=int(timeout_s * 1000),
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        await asyncio.wait_for(admin.list_topics(), timeout_s)
    finally:
        await admin.close()


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library's connection-refused noise while polling a broker that is starting."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _is_kafka(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"kafka.Kafka" in cmdline.read()
    except FileNotFoundError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
        # On Linux a connect to a free port in the ephemeral range can connect to itself
        # (TCP simultaneous open); that is not a listener.
        return bool(sock.getsockname()[1] != port)
