"""The supervisor with real child processes: restart after a crash, clean stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sanjiang.supervisor import ChildSpec, Supervisor


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
