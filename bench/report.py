"""Benchmark results and the JSON + markdown report they are written to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import describe


@dataclass
class Figure:
    """One measured figure, with what it is compared against and the target if an issue set one."""

    name: str
    value: float
    unit: str
    detail: str = ""
    baseline: str | None = None
    baseline_value: float | None = None
    target: str | None = None
    met: bool | None = None


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    machine: dict[str, Any] = field(default_factory=describe)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(f"  {figure.name}: {figure.value:,.1f} {figure.unit}  {figure.detail}", flush=True)

    def to_markdown(self) -> str:
        m = self.machine
        lines = [
            "# Sanjiang benchmark report",
            "",
            f"Run {self.started_at} on `{m['hostname']}`: {m['cpu']}, {m['cores']} cores, "
            f"{m['memory_gib']} GiB, {m['os']}, Python {m['python']}, {m['java']}.",
            "",
            "| figure | value | compared with | target | met |",
            "|---|---|---|---|---|",
        ]
        for f in self.figures:
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
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Write ``latest.json`` and ``latest.md`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        json_path, md_path = folder / "latest.json", folder / "latest.md"
        json_path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n")
        md_path.write_text(self.to_markdown())
        return json_path, md_path
