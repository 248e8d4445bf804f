"""The command line's reference-data commands and its configuration errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sanjiang.cli import app
from sanjiang.events import EVENT_TYPES

runner = CliRunner()


def test_schema_export_writes_one_schema_per_type(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.schema.json"))
    assert len(files) == len(EVENT_TYPES)
    for path in files:
        schema = json.loads(path.read_text("utf-8"))
        name = path.name.removesuffix(".schema.json").rsplit(".v", 1)[0]
        assert schema["properties"]["type"]["const"] == name
        assert schema["additionalProperties"] is False
        assert "payload" in schema["required"] or "payload" in schema["properties"]


def test_schema_export_to_stdout() -> None:
    result = runner.invoke(app, ["schema", "export"])
    assert result.exit_code == 0
    assert set(json.loads(result.stdout)) == set(EVENT_TYPES)


def test_network_export_json() -> None:
    result = runner.invoke(app, ["network", "export", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert len(doc["stations"]) >= 33
    center = next(s for s in doc["stations"] if s["kind"] == "center")
    assert center["population_served"] == 101_500


def test_bad_configuration_exits_2_with_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANJIANG_KAFKA_PORT", "0")
    result = runner.invoke(app, ["kafka", "status"])
    assert result.exit_code == 2
    assert "SANJIANG_KAFKA_PORT" in result.output


def test_kafka_commands_refuse_an_external_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANJIANG_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    result = runner.invoke(app, ["kafka", "start"])
    assert result.exit_code == 1
    assert "existing cluster" in result.output


def test_staff_accounts_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.access.users import UserStore, connect

    monkeypatch.setenv("SANJIANG_VAR_DIR", str(tmp_path))

    def user(*args: str, password: str | None = None) -> Any:
        return runner.invoke(app, ["user", *args], input=None if password is None else password)

    added = user(
        "add",
        "wang",
        "--role",
        "operator",
        "--station",
        "WS-R03",
        "--password-stdin",
        password="a good password\n",
    )
    assert added.exit_code == 0, added.output
    assert (
        user(
            "add", "li", "--role", "operator", "--password-stdin", password="another password\n"
        ).exit_code
        == 1
    )  # operators need a station
    assert (
        user(
            "add",
            "zhao",
            "--role",
            "viewer",
            "--station",
            "WS-R99",
            "--password-stdin",
            password="a good password\n",
        ).exit_code
        == 1
    )  # no such station
    assert "wang" in user("list").stdout and "WS-R03" in user("list").stdout
    assert user("passwd", "wang", "--password-stdin", password="short\n").exit_code == 1
    assert user("passwd", "wang", "--password-stdin", password="changed password\n").exit_code == 0
    assert user("disable", "wang").exit_code == 0
    assert user("disable", "nobody").exit_code == 1
    store = UserStore(connect(tmp_path / "secrets" / "staff.db"))
    try:
        assert store.verify("wang", "changed password") is None  # disabled
        assert user("enable", "wang").exit_code == 0
        verified = store.verify("wang", "changed password")
        assert verified is not None and verified.stations == ("WS-R03",)
    finally:
        store.close()
    assert "disabled" not in user("list").stdout
