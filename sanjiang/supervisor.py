"""Runs the platform's processes side by side: starts them, restarts one that dies, stops all.

Each child gets its own log file under ``<var_dir>/logs``; a child that exits is restarted with
a growing delay (1 s, 2 s, … 30 s) and the restart is reported. ``stop`` sends SIGTERM to every
child, waits, then SIGKILLs what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0


class Supervisor:
    def __init__(self, logs_dir: Path, report: Callable[[str], None]) -> None:
        self.logs_dir = logs_dir
        self.report = report
        self._children: list[_Child] = []

    def start(self, spec: ChildSpec) -> None:
        child = _Child(spec)
        self._children.append(child)
        self._launch(child)

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def _launch(self, child: _Child) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path(child.spec.name).open("ab") as log:
            child.process = subprocess.Popen(
                child.spec.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **child.spec.env},
                start_new_session=True,  # Ctrl-C reaches us, and we stop children in order
            )

    def watch(self) -> None:
        """Restart children that exited (call periodically)."""
        now = time.monotonic()
        for child in self._children:
            if child.process is None:
                if now >= child.next_start:
                    self._launch(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.restarts += 1
            delay = min(30.0, 2.0 ** min(child.restarts - 1, 5))
            self.report(
                f"{child.spec.name} exited with {code}; restarting in {delay:.0f}s "
                f"(log: {self.log_path(child.spec.name)})"
            )
            child.process = None
            child.next_start = now + delay

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop children in reverse start order: SIGTERM, wait, then SIGKILL."""
        for child in reversed(self._children):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in reversed(self._children):
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.process = None
