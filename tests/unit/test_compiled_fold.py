"""The compiled fold (``streams.compiled``): used only when built from the current sources, and
it folds exactly as the Python it is compiled from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from streams import compiled

ROOT = compiled.ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's packages, to edit."""
    for package in compiled.PROJECT_PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "_compiled"),
        )
    return tmp_path


def test_the_key_follows_the_fold_and_the_modules_it_imports(project: Path) -> None:
    names = {str(path.relative_to(project)) for path in compiled.sources(project)}
    assert {"streams/state.py", "streams/facts.py", "streams/visit.py"} <= names
    assert {"sanjiang/heat.py", "sanjiang/network.py", "sanjiang/events/__init__.py"} <= names
    assert "sanjiang/cli/api.py" not in names  # not imported by the fold
    key = compiled.build_key(project)
    assert compiled.build_key(project) == key

    (project / "sanjiang/cli/api.py").write_text("# edited\n", encoding="utf-8")
    assert compiled.build_key(project) == key
    for edited in ("streams/state.py", "sanjiang/heat.py"):
        path = project / edited
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        assert compiled.build_key(project) != key
        key = compiled.build_key(project)


def test_only_a_build_of_the_current_sources_is_used(project: Path, tmp_path: Path) -> None:
    builds = tmp_path / "builds"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    stale = builds / "cpython-311-0123456789abcdef0123"
    stale.mkdir(parents=True)
    (stale / f"state{suffix}").write_bytes(b"")
    path = [str(project / "streams")]
    assert not compiled.activate(path, project, builds)
    assert path == [str(project / "streams")]

    current = builds / compiled.build_key(project)
    current.mkdir()
    (current / f"state{suffix}").write_bytes(b"")
    assert compiled.activate(path, project, builds)
    assert path == [str(current), str(project / "streams")]


FOLD_A_DAY = """
import json, random, sys
import streams
from streams import compiled
if sys.argv[1] == "python":
    streams.__path__[:] = [p for p in streams.__path__ if compiled.BUILDS.name not in p]
import streams.state
from tests.unit.test_live_state import DAY_EVENTS, folded, view
events = list(DAY_EVENTS)
rng = random.Random(3)
events += rng.sample(events, len(events) // 5)
rng.shuffle(events)
seen = view(folded(events))
print(json.dumps({"compiled": compiled.is_compiled(streams.state), "view": repr(seen),
                  "checkins": seen["network"]["checkins"]}))
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: the fold runs as Python")
def test_the_compiled_fold_folds_as_the_python_one() -> None:
    # make builds it; on a machine with a compiler, a failing build is a failing test
    assert compiled.build_and_report()

    def run(mode: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", FOLD_A_DAY, mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, object] = json.loads(done.stdout)
        return result

    native, python = run("compiled"), run("python")
    assert native["compiled"] is True and python["compiled"] is False
    assert native["view"] == python["view"]
    assert isinstance(python["checkins"], int) and python["checkins"] > 0
