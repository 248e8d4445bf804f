"""Runs the platform's processes side by side: starts them, restarts one that dies, stops all.

Every supervised thing is a :class:`Service` — a child process (:class:`ChildService`, its log
under ``<var_dir>/logs``) or the local Kafka broker (:class:`BrokerService`). One that exits is
restarted with a growing delay (1 s, 2 s, … 30 s) and the reason is reported; one that died
``max_restarts`` times within ``window_s`` keeps dying: it is reported and left down, not
restarted forever. The state of every service is written to ``processes.json`` in the logs
folder (the API shows it in the pipeline's health). ``stop`` stops the services in reverse start
order (the broker, started first, last), SIGTERM then SIGKILL; it is idempotent and finishes
whatever signals arrive meanwhile (the caller ignores them while it runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson

from sanjiang.kafka.broker import LocalKafka

STATUS_FILE = "processes.json"


class Service(Protocol):
    """Something the supervisor keeps running."""

    name: str

    def launch(self) -> None:
        """Start it (return once it runs; a broker once it answers)."""

    def exit_reason(self) -> str | None:
        """None while it runs; why it stopped once it has."""

    def stop(self, timeout_s: float) -> None:
        """Stop it (SIGTERM, then SIGKILL after ``timeout_s``); nothing if it is not running."""


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


class ChildService:
    """A child process in its own session, its output appended to ``<logs>/<name>.log``."""

    def __init__(self, spec: ChildSpec, logs_dir: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.log_path = logs_dir / f"{spec.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.spec.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.spec.env},
                start_new_session=True,  # Ctrl-C reaches us, and we stop children in order
            )

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exit_reason(self) -> str | None:
        if self.process is None:
            return "not started"
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with {code}"

    def stop(self, timeout_s: float) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BrokerService:
    """The local Kafka broker (a daemon of its own, found by its pid file)."""

    name = "kafka"

    def __init__(self, broker: LocalKafka, progress: Callable[[str], None]) -> None:
        self.broker = broker
        self.progress = progress
        self.log_path = broker.logs_dir / "server.log"

    @property
    def pid(self) -> int | None:
        return self.broker.pid()

    def launch(self) -> None:
        self.broker.start(progress=self.progress)

    def exit_reason(self) -> str | None:
        if self.broker.pid() is not None:
            return None
        tail = self.broker.log_tail(3).strip().splitlines()
        return "the broker stopped" + (f" (log: {tail[-1][:200]})" if tail else "")

    def stop(self, timeout_s: float) -> None:
        self.broker.stop(timeout_s)


@dataclass
class ServiceState:
    """What ``processes.json`` says of one service."""

    name: str
    state: str  #: running, restarting, stopped, gave_up
    pid: int | None = None
    restarts: int = 0
    last_exit: str | None = None
    last_exit_at: str | None = None


@dataclass
class _Watched:
    service: Service
    state: ServiceState
    deaths: list[float] = field(default_factory=list)
    next_start: float | None = None  #: when to restart it (None: running or given up)


class Supervisor:
    def __init__(
        self,
        logs_dir: Path,
        report: Callable[[str], None],
        max_restarts: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logs_dir = logs_dir
        self.report = report
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.clock = clock
        self._watched: list[_Watched] = []
        self._stopped = False

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def start(self, spec: ChildSpec) -> ChildService:
        """Start a child process and keep it running."""
        service = ChildService(spec, self.logs_dir)
        self.add(service)
        return service

    def add(self, service: Service) -> None:
        """Start a service and keep it running."""
        service.launch()
        self._watched.append(_Watched(service, ServiceState(service.name, "running")))
        self._refresh(self._watched[-1])
        self._write_status()

    def watch(self) -> None:
        """Restart what died, report what keeps dying (call periodically)."""
        if self._stopped:
            return
        now = self.clock()
        changed = False
        for watched in self._watched:
            state = watched.state
            if state.state == "gave_up":
                continue
            if watched.next_start is not None:
                if now >= watched.next_start:
                    watched.next_start = None
                    self._relaunch(watched)
                    changed = True
                continue
            reason = watched.service.exit_reason()
            if reason is None:
                continue
            changed = True
            self._died(watched, reason, now)
        if changed:
            self._write_status()

    def _died(self, watched: _Watched, reason: str, now: float) -> None:
        state = watched.state
        state.last_exit = reason
        state.last_exit_at = datetime.now(UTC).isoformat(timespec="seconds")
        state.pid = None
        watched.deaths = [t for t in watched.deaths if now - t < self.window_s] + [now]
        if len(watched.deaths) > self.max_restarts:
            state.state = "gave_up"
            self.report(
                f"{state.name} {reason}; it died {len(watched.deaths)} times within "
                f"{self.window_s:.0f}s and is not restarted again — see its log "
                f"({self._log_of(watched.service)})"
            )
            return
        delay = min(30.0, 2.0 ** min(len(watched.deaths) - 1, 5))
        state.state = "restarting"
        watched.next_start = now + delay
        self.report(
            f"{state.name} {reason}; restarting in {delay:.0f}s "
            f"(log: {self._log_of(watched.service)})"
        )

    def _relaunch(self, watched: _Watched) -> None:
        try:
            watched.service.launch()
        except Exception as exc:  # a broker that cannot start counts as one more death
            self._died(watched, f"could not start ({exc})"[:300], self.clock())
            return
        watched.state.restarts += 1
        watched.state.state = "running"
        self._refresh(watched)
        self.report(f"{watched.state.name} restarted")

    @staticmethod
    def _refresh(watched: _Watched) -> None:
        watched.state.pid = getattr(watched.service, "pid", None)

    @staticmethod
    def _log_of(service: Service) -> Path | str:
        return getattr(service, "log_path", "")

    def gave_up(self) -> list[str]:
        """Services left down because they kept dying."""
        return [w.state.name for w in self._watched if w.state.state == "gave_up"]

    def states(self) -> list[ServiceState]:
        return [w.state for w in self._watched]

    def _write_status(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        path = self.logs_dir / STATUS_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(
            orjson.dumps(
                {
                    "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "processes": [asdict(w.state) for w in self._watched],
                }
            )
        )
        temporary.replace(path)

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop every service, the last started first (the broker last); idempotent."""
        self._stopped = True
        for watched in reversed(self._watched):
            if watched.state.state == "stopped":
                continue
            try:
                watched.service.stop(timeout_s)
            except Exception as exc:  # one that cannot be stopped must not keep the rest up
                self.report(f"stopping {watched.state.name} failed: {exc}")
            watched.state.state = "stopped"
            watched.state.pid = None
        self._write_status()


def read_status(logs_dir: Path) -> dict[str, object] | None:
    """The supervisor's last ``processes.json``, if any (for the pipeline's health)."""
    try:
        document = orjson.loads((logs_dir / STATUS_FILE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None
