"""Benchmark results and the JSON + markdown report they are written to.

The report keeps every suite's latest figures. A run of some suites (``python -m bench --suite
warehouse``) replaces the figures and notes of those suites in ``latest.json`` and keeps the
others', each with the run it came from: its start, machine and load average (1, 5 and 15
minutes, when it started and when it ended; on two shared cores a busy machine moves latencies
a lot). ``latest.md`` is rendered from the merged runs, one section per suite.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import describe

FORMAT = 2
SUITES = ("kafka", "ingest", "warehouse", "streams", "commands", "soak")
OTHER = "other"  # figures added outside any suite
TITLES = {
    "kafka": "producer throughput",
    "ingest": "HTTP ingest and kiosk SDK",
    "warehouse": "sink and bulk load, queries, panels, rollups",
    "streams": "stream processing and event-to-SSE latency",
    "commands": "round trip and decisions",
    "soak": "a city-scale network through the kiosk path, sampled every 10 s",
    OTHER: "figures of no suite",
}

Load = dict[str, float | None]
"""A load average: ``{"1m": .., "5m": .., "15m": ..}``, None where unknown."""


def load_average() -> Load | None:
    """The system's load average now, or None where the system does not tell."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return None
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Figure:
    """One measured figure, with what it is compared against and the target if an issue set one,
    and the suite that produced it (set by ``Report.suite`` when the suite leaves it empty)."""

    name: str
    value: float
    unit: str
    detail: str = ""
    baseline: str | None = None
    baseline_value: float | None = None
    target: str | None = None
    met: bool | None = None
    suite: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, **{k: v for k, v in asdict(self).items() if k != "suite"}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Note:
    suite: str
    text: str


@dataclass
class Span:
    """When one suite of a run ran, and the load average then."""

    started_at: str | None = None
    ended_at: str | None = None
    load_at_start: Load | None = None
    load_at_end: Load | None = None


@dataclass
class Run:
    """One ``python -m bench`` run as the report keeps it: the figures and notes still current
    of the suites in ``suites`` (each with when it ran, where known)."""

    started_at: str
    machine: dict[str, Any]
    ended_at: str | None = None
    command: str | None = None
    load_at_start: Load | None = None
    load_at_end: Load | None = None
    suites: dict[str, Span | None] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def without(self, suites: set[str]) -> Run:
        """This run less the figures and notes of ``suites``."""
        return replace(
            self,
            suites={s: span for s, span in self.suites.items() if s not in suites},
            figures=[f for f in self.figures if f.suite not in suites],
            notes=[n for n in self.notes if n.suite not in suites],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "command": self.command,
            "machine": self.machine,
            "load_at_start": self.load_at_start,
            "load_at_end": self.load_at_end,
            "suites": {
                s: None if span is None else asdict(span) for s, span in self.suites.items()
            },
            "figures": [f.to_json() for f in self.figures],
            "notes": [asdict(n) for n in self.notes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        run = cls(
            started_at=data["started_at"],
            machine=data.get("machine") or {},
            ended_at=data.get("ended_at"),
            command=data.get("command"),
            load_at_start=data.get("load_at_start"),
            load_at_end=data.get("load_at_end"),
            suites={
                s: None if span is None else Span(**span)
                for s, span in (data.get("suites") or {}).items()
            },
            figures=[Figure.from_json(f) for f in data.get("figures", [])],
            notes=[Note(**n) for n in data.get("notes", [])],
        )
        for suite in [f.suite for f in run.figures] + [n.suite for n in run.notes]:
            run.suites.setdefault(suite, None)
        return run


def merge(existing: list[Run], new: Run) -> list[Run]:
    """``existing`` with the suites ``new`` ran replaced by its figures and notes; runs left with
    no suite are dropped (``new`` too, if it has none). Oldest run first."""
    replaced = set(new.suites)
    runs = [run.without(replaced) for run in existing] + [new]
    return sorted((r for r in runs if r.suites), key=lambda r: r.started_at)


def load_runs(path: Path) -> list[Run]:
    """The runs of the report at ``path`` (none if there is no file); ValueError if it is not a
    report this module writes."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a bench report of format {FORMAT}")
    try:
        return [Run.from_json(r) for r in data["runs"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a bench report of format {FORMAT}: {exc!r}") from exc


def to_json(runs: list[Run]) -> str:
    return (
        json.dumps(
            {"format": FORMAT, "runs": [r.to_json() for r in runs]}, ensure_ascii=False, indent=2
        )
        + "\n"
    )


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def describe_load(load: Load | None) -> str:
    """``1.62 / 1.40 / 1.10`` (1, 5 and 15 minutes), only the known ones, or ``unknown``."""
    if load is None or all(v is None for v in load.values()):
        return "unknown"
    known = [(k, v) for k, v in load.items() if v is not None]
    if len(known) == len(load):
        return " / ".join(_number(v) for v in load.values()) + " (1 / 5 / 15 min)"
    return ", ".join(f"{_number(v)} ({k[:-1]} min)" for k, v in known)


def describe_machine(m: dict[str, Any]) -> str:
    def known(key: str, unit: str = "", what: str = "") -> str:
        value = m.get(key)
        return f"{what}unknown" if value is None else f"{value}{unit}"

    if not m:
        return "an unknown machine"
    return (
        f"`{known('hostname')}`: {known('cpu', what='CPU ')}, "
        f"{known('cores', ' cores', 'cores ')}, "
        f"{known('memory_gib', ' GiB', 'memory ')}, {known('os', what='OS ')}, "
        f"Python {known('python')}, {known('java', what='Java ')}"
    )


def _run_line(run: Run, suite: str) -> str:
    command = f" (`{run.command}`)" if run.command else ""
    ended = run.ended_at or "unknown"
    line = (
        f"Run started {run.started_at}{command}, ended {ended}, "
        f"on {describe_machine(run.machine)}. "
        f"Load average when it started: {describe_load(run.load_at_start)}; "
        f"when it ended: {describe_load(run.load_at_end)}."
    )
    span = run.suites.get(suite)
    if span is not None and span.started_at:
        line += (
            f" This suite ran from {span.started_at} to {span.ended_at or 'unknown'}, load "
            f"{describe_load(span.load_at_start)} -> {describe_load(span.load_at_end)}."
        )
    return line


def _table(figures: list[Figure]) -> list[str]:
    lines = ["| figure | value | compared with | target | met |", "|---|---|---|---|---|"]
    for f in figures:
        baseline = (
            f"{f.baseline}: {f.baseline_value:,.1f} {f.unit}"
            if f.baseline and f.baseline_value is not None
            else ""
        )
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(
            f"| {f.name} ({f.detail}) | {f.value:,.1f} {f.unit} | {baseline} "
            f"| {f.target or ''} | {met} |"
        )
    return lines


def suites_of(runs: list[Run]) -> list[str]:
    """The suites with figures or notes in ``runs``, in the order ``python -m bench`` runs them."""
    present = {s for run in runs for s in run.suites}
    order = [*SUITES, OTHER]
    return [s for s in order if s in present] + sorted(present - set(order))


def render_markdown(runs: list[Run]) -> str:
    """The report: a summary of which run each suite's figures are from, then per suite that
    run (time, machine, load), its figures and its notes."""
    suites = suites_of(runs)
    lines = [
        "# Sanjiang benchmark report",
        "",
        "Each suite's figures are from the latest run of that suite: `python -m bench --suite X` "
        "replaces suite X's figures and notes and keeps the others'. Load average is the "
        "machine's (1, 5 and 15 minutes) when the run started and ended; the benchmarks share "
        "the machine's cores with whatever else runs.",
        "",
        "| suite | figures | run started | machine | load at start | load at end |",
        "|---|---|---|---|---|---|",
    ]
    for suite in suites:
        for run in runs:
            if suite in run.suites:
                count = sum(f.suite == suite for f in run.figures)
                lines.append(
                    f"| {suite} | {count} | {run.started_at} | {run.machine.get('hostname', '?')}, "
                    f"{run.machine.get('cpu', '?')} | {describe_load(run.load_at_start)} "
                    f"| {describe_load(run.load_at_end)} |"
                )
    for suite in suites:
        lines += ["", f"## {suite}: {TITLES.get(suite, suite)}"]
        for run in runs:
            if suite not in run.suites:
                continue
            figures = [f for f in run.figures if f.suite == suite]
            notes = [n.text for n in run.notes if n.suite == suite]
            lines += ["", _run_line(run, suite)]
            if figures:
                lines += ["", *_table(figures)]
            if notes:
                lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


@dataclass
class Report:
    """The run being measured. Suites add figures (``add``) and notes inside ``suite(name)``,
    which records the suite on them; ``write`` merges the run into the folder's report."""

    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=_now)
    machine: dict[str, Any] = field(default_factory=describe)
    command: str | None = None
    load_at_start: Load | None = field(default_factory=load_average)
    ended_at: str | None = None
    load_at_end: Load | None = None
    spans: dict[str, Span] = field(default_factory=dict)
    _note_suites: dict[int, str] = field(default_factory=dict, repr=False)
    _current: str | None = field(default=None, repr=False)

    def add(self, figure: Figure) -> None:
        if not figure.suite and self._current:
            figure.suite = self._current
        self.figures.append(figure)
        print(f"  {figure.name}: {figure.value:,.1f} {figure.unit}  {figure.detail}", flush=True)

    @contextmanager
    def suite(self, name: str) -> Iterator[None]:
        """Figures and notes added inside are suite ``name``'s (however they were added), and the
        suite's start, end and load average then are recorded."""
        first_figure, first_note = len(self.figures), len(self.notes)
        span = Span(started_at=_now(), load_at_start=load_average())
        self._current = name
        try:
            yield
        finally:
            self._current = None
            for f in self.figures[first_figure:]:
                f.suite = f.suite or name
            for i in range(first_note, len(self.notes)):
                self._note_suites.setdefault(i, name)
            span.ended_at, span.load_at_end = _now(), load_average()
            self.spans[name] = span

    def finish(self) -> None:
        """Record the end of the run and the load average then (``write`` does if not done)."""
        self.ended_at, self.load_at_end = _now(), load_average()

    def to_run(self) -> Run:
        """This run as the report keeps it. A suite that added neither figure nor note is left
        out, so that its earlier figures stay."""
        figures = [Figure(**{**asdict(f), "suite": f.suite or OTHER}) for f in self.figures]
        notes = [Note(self._note_suites.get(i, OTHER), n) for i, n in enumerate(self.notes)]
        produced = {f.suite for f in figures} | {n.suite for n in notes}
        return Run(
            started_at=self.started_at,
            machine=self.machine,
            ended_at=self.ended_at,
            command=self.command,
            load_at_start=self.load_at_start,
            load_at_end=self.load_at_end,
            suites={s: self.spans.get(s) for s in sorted(produced, key=_suite_order)},
            figures=sorted(figures, key=lambda f: _suite_order(f.suite)),
            notes=sorted(notes, key=lambda n: _suite_order(n.suite)),
        )

    def to_markdown(self) -> str:
        """This run alone, as the report would show it."""
        return render_markdown([self.to_run()])

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Merge this run into ``latest.json`` in ``folder`` (its suites' figures and notes replace
        those there; other suites' stay, with their runs) and render ``latest.md`` from it."""
        if self.ended_at is None:
            self.finish()
        folder.mkdir(parents=True, exist_ok=True)
        json_path, md_path = folder / "latest.json", folder / "latest.md"
        try:
            existing = load_runs(json_path)
        except ValueError as exc:  # keep it aside rather than lose this run's figures
            aside = folder / f"latest.unmerged-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
            json_path.rename(aside)
            print(f"{exc}: moved to {aside}, not merged", flush=True)
            existing = []
        runs = merge(existing, self.to_run())
        _write(json_path, to_json(runs))
        _write(md_path, render_markdown(runs))
        return json_path, md_path


def _suite_order(suite: str) -> tuple[int, str]:
    order = [*SUITES, OTHER]
    return (order.index(suite), "") if suite in order else (len(order), suite)
