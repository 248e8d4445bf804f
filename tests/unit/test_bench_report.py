"""The benchmark report (``bench.report``): a run of some suites replaces those suites' figures
and notes in ``latest.json`` and keeps every other suite's, with the run each came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.report import Figure, Load, Report, load_runs, render_markdown, to_json

REPORTS = Path(__file__).parents[2] / "bench" / "reports"


def machine(host: str) -> dict[str, Any]:
    return {
        "hostname": host,
        "cpu": "Test CPU",
        "cores": 2,
        "memory_gib": 8.0,
        "os": "Linux test",
        "python": "3.11.7",
        "java": "openjdk 17",
    }


def load(one: float) -> Load:
    return {"1m": one, "5m": 0.5, "15m": 0.25}


def report(started: str, host: str, load_at_start: Load | None = None) -> Report:
    return Report(started_at=started, machine=machine(host), load_at_start=load_at_start)


def first_run(folder: Path) -> None:
    """kafka and streams, measured on host ``old`` at load 0.75, with a note each."""
    r = report("2026-01-01T10:00:00+00:00", "old", load(0.75))
    with r.suite("kafka"):
        r.add(Figure("producer", 100.0, "events/s"))
        r.notes.append("kafka note")
    with r.suite("streams"):
        r.figures.extend([Figure("consume loop", 200.0, "events/s")])  # as warehouse.run does
        r.notes.append("streams note")
    r.write(folder)


def figures_by_suite(folder: Path) -> dict[str, list[tuple[str, float, str]]]:
    out: dict[str, list[tuple[str, float, str]]] = {}
    for run in load_runs(folder / "latest.json"):
        for f in run.figures:
            out.setdefault(f.suite, []).append((f.name, f.value, run.started_at))
    return out


def test_a_run_of_one_suite_keeps_the_others_with_their_run(tmp_path: Path) -> None:
    first_run(tmp_path)
    r = report("2026-01-02T10:00:00+00:00", "new", load(1.5))
    with r.suite("kafka"):
        r.add(Figure("producer", 150.0, "events/s"))
    r.write(tmp_path)

    assert figures_by_suite(tmp_path) == {
        "kafka": [("producer", 150.0, "2026-01-02T10:00:00+00:00")],
        "streams": [("consume loop", 200.0, "2026-01-01T10:00:00+00:00")],
    }
    old, new = load_runs(tmp_path / "latest.json")
    assert (old.machine["hostname"], old.load_at_start) == ("old", load(0.75))
    assert old.load_at_end is not None  # the first run's end, recorded when it was written
    assert list(old.suites) == ["streams"]
    assert [(n.suite, n.text) for n in old.notes] == [("streams", "streams note")]
    assert (new.machine["hostname"], new.load_at_start, list(new.suites)) == (
        "new",
        load(1.5),
        ["kafka"],
    )
    assert new.notes == []  # the kafka note went with the kafka figures it was about
    span = new.suites["kafka"]
    assert span is not None and span.started_at and span.ended_at and span.load_at_end


def test_rerunning_every_suite_of_a_run_replaces_it(tmp_path: Path) -> None:
    first_run(tmp_path)
    r = report("2026-01-03T10:00:00+00:00", "new")
    for suite in ("streams", "kafka"):
        with r.suite(suite):
            r.add(Figure(f"{suite} figure", 1.0, "x"))
    r.write(tmp_path)

    runs = load_runs(tmp_path / "latest.json")
    assert [run.started_at for run in runs] == ["2026-01-03T10:00:00+00:00"]
    assert [(f.suite, f.name) for f in runs[0].figures] == [
        ("kafka", "kafka figure"),  # in the order the suites run in
        ("streams", "streams figure"),
    ]


def test_a_suite_that_measured_nothing_keeps_its_figures(tmp_path: Path) -> None:
    first_run(tmp_path)
    r = report("2026-01-04T10:00:00+00:00", "new")
    with r.suite("kafka"):
        pass
    r.write(tmp_path)

    assert figures_by_suite(tmp_path)["kafka"] == [("producer", 100.0, "2026-01-01T10:00:00+00:00")]
    assert [run.started_at for run in load_runs(tmp_path / "latest.json")] == [
        "2026-01-01T10:00:00+00:00"
    ]


def test_markdown_names_each_suites_run_before_its_figures_and_notes(tmp_path: Path) -> None:
    first_run(tmp_path)
    r = report("2026-01-02T10:00:00+00:00", "new", None)
    with r.suite("kafka"):
        r.add(Figure("producer", 150.0, "events/s", target=">= 100", met=True))
    r.write(tmp_path)
    md = (tmp_path / "latest.md").read_text()

    kafka = md[md.index("## kafka") : md.index("## streams")]
    streams = md[md.index("## streams") :]
    assert "Run started 2026-01-02T10:00:00+00:00" in kafka and "`new`" in kafka
    assert "Load average when it started: unknown" in kafka
    assert kafka.index("Run started") < kafka.index("| producer () | 150.0 events/s")
    assert "| >= 100 | yes |" in kafka
    assert "Run started 2026-01-01T10:00:00+00:00" in streams and "`old`" in streams
    assert "Load average when it started: 0.75 / 0.50 / 0.25 (1 / 5 / 15 min)" in streams
    assert (
        streams.index("Run started")
        < streams.index("| consume loop")
        < streams.index("- streams note")
    )
    assert "kafka note" not in md
    summary = md[: md.index("## kafka")]
    assert "| kafka | 1 | 2026-01-02T10:00:00+00:00 | new, Test CPU | unknown |" in summary
    assert "| streams | 1 | 2026-01-01T10:00:00+00:00 | old, Test CPU | 0.75 / 0.50" in summary


def test_the_json_is_stable(tmp_path: Path) -> None:
    first_run(tmp_path)
    text = (tmp_path / "latest.json").read_text()
    runs = load_runs(tmp_path / "latest.json")
    assert to_json(runs) == text
    data = json.loads(text)
    assert data["format"] == 2
    assert list(data["runs"][0]["figures"][0]) == [
        "suite",
        "name",
        "value",
        "unit",
        "detail",
        "baseline",
        "baseline_value",
        "target",
        "met",
    ]


def test_a_report_of_another_format_is_kept_aside_not_merged(tmp_path: Path) -> None:
    (tmp_path / "latest.json").write_text('{"figures": [], "notes": []}\n')
    r = report("2026-01-02T10:00:00+00:00", "new")
    with r.suite("kafka"):
        r.add(Figure("producer", 1.0, "events/s"))
    r.write(tmp_path)

    assert [p.name.startswith("latest.unmerged-") for p in tmp_path.glob("*.json")].count(True) == 1
    assert list(figures_by_suite(tmp_path)) == ["kafka"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "unknown"),
        ({"1m": 1.62, "5m": None, "15m": None}, "1.62 (1 min)"),
        ({"1m": 2.0, "5m": 1.0, "15m": 0.5}, "2.00 / 1.00 / 0.50 (1 / 5 / 15 min)"),
    ],
)
def test_load_shown_as_known(value: Load | None, shown: str) -> None:
    from bench.report import describe_load

    assert describe_load(value) == shown


def test_the_committed_report_is_its_own_rendering() -> None:
    runs = load_runs(REPORTS / "latest.json")
    assert (REPORTS / "latest.md").read_text() == render_markdown(runs)
    assert {f.suite for run in runs for f in run.figures} == {
        "kafka",
        "ingest",
        "warehouse",
        "streams",
        "commands",
        "soak",
    }
