"""The soak's arithmetic, apart from its processes: reading a process's memory and CPU time
from /proc, event-to-SSE latency from the load's send marks and the stream worker's ``applied``
counts, percentiles, and the run's summary and judgement.

Latency is matched by count, as the streams suite does: the load generator numbers the events
it sends in the order it sends them (a mark per request: its send time and the count once its
events are counted), the worker's ``pipeline`` view says how many events it has applied, and
an event's latency is the time from its request's send to the first SSE message whose
``applied`` includes its number. The worker reads the partitions side by side, so the order it
applies them in is close to, not exactly, the order they were sent in.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_vmrss(status: str) -> int | None:
    """Resident memory in KiB from the text of /proc/<pid>/status (None if absent)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def parse_cpu_seconds(stat: str, ticks: int = CLOCK_TICKS) -> float:
    """CPU seconds of a process from the text of /proc/<pid>/stat: user and system time, its
    own and its children's that it waited for (utime, stime, cutime, cstime)."""
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    # fields[0] is the state (field 3 of proc(5)): utime is field 14, so fields[11]
    return sum(int(value) for value in fields[11:15]) / ticks


def parse_ppid(stat: str) -> int:
    """The parent's pid from the text of /proc/<pid>/stat."""
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def parse_machine_cpu(stat: str, ticks: int = CLOCK_TICKS) -> tuple[float, float]:
    """(busy, all) CPU seconds of the machine from the text of /proc/stat's first line: busy
    is everything but idle and iowait (steal included: time the cores were not ours)."""
    values = [int(v) for v in stat.splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / ticks, sum(values[:8]) / ticks


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the machine so far, all cores together."""
    return parse_machine_cpu(Path("/proc/stat").read_text())


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def rss_kib(pid: int) -> int | None:
    """A process's resident memory (VmRSS) in KiB, None if it is gone."""
    status = _read(Path(f"/proc/{pid}/status"))
    return None if status is None else parse_vmrss(status)


def cpu_seconds(pid: int) -> float | None:
    """A process's CPU seconds so far (its reaped children's included), None if it is gone."""
    stat = _read(Path(f"/proc/{pid}/stat"))
    return None if stat is None else parse_cpu_seconds(stat)


def main_thread_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of a process's main thread alone (an asyncio process's event loop; the
    API's chDB and the clients' threads are others), None if it is gone."""
    stat = _read(Path(f"/proc/{pid}/task/{pid}/stat"))
    return None if stat is None else parse_cpu_seconds(stat)


def children(pid: int) -> list[int]:
    """The pids of a process's children now."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read(entry / "stat")
            if stat is not None and parse_ppid(stat) == pid:
                found.append(int(entry.name))
    return sorted(found)


def metric_sum(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of metric ``name`` whose labels include ``labels``, in
    Prometheus's text format; None if there is none."""
    total, found = 0.0, False
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name or not all(w in label_text for w in wanted):
            continue
        total += float(value)
        found = True
    return total if found else None


def weighted_percentile(values: Iterable[tuple[float, int]], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of values each counted ``weight`` times: the smallest
    value at or below which at least q % of the weight lies. None if there is no weight."""
    ordered = sorted((v, w) for v, w in values if w > 0)
    total = sum(w for _, w in ordered)
    if not total:
        return None
    needed = math.ceil(total * q / 100) or 1
    seen = 0
    for value, weight in ordered:
        seen += weight
        if seen >= needed:
            return value
    return ordered[-1][0]


@dataclass
class LatencyMatcher:
    """Event-to-SSE latencies from send marks and ``applied`` counts (see the module doc).

    ``mark(t, count)``: a request sent at ``t``, after which ``count`` events were sent in all
    (counts increase). ``seen(t, applied)``: an SSE message at ``t`` said ``applied`` events
    were applied. ``take(until)`` resolves the messages received before ``until`` and returns
    the latencies of the requests they cover: (seconds, events), each request once."""

    times: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    covered: int = 0  #: events whose latency is known
    _next_mark: int = 0
    _resolved: int = 0  #: arrivals resolved

    def mark(self, t: float, count: int) -> None:
        if self.counts and count <= self.counts[-1]:
            raise ValueError("marks' counts must increase")
        self.times.append(t)
        self.counts.append(count)

    def seen(self, t: float, applied: int) -> None:
        self.arrivals.append((t, applied))

    def take(self, until: float) -> list[tuple[float, int]]:
        out: list[tuple[float, int]] = []
        while self._resolved < len(self.arrivals):
            t, applied = self.arrivals[self._resolved]
            if t >= until:
                break
            # requests whose every event is applied by this message (and not by an earlier one)
            end = bisect.bisect_right(self.counts, applied, lo=self._next_mark)
            for i in range(self._next_mark, end):
                before = self.counts[i - 1] if i else 0
                out.append((t - self.times[i], self.counts[i] - before))
            if end > self._next_mark:
                self._next_mark = end
                self.covered = self.counts[end - 1]
            self._resolved += 1
        return out

    def pending(self) -> int:
        """Events sent whose latency is not known yet."""
        return (self.counts[-1] if self.counts else 0) - self.covered


@dataclass
class Sample:
    """One 10-second sample of the soak (``t``: seconds since the load started)."""

    t: float
    accepted: int  #: events the ingest accepted so far (the API's count)
    rate: float  #: events accepted per second since the last sample
    offered: float  #: events the fleet made per second since the last sample
    worker_lag: int | None  #: records the stream worker has not read (its metrics)
    applied: int | None  #: events the stream worker has applied (its metrics)
    sink_backlog: int | None  #: records the warehouse sink's group has not committed
    sse_p50_ms: float | None  #: of the events whose SSE message came in this window
    sse_p99_ms: float | None
    sse_events: int  #: events those latencies are of
    rss_mib: dict[str, float]  #: resident memory per process
    cpu_cores: dict[str, float]  #: CPU time per second of the window, per process
    queued: int = 0  #: events waiting in the kiosks' queues
    failed: int = 0  #: requests refused or failed so far
    ingest_p99_ms: float | None = None  #: of the requests answered in the window
    view_updates: float = 0.0  #: pipeline view messages per second (the worker publishes 10)
    machine_cores: float = 0.0  #: busy cores of the whole machine, ours and others' work
    answered: int | None = None  #: accepted events as the fleet's answers say so far


def nearest(samples: Sequence[Sample], t: float) -> Sample:
    """The first sample at or after ``t`` (the last one if none)."""
    return next((s for s in samples if s.t >= t), samples[-1])


def growth(samples: Sequence[Sample], process: str, since: float) -> tuple[float, float, float]:
    """(RSS at ``since``, RSS at the end, growth in MiB) of ``process``; a sample without it
    is skipped."""
    having = [s for s in samples if process in s.rss_mib]
    if not having:
        return (math.nan, math.nan, math.nan)
    start = nearest(having, since).rss_mib[process]
    end = having[-1].rss_mib[process]
    return start, end, end - start


def warm_up(seconds: float) -> float:
    """Seconds at the start of a run of ``seconds`` left out of the flatness and boundedness
    judgements: two minutes (processes fill their caches, the JIT-less Python warms its
    allocators), a fifth of a shorter run."""
    return min(120.0, seconds / 5)


def _max(values: Iterable[float | int | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class Targets:
    """What the soak must show, from the offered ``rate``."""

    rate: float
    lag_seconds: float = 10.0  #: lag and backlog stay under this many seconds of input
    memory_growth: float = 0.10  #: RSS grows by at most this share after the warm-up
    sse_p99_ms: float = 1000.0  #: the streams suite's target for event-to-SSE p99
    rate_share: float = 0.99  #: accepted events/s at least this share of the offered rate

    @property
    def max_lag(self) -> float:
        return self.rate * self.lag_seconds


@dataclass
class Summary:
    """The soak's figures and judgement."""

    seconds: float
    accepted_rate: float  #: events/s accepted after the warm-up (the kiosks' first sends ramp)
    offered_rate: float  #: events/s the fleet made over the same span
    accepted_rate_all: float  #: events/s accepted over the whole run
    worker_lag_max: float | None
    worker_lag_last: float | None
    sink_backlog_max: float | None
    sink_backlog_last: float | None
    sse_p99_max_ms: float | None
    sse_p99_median_ms: float | None
    ingest_p99_max_ms: float | None
    view_updates: float  #: pipeline view messages per second, mean over the run
    memory: dict[str, tuple[float, float, float]]  #: process -> (MiB at warm-up, end, growth)
    cpu_cores: dict[str, float]  #: process -> mean cores over the run
    loop_cores: dict[str, float]  #: process -> mean cores of its main thread over the run
    machine_cores: float  #: busy cores of the machine, mean over the run (others' work too)
    rate_met: bool
    lag_met: bool
    backlog_met: bool
    sse_met: bool
    memory_met: dict[str, bool]
    limit: str = ""  #: which process limits the rate, or that the rate held

    @property
    def held(self) -> bool:
        return self.rate_met and self.lag_met and self.backlog_met


def _last(values: Iterable[float | int | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return known[-1] if known else None


def summarize(
    samples: Sequence[Sample],
    targets: Targets,
    cpu_totals: Mapping[str, float],
    cores: int,
    platform: Iterable[str],
    loop_totals: Mapping[str, float] | None = None,
) -> Summary:
    """The run's figures from its samples and each process's CPU seconds over the run (and
    its main thread's); the memory of the ``platform`` processes is judged (the harness's is
    only shown)."""
    if not samples:
        raise ValueError("no samples")
    seconds = samples[-1].t
    since = warm_up(seconds)
    steady = [s for s in samples if s.t >= since] or list(samples)
    lag_max = _max(s.worker_lag for s in steady)
    backlog_max = _max(s.sink_backlog for s in steady)
    memory = {name: growth(samples, name, since) for name in samples[-1].rss_mib}
    judged = set(platform)
    memory_met = {
        name: not math.isnan(grown) and grown <= targets.memory_growth * start
        for name, (start, _, grown) in memory.items()
        if name in judged
    }
    p99s = sorted(s.sse_p99_ms for s in steady if s.sse_p99_ms is not None)
    windows = [s.t - (samples[i - 1].t if i else 0.0) for i, s in enumerate(samples)]
    # the rate after the warm-up: from the last sample at or before it to the end
    base = max((i for i, s in enumerate(samples) if s.t <= since), default=-1)
    if base == len(samples) - 1:
        base = -1
    base_t, base_accepted = (samples[base].t, samples[base].accepted) if base >= 0 else (0, 0)
    span = samples[-1].t - base_t
    accepted_rate = (samples[-1].accepted - base_accepted) / span
    offered_rate = sum(samples[i].offered * windows[i] for i in range(base + 1, len(samples)))
    offered_rate /= span
    summary = Summary(
        seconds=seconds,
        accepted_rate=accepted_rate,
        offered_rate=offered_rate,
        accepted_rate_all=samples[-1].accepted / seconds,
        worker_lag_max=lag_max,
        worker_lag_last=_last(s.worker_lag for s in samples),
        sink_backlog_max=backlog_max,
        sink_backlog_last=_last(s.sink_backlog for s in samples),
        sse_p99_max_ms=p99s[-1] if p99s else None,
        sse_p99_median_ms=p99s[len(p99s) // 2] if p99s else None,
        ingest_p99_max_ms=_max(s.ingest_p99_ms for s in steady),
        view_updates=sum(s.view_updates * w for s, w in zip(samples, windows, strict=True))
        / seconds,
        memory=memory,
        cpu_cores={name: total / seconds for name, total in cpu_totals.items()},
        loop_cores={name: total / seconds for name, total in (loop_totals or {}).items()},
        machine_cores=sum(s.machine_cores * w for s, w in zip(samples, windows, strict=True))
        / seconds,
        rate_met=accepted_rate >= targets.rate_share * targets.rate,
        lag_met=lag_max is not None and lag_max <= targets.max_lag,
        backlog_met=backlog_max is not None and backlog_max <= targets.max_lag,
        sse_met=bool(p99s) and p99s[-1] <= targets.sse_p99_ms,
        memory_met=memory_met,
    )
    summary.limit = limiting(summary, cores)
    return summary


#: A single-threaded Python process at this share of a core or more is saturated
SATURATED = 0.9
#: What each process does on the path, for the judgement's sentence
ROLES = {
    "api": "the API (HTTP ingest, and the warehouse sink in its process)",
    "streams": "the stream worker (fold, views ten times a second, checkpoints)",
    "streams reader": "the stream worker's reader process (fetches and verifies records)",
    "kafka": "the Kafka broker",
    "load": "the load generator (the simulated kiosks)",
    "bench": "the bench's own process (SSE client, sampling)",
}
#: The processes each stage of the path runs in, the likeliest limit first
STAGES = {
    "ingest": ("api", "kafka", "load"),
    "fold": ("streams", "streams reader", "kafka"),
    "sink": ("api", "kafka"),
}


def limiting(summary: Summary, cores: int) -> str:
    """Which process limits the rate, judged from where events pile up (the stage) and the
    CPU each process of that stage used; or that the rate held."""
    ours = sum(summary.cpu_cores.values())
    others = max(0.0, summary.machine_cores - ours)
    shares = ", ".join(
        f"{name} {value:.2f}"
        for name, value in sorted(summary.cpu_cores.items(), key=lambda kv: -kv[1])
    )
    machine = (
        f"CPU over the run, in cores: {shares}; the soak's processes {ours:.2f}, other work on "
        f"the machine {others:.2f}, of {cores}"
    )
    views = ""
    if not summary.sse_met:
        views = (
            f" Event-to-SSE p99 reached {summary.sse_p99_max_ms or 0:,.0f} ms (from the "
            f"request's send: the ingest's answers took up to "
            f"{summary.ingest_p99_max_ms or 0:,.0f} ms p99); the stream worker published its "
            f"views {summary.view_updates:.1f} times a second, of 10."
        )
    if summary.held:
        return f"The rate held. {machine}.{views}"
    piled: list[str] = []
    if not summary.rate_met:
        piled.append(
            f"the ingest accepted {summary.accepted_rate:,.0f} events/s of "
            f"{summary.offered_rate:,.0f} offered (the rest waited in the kiosks' queues)"
        )
    if not summary.lag_met:
        piled.append(f"the stream worker's lag reached {summary.worker_lag_max or 0:,.0f} records")
    if not summary.backlog_met:
        piled.append(
            f"the warehouse sink's backlog reached {summary.sink_backlog_max or 0:,.0f} records"
        )
    # the first stage where events wait limits the ones after it
    stage = "ingest" if not summary.rate_met else "fold" if not summary.lag_met else "sink"
    name = max(STAGES[stage], key=lambda n: summary.cpu_cores.get(n, 0.0))
    share = summary.cpu_cores.get(name, 0.0)
    if share >= SATURATED:
        why = f"{ROLES[name]} used {share:.2f} cores: a whole one"
    else:
        why = f"{ROLES[name]} used the most CPU of that stage, {share:.2f} cores"
    if name in summary.loop_cores:
        why += f" ({summary.loop_cores[name]:.2f} in its main thread, the event loop)"
    if summary.machine_cores >= SATURATED * cores:
        why += f"; the machine's {cores} cores were busy ({summary.machine_cores:.2f} used)"
    piled[0] = piled[0][0].upper() + piled[0][1:]
    return f"{'; '.join(piled)}. Limited by {name}: {why}. {machine}.{views}"
