"""`sanjiang warehouse load` and `sanjiang kpi` on the hand-built day, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sanjiang.cli import app
from sanjiang.events import encode_event
from tests.warehouse.test_kpis import the_day


def test_load_then_kpis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANJIANG_VAR_DIR", str(tmp_path))
    events = the_day()
    file = tmp_path / "day.ndjson"
    file.write_bytes(b"\n".join(encode_event(e) for e in events) + b"\n{not json\n")
    runner = CliRunner()
    loaded = runner.invoke(app, ["warehouse", "load", str(file)])
    assert loaded.exit_code == 0, loaded.output
    assert f"{len(events):,} written" in loaded.output and "1 rejected" in loaded.output
    assert "malformed_json" in (tmp_path / "day.ndjson.rejected").read_text()
    again = runner.invoke(app, ["warehouse", "load", str(file)])
    assert f"0 written, {len(events):,} already there" in again.output

    result = runner.invoke(
        app, ["kpi", "--from", "2026-11-24", "--to", "2026-11-24", "--station", "WS-R03", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["venue_utilization"] == pytest.approx(4 / 7)
    assert report["service_satisfaction"] == pytest.approx(0.5)  # r3 and r4 did not attend
    assert report["conflicts"]["not_attended"] == report["satisfaction_conflicts"] == 2
    text = runner.invoke(
        app, ["kpi", "--from", "2026-11-24", "--to", "2026-11-24", "--station", "WS-R03"]
    )
    assert text.exit_code == 0, text.output
    lines = {line.split()[0]: line for line in text.output.splitlines() if line.startswith("  ")}
    assert "conflicts 0: decisions only" in lines["场馆使用率"]
    assert "(3 of 3425 residents; conflicts 0)" in lines["居民参与率"]
    assert "(1 of 2 evaluations; conflicts 2: 评价者未签到 2 (left out))" in lines["服务满意率"]
    bad = runner.invoke(app, ["kpi", "--from", "24/11", "--to", "2026-11-24"])
    assert bad.exit_code == 1 and "expected YYYY-MM-DD" in bad.output
    unknown = runner.invoke(
        app, ["kpi", "--from", "2026-11-24", "--to", "2026-11-24", "--station", "X"]
    )
    assert unknown.exit_code == 1 and "unknown station" in unknown.output
