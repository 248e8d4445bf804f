"""The city-scale soak: a network of 6,000 stations (``bench.soak_network``) at ten times its
peak rate, 10,000 events/s, for 10 minutes, through the path a kiosk fleet uses.

- The fleet (``bench.soak_load``, a process of its own): one kiosk per station with its own
  device key, sending check-ins, check-outs, evaluations and heartbeats as NDJSON batches to
  ``POST /v1/events``, as the kiosk SDK's deliverer does (its wire format and delivery rules;
  not its SQLite outbox, see that module).
- The platform's real processes, on the bench's broker, with their own topic prefix and var
  folder, reading the generated network (``SANJIANG_NETWORK_FILE``): ``sanjiang api`` hosting
  the warehouse sink (chDB), as the embedded profile (``make up``) runs it, and the stream
  worker ``sanjiang streams``. The deciders are left out: no command is on a kiosk's path.
- Every 10 s: accepted events/s (the API's own count, ``sanjiang_ingest_events_total`` on its
  ``/metrics``: the fleet's count misses answers that come after it gave up on a request,
  though the events were stored), the stream worker's lag (its own
  positions against the partitions' ends, ``sanjiang_consumer_lag_records`` on its metrics
  port: it has no consumer group), the warehouse sink's backlog (its group's uncommitted
  records, through ``sanjiang.kafka.lag``; the sink commits after its write, so that is what
  the warehouse does not hold yet; the sink's own ``sanjiang_sink_backlog_records`` gauge is
  sampled every 15 s, too seldom here), event-to-SSE latency p50 and p99 of the window (an SSE
  client of the network's live stream, as the command center's screen has, matched by count as
  ``bench.soak_stats`` says), and the resident memory (VmRSS) and CPU time of every process
  (/proc). After the load stops, how long the lag and the backlog take to drain.
- Figures: achieved rate, lag and backlog (max after the warm-up, last), memory growth of each
  process from the end of the warm-up (minute 2) to the end, SSE p99 (worst window), each with
  its target; which process limits the rate if it does not hold (from where events pile up and
  each process's CPU); the samples into ``soak.json`` and plotted into ``soak.png`` beside the
  report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from api.access.tokens import TokenIssuer
from api.access.users import UserStore, connect
from api.keys import KeyStore
from api.services import auth_key, key_store_path, staff_db_path
from bench.report import Figure, Report
from bench.soak_load import Kiosk, Plan, Progress
from bench.soak_network import generate_network, write_network
from bench.soak_plot import plot
from bench.soak_stats import (
    LatencyMatcher,
    Sample,
    Summary,
    Targets,
    children,
    cpu_seconds,
    machine_cpu,
    main_thread_cpu_seconds,
    metric_sum,
    rss_kib,
    summarize,
    warm_up,
    weighted_percentile,
)
from sanjiang.kafka.broker import LocalKafka
from sanjiang.kafka.lag import LagProbe
from sanjiang.kafka.security import WAREHOUSE_GROUP
from sanjiang.kafka.topics import Topics, ensure_topics
from sanjiang.ports import free_port
from sanjiang.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_S = 10.0
#: Most seconds to wait, after the load, for the lag and the backlog to reach 0
DRAIN_S = 180.0
#: Processes whose memory must stay flat (the load generator and the bench are the harness)
PLATFORM = ("api", "streams", "streams reader", "kafka")


def make_keys(settings: Settings, stations: list[dict[str, Any]]) -> tuple[Kiosk, ...]:
    """A kiosk key for every station (``<station>-K1``), as ``sanjiang kiosk add`` makes."""
    store = KeyStore(key_store_path(settings))
    kiosks = []
    try:
        with store.transaction():
            for station in stations:
                device = f"{station['id']}-K1"
                kiosks.append(
                    Kiosk(
                        station["id"],
                        device,
                        store.add(device, station["id"]),
                        tuple(v["id"] for v in station["venues"]),
                    )
                )
    finally:
        store.close()
    return tuple(kiosks)


def viewer_headers(settings: Settings, ttl_s: float) -> dict[str, str]:
    """A viewer of the whole network (the command center's screen), as a bearer token."""
    store = UserStore(connect(staff_db_path(settings)))
    try:
        user = store.add("soak", "viewer", secrets.token_urlsafe(16))
    finally:
        store.close()
    token, _ = TokenIssuer(auth_key(settings)).issue(
        user.username, user.token_version, "access", ttl_s
    )
    return {"Authorization": f"Bearer {token}"}


def _start(env: dict[str, str], command: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sanjiang", command],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _logs(folder: Path, lines: int = 15) -> str:
    """The last lines of every log in ``folder``."""
    tails = []
    for path in sorted(folder.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        tails.append(f"--- {path.name}\n" + "\n".join(text))
    return "\n".join(tails)


@dataclass
class Live:
    """What the SSE client saw: the latest ``pipeline`` view and the latency matcher."""

    matcher: LatencyMatcher = field(default_factory=LatencyMatcher)
    pipeline: dict[str, Any] = field(default_factory=dict)
    pipelines: int = 0  #: pipeline view messages
    messages: int = 0
    bytes: int = 0
    answers: list[float] = field(default_factory=list)  #: ingest answer times (ms), unsampled


async def listen(url: str, headers: dict[str, str], live: Live) -> None:
    """Read the live stream, keeping every ``pipeline`` message's ``applied`` count and the
    time it came (the other views are counted, not parsed)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        response.raise_for_status()
        rest = b""
        async for chunk in response.content.iter_any():
            now = time.monotonic()
            live.bytes += len(chunk)
            data = rest + chunk
            start = 0
            while (end := data.find(b"\n\n", start)) >= 0:
                block = data[start:end]
                start = end + 2
                live.messages += 1
                at = block.find(b"event: pipeline\ndata: ")
                if at >= 0:
                    document = orjson.loads(block[at + 22 :])
                    live.pipeline = document
                    live.pipelines += 1
                    live.matcher.seen(now, int(document.get("applied", 0)))
            rest = data[start:]


class Processes:
    """The processes sampled, by name: their pids, found again when they change (the stream
    worker's reader process is its child)."""

    def __init__(self, pids: dict[str, int], worker: int) -> None:
        self.pids = dict(pids)
        self.worker = worker
        self.first_cpu: dict[str, float] = {}
        self.last_cpu: dict[str, float] = {}
        self.first_loop: dict[str, float] = {}
        self.last_loop: dict[str, float] = {}

    def _reader(self) -> int | None:
        for pid in children(self.worker):
            with contextlib.suppress(OSError):
                if b"streams.reader" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        return None

    def sample(self, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
        """(RSS in MiB, CPU cores over the last ``seconds``) per process."""
        reader = self.pids.get("streams reader")
        if reader is None or rss_kib(reader) is None:
            found = self._reader()
            if found is not None:
                self.pids["streams reader"] = found
        rss: dict[str, float] = {}
        cores: dict[str, float] = {}
        reader = self.pids.get("streams reader")
        for name, pid in self.pids.items():
            kib, cpu = rss_kib(pid), cpu_seconds(pid)
            if kib is None or cpu is None:
                continue
            if name == "streams":  # its forked checkpoint writers (reaped, in its cutime)
                cpu += sum(cpu_seconds(c) or 0.0 for c in children(pid) if c != reader)
            rss[name] = kib / 1024
            self.first_cpu.setdefault(name, cpu)
            if name in self.last_cpu and seconds > 0:
                cores[name] = max(0.0, cpu - self.last_cpu[name]) / seconds
            self.last_cpu[name] = cpu
            loop = main_thread_cpu_seconds(pid)
            if loop is not None:
                self.first_loop.setdefault(name, loop)
                self.last_loop[name] = loop
        return rss, cores

    def totals(self) -> dict[str, float]:
        """CPU seconds of each process from its first sample to its last."""
        return {name: self.last_cpu[name] - self.first_cpu[name] for name in self.last_cpu}

    def loop_totals(self) -> dict[str, float]:
        """The same, of each process's main thread."""
        return {name: self.last_loop[name] - self.first_loop[name] for name in self.last_loop}


async def _read_progress(
    stream: asyncio.StreamReader, state: dict[str, Progress], live: Live
) -> None:
    """The load generator's progress lines: the latest kept, the send marks to the matcher."""
    while line := await stream.readline():
        document = orjson.loads(line)
        for t, count in document.pop("marks"):
            live.matcher.mark(float(t), int(count))
        live.answers.extend(document.pop("answers"))
        state["last"] = Progress(**document)


async def run(
    settings: Settings,
    report: Report,
    minutes: float = 10.0,
    rate: float = 10_000,
    stations: int = 6000,
    flush_s: float = 10.0,
    out: Path | None = None,
    seed: int = 18,
) -> None:
    """The soak; figures and notes into ``report``, samples and plot into ``out``."""
    out = out or Path(__file__).parent / "reports"
    seconds = minutes * 60
    broker_pid = None if settings.kafka_external else LocalKafka(settings).pid()
    prefix = f"bench-soak-{uuid.uuid4().hex[:8]}"
    var_dir = Path(tempfile.mkdtemp(prefix="sj-bench-soak-"))
    print(f"  network of {stations:,} stations (seed {seed}) into {var_dir}", flush=True)
    data = generate_network(stations, seed)
    network_file = write_network(var_dir / "network.yaml", stations, seed)
    settings = settings.model_copy(
        update={"topic_prefix": prefix, "var_dir": var_dir, "network_file": network_file}
    )
    topics = Topics.from_settings(settings)
    await ensure_topics(settings, topics)
    kiosks = make_keys(settings, data["stations"])
    headers = viewer_headers(settings, seconds + DRAIN_S + 3600)
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "SANJIANG_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "SANJIANG_TOPIC_PREFIX": prefix,
        "SANJIANG_VAR_DIR": str(var_dir),
        "SANJIANG_NETWORK_FILE": str(network_file),
        "SANJIANG_SIGNING_KEY": secrets.token_hex(32),
        "SANJIANG_API_PORT": str(port),
        # the embedded profile, as `make up` runs it: the API hosts the warehouse sink (chDB)
        "SANJIANG_API_HOSTS_SINK": "true",
        "SANJIANG_STREAMS_METRICS_PORT": str(metrics_port),
    }
    base = f"http://127.0.0.1:{port}"
    api = _start(env, "api", var_dir / "api.log")
    worker = _start(env, "streams", var_dir / "streams.log")
    load: asyncio.subprocess.Process | None = None
    tasks: list[asyncio.Task[None]] = []
    probe = LagProbe(settings)
    live = Live()
    try:
        await _wait_ready(base, headers, (api, worker), var_dir)
        await probe.start()
        tasks.append(asyncio.create_task(listen(base + "/v1/live/stream", headers, live)))
        plan = Plan(base, kiosks, rate, seconds, flush_s, seed=seed)
        plan_file = var_dir / "plan.json"
        plan_file.write_bytes(plan.to_json())
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.soak_load",
            str(plan_file),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=(var_dir / "load.log").open("wb"),
        )
        pids = {"api": api.pid, "streams": worker.pid, "load": load.pid, "bench": os.getpid()}
        if broker_pid is not None:
            pids["kafka"] = broker_pid
        processes = Processes(pids, worker.pid)
        state: dict[str, Progress] = {}
        assert load.stdout is not None
        tasks.append(asyncio.create_task(_read_progress(load.stdout, state, live)))
        while "last" not in state:  # its first line: the load starts
            if load.returncode is not None:
                raise RuntimeError(f"the load generator exited:\n{_logs(var_dir)}")
            await asyncio.sleep(0.05)
        print(
            f"  {len(kiosks):,} kiosks offering {rate:,.0f} events/s for {minutes:g} min "
            f"(each sends its queue every {flush_s:g} s); API on {base} hosting the sink, "
            "stream worker; sampling every 10 s",
            flush=True,
        )
        worker_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        api_metrics = Scrape(base + "/metrics", headers)
        samples = await _sample(
            seconds, processes, probe, topics, live, state, worker_metrics, api_metrics, api, worker
        )
        with contextlib.suppress(TimeoutError):  # its requests in flight are answered
            await asyncio.wait_for(load.wait(), 90)
        if load.returncode:
            raise RuntimeError(f"the load generator exited with {load.returncode}")
        drained = await _drain(probe, topics, worker_metrics, api_metrics)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await probe.stop()
        if load is not None and load.returncode is None:
            load.terminate()
            await load.wait()
        for process in (worker, api):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    if not samples:
        raise RuntimeError(f"no sample taken; see {var_dir}/*.log")
    targets = Targets(rate)
    summary = summarize(
        samples,
        targets,
        processes.totals(),
        os.cpu_count() or 1,
        PLATFORM,
        processes.loop_totals(),
    )
    fleet = load_document(state["last"], len(kiosks), flush_s, minutes, live)
    write(out, samples, summary, targets, fleet, drained)
    figures(report, summary, targets, fleet, drained, drained.accepted or samples[-1].accepted)


async def _wait_ready(
    base: str,
    headers: dict[str, str],
    processes: tuple[subprocess.Popen[bytes], ...],
    var_dir: Path,
) -> None:
    """Until the API answers and the stream worker has published its pipeline view (each
    reads the 6,000-station network first)."""
    deadline = time.monotonic() + 600
    async with aiohttp.ClientSession(headers=headers) as session:
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"a platform process exited ({process.args!r}):\n{_logs(var_dir)}"
                    )
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(base + "/v1/live/pipeline") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the platform did not come up in 600 s; see {var_dir}/*.log")


async def _sample(
    seconds: float,
    processes: Processes,
    probe: LagProbe,
    topics: Topics,
    live: Live,
    state: dict[str, Progress],
    worker_metrics: str,
    api_metrics: Scrape,
    *platform: subprocess.Popen[bytes],
) -> list[Sample]:
    """A sample every SAMPLE_S while the load runs (``seconds``)."""
    samples: list[Sample] = []
    started = state["last"].t  # the load's own start (one monotonic clock for the host)
    processes.sample(0)
    previous, previous_accepted = Progress(), 0
    previous_t, previous_pipelines = started, 0
    previous_machine = machine_cpu()[0]
    for tick in range(1, math.floor(seconds / SAMPLE_S + 1e-9) + 1):
        await asyncio.sleep(max(0.0, started + tick * SAMPLE_S - time.monotonic()))
        for process in platform:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        now = time.monotonic()
        window = now - previous_t
        progress = state.get("last", Progress())
        rss, cores = processes.sample(window)
        busy = machine_cpu()[0]
        backlog = await _backlog(probe, topics)
        lag, applied = await _worker(worker_metrics)
        accepted = await api_metrics.accepted()
        if accepted is None:  # the API did not answer its scrape: the fleet's own count
            accepted = max(progress.accepted, previous_accepted)
        latencies = live.matcher.take(now)
        p50 = weighted_percentile(latencies, 50)
        p99 = weighted_percentile(latencies, 99)
        answers, live.answers = live.answers, []
        ingest_p99 = weighted_percentile(((a, 1) for a in answers), 99)
        sample = Sample(
            t=round(now - started, 2),
            accepted=accepted,
            rate=(accepted - previous_accepted) / window,
            offered=(progress.made - previous.made) / window,
            worker_lag=lag,
            applied=applied,
            sink_backlog=backlog,
            sse_p50_ms=None if p50 is None else p50 * 1000,
            sse_p99_ms=None if p99 is None else p99 * 1000,
            sse_events=sum(w for _, w in latencies),
            rss_mib=rss,
            cpu_cores=cores,
            queued=progress.queued,
            failed=progress.failed,
            ingest_p99_ms=ingest_p99,
            view_updates=(live.pipelines - previous_pipelines) / window,
            machine_cores=(busy - previous_machine) / window,
            answered=progress.accepted,
        )
        samples.append(sample)
        previous, previous_t, previous_accepted = progress, now, accepted
        previous_pipelines, previous_machine = live.pipelines, busy
        memory = " ".join(f"{name} {mib:,.0f}" for name, mib in rss.items())
        cpu = " ".join(f"{name} {c:.2f}" for name, c in cores.items())
        print(
            f"  {sample.t:4.0f} s  accepted {sample.rate:6,.0f}/s (offered {sample.offered:,.0f}, "
            f"queued {sample.queued:,}, answer p99 {_ms(ingest_p99)}, failed {sample.failed:,})"
            f"  worker lag {_n(sample.worker_lag)}  sink backlog {_n(backlog)}  SSE p99 "
            f"{_ms(sample.sse_p99_ms)}, views {sample.view_updates:.1f}/s  RSS MiB: {memory}  "
            f"cores: {cpu}, machine {sample.machine_cores:.2f}",
            flush=True,
        )
    return samples


@dataclass
class Scrape:
    """The API's own metrics (``GET /metrics``, with a credential that sees the network)."""

    url: str
    headers: dict[str, str]

    async def accepted(self) -> int | None:
        """Events the ingest accepted so far (``sanjiang_ingest_events_total``), as the API
        counts them: the fleet's own count misses answers that come after it gave up."""
        try:
            timeout = aiohttp.ClientTimeout(total=20)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self.url, headers=self.headers) as response,
            ):
                if response.status != 200:
                    return None
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        value = metric_sum(text, "sanjiang_ingest_events_total", status="accepted")
        return None if value is None else int(value)


async def _backlog(probe: LagProbe, topics: Topics) -> int | None:
    """The warehouse sink's backlog: its group's records not committed (None if unknown)."""
    try:
        return sum((await probe.lag(WAREHOUSE_GROUP, [topics.events])).values())
    except Exception:  # a sample missed, not the run
        return None


async def _worker(url: str) -> tuple[int | None, int | None]:
    """(lag, events applied) from the stream worker's own metrics: its lag from its positions
    against the partitions' ends (``sanjiang_consumer_lag_records``, read at the scrape; the
    pipeline view says the same, but reaches the SSE client only as fast as the API sends)."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None, None
    lag = metric_sum(text, "sanjiang_consumer_lag_records", consumer="streams")
    applied = metric_sum(text, "sanjiang_fold_events_applied_total")
    return (
        None if lag is None else int(lag),
        None if applied is None else int(applied),
    )


def _n(value: float | int | None) -> str:
    return "?" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f} ms"


@dataclass
class Drained:
    """After the load stopped: seconds until the lag and the backlog were 0 (None: not within
    DRAIN_S), and whether the worker then had applied every accepted event."""

    worker_s: float | None = None
    sink_s: float | None = None
    applied: int | None = None
    accepted: int | None = None  #: by the API's count, the in-flight requests answered


async def _drain(
    probe: LagProbe, topics: Topics, worker_metrics: str, api_metrics: Scrape
) -> Drained:
    drained = Drained()
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_S:
        elapsed = time.monotonic() - started
        lag, drained.applied = await _worker(worker_metrics)
        drained.accepted = await api_metrics.accepted() or drained.accepted
        caught_up = (drained.applied or 0) >= (drained.accepted or 0)
        if drained.worker_s is None and lag == 0 and caught_up:
            drained.worker_s = elapsed
        if drained.sink_s is None and await _backlog(probe, topics) == 0:
            drained.sink_s = elapsed
        if drained.worker_s is not None and drained.sink_s is not None:
            break
        await asyncio.sleep(1.0)
    print(
        f"  after the load: worker lag 0 after {_seconds(drained.worker_s)}, sink backlog 0 "
        f"after {_seconds(drained.sink_s)}; worker applied {_n(drained.applied)} events of "
        f"{_n(drained.accepted)} accepted",
        flush=True,
    )
    return drained


def _seconds(value: float | None) -> str:
    return f"more than {DRAIN_S:.0f} s" if value is None else f"{value:.0f} s"


def load_document(
    last: Progress, kiosks: int, flush_s: float, minutes: float, live: Live
) -> dict[str, Any]:
    """What the fleet did, as ``soak.json`` keeps it."""
    return {
        "kiosks": kiosks,
        "flush_s": flush_s,
        "minutes": minutes,
        "made": last.made,
        "answered": last.accepted,
        "duplicates": last.duplicates,
        "rejected": last.rejected,
        "requests": last.requests,
        "failed": last.failed,
        "first_error": last.first_error,
        "sse_messages": live.messages,
        "sse_bytes": live.bytes,
    }


def _load_detail(load: dict[str, Any]) -> str:
    minutes = float(load["minutes"])
    requests = load["requests"] / (minutes * 60) if minutes else 0.0
    return (
        f"{load['kiosks']:,} kiosks (one per station) sending NDJSON batches of their queue "
        f"every {load['flush_s']:g} s to POST /v1/events with their own keys ({requests:,.0f} "
        f"requests/s, {load['failed']:,} failed and sent again), {minutes:g} min"
    )


def write(
    out: Path,
    samples: list[Sample],
    summary: Summary,
    targets: Targets,
    load: dict[str, Any],
    drained: Drained,
) -> None:
    """The samples and summary into ``soak.json``, the plot into ``soak.png``."""
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "targets": asdict(targets),
        "load": load,
        "drained": asdict(drained),
        "summary": asdict(summary),
        "samples": [asdict(s) for s in samples],
    }
    (out / "soak.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    title = (
        f"soak: {load['kiosks']:,} stations, {targets.rate:,.0f} events/s offered, "
        f"{load['minutes']:g} min ({summary.accepted_rate:,.0f}/s accepted from minute "
        f"{warm_up(summary.seconds) / 60:g}); API hosting the sink, stream worker, broker, "
        f"load generator on {os.cpu_count()} cores"
    )
    plot(samples, targets, out / "soak.png", title)


def figures(
    report: Report,
    summary: Summary,
    targets: Targets,
    load: dict[str, Any],
    drained: Drained,
    accepted: int,
) -> None:
    """The soak's figures and notes into ``report`` (``accepted``: events the ingest accepted
    in all, by the API's count)."""
    detail = _load_detail(load)
    flush_s = load["flush_s"]
    since = warm_up(summary.seconds)
    bound = f"<= {targets.max_lag:,.0f} ({targets.lag_seconds:.0f} s of input) from minute "
    bound += f"{since / 60:g} on"
    report.add(
        Figure(
            "accepted events/s",
            summary.accepted_rate,
            "events/s",
            f"by the API's count, from minute {since / 60:g} to the end (the kiosks' first "
            f"sends ramp up over their first {flush_s:g} s; over the whole run "
            f"{summary.accepted_rate_all:,.0f}/s); {detail}; {accepted:,} accepted in all "
            f"({load['answered']:,} answered to the fleet within its timeout), "
            f"{load['rejected']:,} rejected, {load['duplicates']:,} duplicates",
            baseline="offered",
            baseline_value=summary.offered_rate,
            target=f">= {targets.rate_share:.0%} of {targets.rate:,.0f}/s",
            met=summary.rate_met,
        )
    )
    report.add(
        Figure(
            "stream worker lag, max",
            summary.worker_lag_max or 0.0,
            "records",
            f"records not read yet (its metrics), sampled every 10 s; last "
            f"{_n(summary.worker_lag_last)}; 0 again {_seconds(drained.worker_s)} after the "
            "load stopped",
            target=bound,
            met=summary.lag_met,
        )
    )
    report.add(
        Figure(
            "warehouse sink backlog, max",
            summary.sink_backlog_max or 0.0,
            "records",
            f"records its group has not committed (written to chDB in the API's process), "
            f"sampled every 10 s; last {_n(summary.sink_backlog_last)}; 0 again "
            f"{_seconds(drained.sink_s)} after the load stopped",
            target=bound,
            met=summary.backlog_met,
        )
    )
    report.add(
        Figure(
            "event-to-SSE latency p99, worst 10-s window",
            summary.sse_p99_max_ms or 0.0,
            "ms",
            f"from a request's send to the SSE message (network live stream, "
            f"{load['sse_messages']:,} messages, {load['sse_bytes'] / 2**20:,.0f} MiB) whose "
            f"applied count includes its events; median of the windows' p99 "
            f"{_ms(summary.sse_p99_median_ms)}; the worker's pipeline view came "
            f"{summary.view_updates:.1f} times a second (it publishes at most 10)",
            target=f"<= {targets.sse_p99_ms:,.0f} ms (the streams suite's)",
            met=summary.sse_met if summary.sse_p99_max_ms is not None else False,
        )
    )
    report.add(
        Figure(
            "ingest answer p99, worst 10-s window",
            summary.ingest_p99_max_ms or 0.0,
            "ms",
            "POST /v1/events of a kiosk's batch, from its send (waiting for one of the fleet's "
            "connections included) to the answer (Kafka acknowledged every accepted event), "
            "as the load generator saw it",
        )
    )
    memory = sorted(summary.memory.items(), key=lambda kv: (kv[0] not in PLATFORM, kv[0]))
    for name, (start, end, grown) in memory:
        judged = name in PLATFORM
        report.add(
            Figure(
                f"memory growth, {name}",
                grown,
                "MiB",
                f"VmRSS {start:,.0f} MiB at minute {since / 60:g}, {end:,.0f} MiB at the end; "
                f"{summary.cpu_cores.get(name, 0):.2f} cores over the run"
                + ("" if judged else "; the harness, not judged"),
                target=f"<= {targets.memory_growth:.0%} of its RSS at minute {since / 60:g}"
                if judged
                else None,
                met=summary.memory_met.get(name) if judged else None,
            )
        )
    report.notes.append(
        "The soak's samples, every 10 s: ![soak](soak.png) (data in `soak.json`). " + detail + "."
    )
    report.notes.append(f"Rate: {summary.limit}")
