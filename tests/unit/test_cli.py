"""The command line's reference-data commands and its configuration errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sanjiang.cli import app
from sanjiang.cli import audit as cli_audit
from sanjiang.cli.audit import CliAudit
from sanjiang.events import EVENT_TYPES, Event, encode_event
from sanjiang.events import payloads as p

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


class RecordingAudit(CliAudit):
    """The command line's audit writer without Kafka: keeps what it would write."""

    written: list[Event]

    def connect(self) -> str | None:
        return None

    def write(self, event: Event) -> None:
        RecordingAudit.written.append(event)


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """The audit events the commands write (to a list)."""
    RecordingAudit.written = []
    monkeypatch.setattr(cli_audit, "open_audit", RecordingAudit)
    return RecordingAudit.written


def test_staff_accounts_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audited: list[Event]
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
    assert user("disable", "wang", "--reason", "离职").exit_code == 0
    changes = [e.payload for e in audited]
    assert all(isinstance(c, p.UserChanged) for c in changes)
    assert [(c.username, c.change) for c in changes] == [  # type: ignore[attr-defined]
        ("wang", "created"),
        ("wang", "password_changed"),
        ("wang", "disabled"),
        ("wang", "enabled"),
        ("wang", "disabled"),
    ]  # refused changes (no station, no such user, a short password) are not changes
    last = audited[-1]
    assert isinstance(last.payload, p.UserChanged)
    assert (last.station_id, last.source, last.payload.note) == ("WS-C", "console", "离职")
    assert last.payload.actor.startswith("cli:") and last.payload.role is None
    assert last.payload.stations == ["WS-R03"] and last.payload.account_role == "operator"
    for event in audited:
        wire = encode_event(event)
        assert b"a good password" not in wire and b"changed password" not in wire


def test_device_keys_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audited: list[Event]
) -> None:
    monkeypatch.setenv("SANJIANG_VAR_DIR", str(tmp_path))
    added = runner.invoke(app, ["kiosk", "add", "WS-R03-K1", "--station", "WS-R03"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert key.startswith("sjk_")
    assert runner.invoke(app, ["kiosk", "add", "my kiosk", "--station", "WS-R03"]).exit_code == 1
    revoked = runner.invoke(app, ["kiosk", "revoke", "WS-R03-K1", "--reason", "stolen"])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(app, ["kiosk", "revoke", "WS-R03-K1"]).exit_code == 1  # none active
    changes = [(e.station_id, e.payload) for e in audited]
    assert changes == [
        ("WS-R03", p.DeviceKeyChanged(**_key_fields(audited[0]), change="issued")),
        ("WS-R03", p.DeviceKeyChanged(**_key_fields(audited[0]), change="revoked", note="stolen")),
    ]
    assert all(key[4:].encode() not in encode_event(e) for e in audited)  # nor any of the key


def _key_fields(event: Event) -> dict[str, Any]:
    assert isinstance(event.payload, p.DeviceKeyChanged)
    return {"actor": event.payload.actor, "device_id": "WS-R03-K1", "kind": "kiosk"}


def test_without_kafka_access_is_not_given_but_is_taken_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No broker answers at 127.0.0.1:1: creating an account, setting a password, enabling one
    or issuing a key is refused with nothing changed; disabling and revoking are done, with a
    warning."""
    from api.access.users import UserStore, connect
    from api.keys import KeyStore

    monkeypatch.setenv("SANJIANG_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SANJIANG_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    store = UserStore(connect(tmp_path / "secrets" / "staff.db"))
    keys = KeyStore(tmp_path / "secrets" / "api_keys.db")
    try:
        store.add("wang", "viewer", "a good password")
        keys.add("WS-R03-K1", "WS-R03")
        password = "another good password\n"
        for args, given in (
            (["user", "add", "li", "--role", "viewer", "--password-stdin"], password),
            (["user", "passwd", "wang", "--password-stdin"], password),
            (["user", "enable", "wang"], None),
            (["kiosk", "add", "WS-R03-K2", "--station", "WS-R03"], None),
        ):
            refused = runner.invoke(app, args, input=given)
            assert refused.exit_code == 1, (args, refused.output)
            assert "审计事件无法写入 Kafka，未作任何更改" in refused.output
            assert "nothing was changed" in refused.output
        assert store.get("li") is None and keys.active("WS-R03-K2") is None
        assert store.verify("wang", "a good password") is not None  # the password stands
        for args in (["user", "disable", "wang"], ["kiosk", "revoke", "WS-R03-K1"]):
            done = runner.invoke(app, args)
            assert done.exit_code == 0, (args, done.output)
            assert "warning" in done.output and "the change stands" in done.output
        assert store.verify("wang", "a good password") is None
        assert keys.active("WS-R03-K1") is None
    finally:
        store.close()
        keys.close()
