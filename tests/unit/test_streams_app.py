"""The stream worker's app as configured (nothing connects until a worker starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sanjiang.settings import load_settings
from streams.app import create_app


def test_faust_data_lives_under_the_var_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    settings = load_settings(var_dir=tmp_path / "var")
    app = create_app(settings)
    assert Path(app.conf.datadir) == tmp_path / "var" / "streams"
    assert (tmp_path / "var" / "streams").is_dir()
    assert list(cwd.iterdir()) == []  # not Faust's default ``<app id>-data`` here
