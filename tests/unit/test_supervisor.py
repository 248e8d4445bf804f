"""The supervisor with real child processes: restart after a crash, clean stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sanjiang.supervisor import ChildSpec, Supervisor, read_status


def test_restarts_a_crashed_child_and_stops_all(tmp_path: Path) -> None:
    messages: list[str] = []
    supervisor = Supervisor(tmp_path / "logs", messages.append)
    marker = tmp_path / "runs"
    crash_once = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "runs = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(runs))\n"
        "print('run', runs, flush=True)\n"
        "sys.exit(3) if runs == 1 else time.sleep(60)\n"
    )
    supervisor.start(ChildSpec("flaky", [sys.executable, "-c", crash_once]))
    supervisor.start(ChildSpec("steady", [sys.executable, "-c", "import time; time.sleep(60)"]))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        supervisor.watch()
        if marker.exists() and marker.read_text() == "2":
            break
        time.sleep(0.1)
    assert marker.read_text() == "2"
    assert any("flaky exited with 3; restarting" in m for m in messages)
    supervisor.stop(timeout_s=10)
    assert "run 1" in (tmp_path / "logs" / "flaky.log").read_text()


def test_a_child_that_keeps_dying_is_reported_and_left_down(tmp_path: Path) -> None:
    """Restarted with backoff, then given up on; processes.json says so (the pipeline's
    health shows it). The clock is the test's: no waiting for the backoff."""
    messages: list[str] = []
    now = [0.0]
    supervisor = Supervisor(
        tmp_path / "logs", messages.append, max_restarts=2, window_s=300, clock=lambda: now[0]
    )
    service = supervisor.start(ChildSpec("doomed", [sys.executable, "-c", "raise SystemExit(7)"]))
    for _ in range(20):
        assert service.process is not None
        service.process.wait(30)  # it died: let the supervisor see it
        supervisor.watch()
        now[0] += 60  # past any backoff
        supervisor.watch()  # relaunched (or given up)
        if supervisor.gave_up():
            break
    assert supervisor.gave_up() == ["doomed"]
    assert sum("restarting in" in m for m in messages) == 2
    assert "not restarted again" in messages[-1] and "exited with 7" in messages[-1]
    status = read_status(tmp_path / "logs")
    assert status is not None
    processes = status["processes"]
    assert isinstance(processes, list)
    (doomed,) = processes
    assert doomed["state"] == "gave_up" and doomed["restarts"] == 2
    assert doomed["last_exit"] == "exited with 7"
    supervisor.stop()


def test_stop_is_idempotent_and_stops_the_last_started_first(tmp_path: Path) -> None:
    order: list[str] = []

    class Recorded:
        def __init__(self, name: str) -> None:
            self.name = name

        def launch(self) -> None:
            return None

        def exit_reason(self) -> str | None:
            return None

        def stop(self, timeout_s: float) -> None:
            order.append(self.name)
            if self.name == "api":
                raise RuntimeError("refused")  # a failure does not keep the rest running

    supervisor = Supervisor(tmp_path / "logs", lambda _: None)
    for name in ("kafka", "api", "streams"):
        supervisor.add(Recorded(name))
    supervisor.stop()
    supervisor.stop()
    assert order == ["streams", "api", "kafka"]
    status = read_status(tmp_path / "logs")
    assert status is not None
    assert {p["state"] for p in status["processes"]} == {"stopped"}  # type: ignore[attr-defined]
