"""``sanjiang up --simulate`` as a newcomer runs it, in its own folder and ports: a first run
has history; the warehouse commands work while it runs (through its API); every process
exposes its metrics, and every metric the dashboards chart is among them; a broker killed
with SIGKILL comes back by itself and nothing accepted is lost; a double SIGTERM leaves no
process behind. Every wait is for a condition."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dashboards.provisioning import dashboards_for
from sanjiang.events import encode_event
from sanjiang.network import load_network
from sanjiang.ports import free_port
from sanjiang.settings import Settings, load_settings
from tests.access import PASSWORD, add_user, bearer, device_key
from tests.integration.test_ingest_api import checkin

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NETWORK = load_network()
HISTORY_DAYS = 2
UP = (sys.executable, "-m", "sanjiang", "up", "--simulate")
SCRAPE_TOKEN = uuid.uuid4().hex + uuid.uuid4().hex


class Up:
    def __init__(self, var: Path) -> None:
        self.var = var
        self.ports = {
            name: free_port()
            for name in ("kafka", "controller", "api", "streams_metrics", "deciders_metrics")
        }
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SANJIANG_")},
            "SANJIANG_VAR_DIR": str(var),
            "SANJIANG_KAFKA_PORT": str(self.ports["kafka"]),
            "SANJIANG_KAFKA_CONTROLLER_PORT": str(self.ports["controller"]),
            "SANJIANG_KAFKA_HEAP": "384m",
            "SANJIANG_API_PORT": str(self.ports["api"]),
            "SANJIANG_STREAMS_METRICS_PORT": str(self.ports["streams_metrics"]),
            "SANJIANG_DECIDERS_METRICS_PORT": str(self.ports["deciders_metrics"]),
            "SANJIANG_SINK_METRICS_PORT": "0",  # the API hosts the sink: its /metrics has it
            "SANJIANG_METRICS_TOKEN": SCRAPE_TOKEN,
        }
        self.settings: Settings = load_settings(
            var_dir=var,
            kafka_port=self.ports["kafka"],
            kafka_controller_port=self.ports["controller"],
            api_port=self.ports["api"],
        )
        self.base = f"http://127.0.0.1:{self.ports['api']}"
        self.output = var / "up.out"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [*UP, "--history-days", str(HISTORY_DAYS)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait(lambda: "Press Ctrl-C" in self.text(), 300, "the banner")

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert self.process is not None
            if self.process.poll() is not None and "stopped" not in what:
                raise AssertionError(f"sanjiang up exited while waiting for {what}:\n{self.text()}")
            assert time.monotonic() < deadline, f"no {what} in {timeout_s:.0f}s:\n{self.text()}"
            time.sleep(0.3)

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sanjiang", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def processes(self) -> dict[str, dict[str, Any]]:
        path = self.var / "logs" / "processes.json"
        if not path.exists():
            return {}
        return {p["name"]: p for p in json.loads(path.read_text())["processes"]}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    platform = Up(tmp_path_factory.mktemp("up"))
    platform.start()
    try:
        yield platform
    finally:
        if platform.process is not None and platform.process.poll() is None:
            platform.process.send_signal(signal.SIGTERM)
            platform.process.wait(120)
        pid_file = platform.var / "kafka" / "broker.pid"
        if pid_file.exists():  # never leave a broker behind, whatever failed
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def analyst(up: Up) -> dict[str, str]:
    name = f"ana{uuid.uuid4().hex[:6]}"
    add_user(up.settings, "analyst", username=name)
    return {"SANJIANG_API_USER": name, "SANJIANG_API_PASSWORD": PASSWORD}


def analyst_token(up: Up, env: dict[str, str]) -> dict[str, str]:
    answer = httpx2.post(
        up.base + "/v1/auth/token",
        data={"username": env["SANJIANG_API_USER"], "password": env["SANJIANG_API_PASSWORD"]},
    )
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


def count_in_warehouse(up: Up, headers: dict[str, str], ids: list[str]) -> int:
    answer = httpx2.post(
        up.base + "/v1/sql",
        json={
            "sql": "SELECT count() FROM sanjiang.events WHERE event_id IN {ids:Array(UUID)}",
            "params": {"ids": ids},
        },
        headers=headers,
        timeout=60,
    )
    return int(answer.json()["data"][0][0]) if answer.status_code == 200 else -1


def test_a_first_run_has_history_in_the_warehouse_and_the_live_state(up: Up) -> None:
    assert f"first run: {HISTORY_DAYS} days of simulated history" in up.text()
    assert "the warehouse has them" in up.text()
    headers = analyst_token(up, analyst(up))
    today = datetime.now(NETWORK.tz).date()
    first, last = today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1)
    days = httpx2.get(
        up.base + "/v1/history/timeseries",
        params={"from": str(first), "to": str(last), "interval": "day", "type": "checkin.recorded"},
        headers=headers,
    ).json()
    assert [d["bucket"] for d in days] == [str(first), str(last)]
    assert all(d["events"] > 0 for d in days)


def test_warehouse_commands_work_while_it_runs(up: Up, tmp_path: Path) -> None:
    env = analyst(up)
    today = datetime.now(NETWORK.tz).date()
    closed = today - timedelta(days=HISTORY_DAYS)  # its window closed long ago
    kpi = up.cli("kpi", "--from", str(closed), "--to", str(closed), "--json", **env)
    assert kpi.returncode == 0, kpi.stderr
    assert json.loads(kpi.stdout)["resident_participation"] > 0
    reconcile = up.cli("reconcile", "--window", str(closed), **env)
    assert reconcile.returncode == 0, reconcile.stderr  # live counters equal the warehouse
    assert "live counters and KPIs equal the warehouse" in reconcile.stderr
    check = up.cli("dashboards", "check", "--days", "3", **env)
    assert check.returncode == 0, check.stderr[-3000:]
    assert "every panel query ran" in check.stderr
    events = [checkin(occurred_at=datetime.now(NETWORK.tz) - timedelta(hours=1)) for _ in range(5)]
    file = tmp_path / "few.ndjson"
    file.write_bytes(b"".join(encode_event(e) + b"\n" for e in events + events[:2]))
    load = up.cli("warehouse", "load", str(file), **env)
    assert load.returncode == 0, load.stderr
    assert "the warehouse has them" in load.stderr
    ids = [str(e.event_id) for e in events]
    assert count_in_warehouse(up, analyst_token(up, env), ids) == len(ids)  # once each
    nobody = up.cli("kpi", "--from", str(closed), "--to", str(closed))  # no credentials
    assert nobody.returncode != 0 and "SANJIANG_API_USER" in nobody.stderr


Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of a real scrape, by name (the text exposition parsed)."""
    answer = httpx2.get(url, headers=headers or {}, timeout=10)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        v for have, v in samples.get(name, []) if all(have.get(k) == w for k, w in labels.items())
    )


def test_every_process_exposes_its_metrics_and_the_dashboards_read_only_those(up: Up) -> None:
    scraped: dict[str, Samples] = {}
    api = up.base + "/metrics"
    token = bearer(SCRAPE_TOKEN)
    workers = {
        name: f"http://127.0.0.1:{up.ports[name + '_metrics']}/metrics"
        for name in ("streams", "deciders")
    }
    # the API's route takes the scrape token or a credential that sees the network, no other
    assert httpx2.get(api).status_code == 401
    assert httpx2.get(api, headers=bearer("x" * 64)).status_code == 401
    kiosk = device_key(up.settings, "WS-R03-KM", "WS-R03", "kiosk")
    assert httpx2.get(api, headers=bearer(kiosk)).status_code == 403
    assert httpx2.get(api, headers=analyst_token(up, analyst(up))).status_code == 200
    # a decision of our own (the simulator's come at its pace), and a live stream held open
    asked = httpx2.post(
        up.base + "/v1/commands",
        json={
            "station_id": "WS-R03",
            "command": {
                "kind": "demand.submit",
                "demand_id": f"dm-{uuid.uuid4().hex[:8]}",
                "category": "handcraft",
                "resident": "0" * 32,
            },
        },
        headers=bearer(kiosk),
        timeout=60,
    )
    assert asked.status_code in (200, 202, 409), asked.text
    viewer = analyst_token(up, analyst(up))
    with httpx2.stream("GET", up.base + "/v1/live/stream", headers=viewer, timeout=60) as sse:
        assert sse.status_code == 200
        lines = sse.iter_lines()  # kept: a discarded iterator closes the stream
        next(lines)

        missing: list[str] = []

        def seen() -> bool:
            scraped["api"] = scrape(api, token)
            scraped.update({name: scrape(url) for name, url in workers.items()})
            a, s, d = scraped["api"], scraped["streams"], scraped["deciders"]
            lag = "sanjiang_consumer_lag_records"
            checks = {
                "api: an open stream": total(a, "sanjiang_sse_clients") >= 1,
                "api: accepted events": total(a, "sanjiang_ingest_events_total", status="accepted")
                > 0,
                "api: 202 answers": total(a, "sanjiang_ingest_requests_total", code="202") > 0,
                "api: sink batches": total(a, "sanjiang_sink_batch_records_count") > 0,
                "api: events written": total(a, "sanjiang_sink_events_total", result="written") > 0,
                "api: sink backlog": bool(a.get("sanjiang_sink_backlog_records")),
                "api: the sink's lag": any(
                    labels["consumer"] == "warehouse-sink" for labels, _ in a.get(lag, [])
                ),
                "streams: records": total(s, "sanjiang_fold_records_total") > 0,
                "streams: applied": total(s, "sanjiang_fold_events_applied_total") > 0,
                "streams: batches": total(s, "sanjiang_fold_batch_seconds_count") > 0,
                "streams: checkpoint cut": total(s, "sanjiang_checkpoint_cut_seconds_count") > 0,
                "streams: checkpoint written": total(s, "sanjiang_checkpoint_write_seconds_count")
                > 0,
                "deciders: decisions": total(d, "sanjiang_command_decisions_total") > 0,
                "deciders: batches": total(d, "sanjiang_command_batch_seconds_count") > 0,
                "deciders: lag": any(
                    labels["consumer"] == "deciders" for labels, _ in d.get(lag, [])
                ),
            }
            missing[:] = [what for what, ok in checks.items() if not ok]
            return not missing

        deadline = time.monotonic() + 120
        while not seen():
            assert time.monotonic() < deadline, f"never seen: {missing}"
            time.sleep(1)
    # lag per partition of every partition the fold reads
    streams_lag = [labels for labels, _ in scraped["streams"]["sanjiang_consumer_lag_records"]]
    events = {
        labels["partition"]
        for labels in streams_lag
        if labels["topic"] == f"{up.settings.topic_prefix}.events"
    }
    assert events == {str(p) for p in range(up.settings.event_partitions)}
    # each process shows its own work only
    assert not any(name.startswith("sanjiang_fold") for name in scraped["api"])
    assert not any(name.startswith("sanjiang_ingest") for name in scraped["streams"])
    assert not any(name.startswith("sanjiang_sink") for name in scraped["deciders"])
    # every metric a dashboard panel reads is one these processes expose: a renamed metric
    # fails here
    exposed = {name for samples in scraped.values() for name in samples}
    read = {
        name
        for board in dashboards_for(up.settings)
        for panel in board.metric_panels
        for name in panel.query.metric_names()
    }
    assert read and not read - exposed, f"panels read metrics no process exposes: {read - exposed}"


def test_a_broker_killed_comes_back_by_itself_and_nothing_accepted_is_lost(up: Up) -> None:
    key = device_key(up.settings, "WS-R03-K9", "WS-R03", "kiosk")
    headers = analyst_token(up, analyst(up))
    sent: list[str] = []

    def send(count: int) -> None:
        for _ in range(count):
            event = checkin(source="kiosk:WS-R03-K9")
            for _attempt in range(120):  # while the broker is away: 503, retry the same event
                answer = httpx2.post(
                    up.base + "/v1/events",
                    content=encode_event(event),
                    headers={**bearer(key), "content-type": "application/json"},
                    timeout=60,
                )
                if answer.status_code == 202:
                    sent.append(str(event.event_id))
                    break
                assert answer.status_code == 503, answer.text
                time.sleep(0.5)

    send(10)
    broker_pid = int((up.var / "kafka" / "broker.pid").read_text())
    os.kill(broker_pid, signal.SIGKILL)
    up.wait(
        lambda: (
            up.processes().get("kafka", {}).get("restarts", 0) >= 1
            and up.processes()["kafka"]["state"] == "running"
        ),
        180,
        "a restarted broker",
    )
    assert "kafka the broker stopped" in up.text() and "kafka restarted" in up.text()
    send(10)
    up.wait(lambda: count_in_warehouse(up, headers, sent) == len(sent), 180, "every event stored")
    assert up.process is not None and up.process.poll() is None  # the platform carried on


def test_a_double_sigterm_leaves_no_process(up: Up) -> None:
    assert up.process is not None
    pids = [p["pid"] for p in up.processes().values() if p.get("pid")]
    broker = int((up.var / "kafka" / "broker.pid").read_text())
    up.process.send_signal(signal.SIGTERM)
    up.wait(lambda: "stopping…" in up.text(), 60, "the stop to begin (stopped)")
    up.process.send_signal(signal.SIGTERM)  # a second one while it stops (make forwards one)
    up.process.send_signal(signal.SIGINT)
    up.process.wait(180)
    assert "stopped" in up.text()
    for pid in [*pids, broker]:
        assert not _alive(pid), f"process {pid} outlived sanjiang up"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except FileNotFoundError:
        return False
