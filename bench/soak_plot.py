"""The soak's samples as a PNG: one panel per series (accepted events/s, the stream worker's
lag, the warehouse sink's backlog, event-to-SSE p99, memory and CPU of each process), each
with its target where the soak has one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.soak_stats import Sample, Targets, warm_up


def plot(samples: Sequence[Sample], targets: Targets, path: Path, title: str) -> Path:
    """Draw ``samples`` into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in samples]
    since = warm_up(samples[-1].t) / 60 if samples else 0.0
    figure, axes = plt.subplots(3, 2, figsize=(13, 11), sharex=True)
    figure.suptitle(title, fontsize=11)
    rate, lag, backlog, sse, memory, cpu = axes.flat

    rate.plot(minutes, [s.rate for s in samples], label="accepted")
    rate.plot(minutes, [s.offered for s in samples], label="offered", linestyle=":")
    rate.axhline(targets.rate, color="grey", linestyle="--", linewidth=0.8, label="target")
    rate.set_title("accepted events/s (10-s windows)")
    rate.set_ylim(bottom=0)
    rate.legend(loc="lower right", fontsize=8)

    for ax, values, name in (
        (lag, [s.worker_lag for s in samples], "stream worker lag (records not read)"),
        (backlog, [s.sink_backlog for s in samples], "warehouse sink backlog (not committed)"),
    ):
        ax.plot(minutes, [float("nan") if v is None else v for v in values])
        ax.axhline(
            targets.max_lag,
            color="grey",
            linestyle="--",
            linewidth=0.8,
            label=f"bound: {targets.lag_seconds:.0f} s of input",
        )
        ax.set_title(name)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize=8)

    sse.plot(
        minutes,
        [float("nan") if s.sse_p99_ms is None else s.sse_p99_ms for s in samples],
        label="p99",
    )
    sse.plot(
        minutes,
        [float("nan") if s.sse_p50_ms is None else s.sse_p50_ms for s in samples],
        label="p50",
        linestyle=":",
    )
    sse.plot(
        minutes,
        [float("nan") if s.ingest_p99_ms is None else s.ingest_p99_ms for s in samples],
        label="ingest answer p99 (part of it)",
        linestyle="-.",
        linewidth=0.8,
    )
    sse.axhline(targets.sse_p99_ms, color="grey", linestyle="--", linewidth=0.8, label="target")
    sse.set_title("event-to-SSE latency from the request's send, ms (10-s windows)")
    sse.set_ylim(bottom=0)
    sse.legend(loc="upper left", fontsize=8)

    names = list(dict.fromkeys(name for s in samples for name in s.rss_mib))
    for name in names:
        memory.plot(minutes, [s.rss_mib.get(name, float("nan")) for s in samples], label=name)
    memory.axvline(since, color="grey", linestyle=":", linewidth=0.8)
    memory.set_title("resident memory per process, MiB (growth judged from the dotted line)")
    memory.set_ylim(bottom=0)
    memory.legend(loc="upper left", fontsize=8)

    for name in names:
        cpu.plot(minutes, [s.cpu_cores.get(name, float("nan")) for s in samples], label=name)
    cpu.plot(
        minutes,
        [s.machine_cores for s in samples],
        label="machine (all work)",
        color="black",
        linestyle=":",
        linewidth=0.8,
    )
    cpu.set_title("CPU per process, cores")
    cpu.set_ylim(bottom=0)
    cpu.legend(loc="upper left", fontsize=8)

    for ax in axes.flat:
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("minutes since the load started")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
