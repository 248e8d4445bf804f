"""The audit of access end to end, on the real broker and warehouse: logins through the API
(refused and let in, by token and on the login page) and changes made with the command line
(an account created, a device key revoked) are events on the event topic that the API's sink
writes to the warehouse, and ``GET /v1/audit`` lists them with who, the outcome and why."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from api.access.audit import cli_actor
from sanjiang.settings import Settings
from tests.access import device_key, staff_token, wait_for_audit_rows
from tests.api_process import ROOT, api_process

pytestmark = pytest.mark.integration

SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "a long analyst password"


@pytest.fixture(scope="module")
def api(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The API under uvicorn, hosting the warehouse sink."""
    with api_process(kafka_settings, tmp_path_factory.mktemp("audit"), hosts_sink=True) as api:
        yield api


def sanjiang(api: Settings, *args: str, stdin: str | None = None) -> str:
    """Run the command line against the API's broker, topics and ``var/``; its stderr."""
    env = {
        **os.environ,
        "SANJIANG_VAR_DIR": str(api.var_dir),
        "SANJIANG_TOPIC_PREFIX": api.topic_prefix,
        "SANJIANG_KAFKA_BOOTSTRAP": api.bootstrap_servers,
    }
    done = subprocess.run(
        [sys.executable, "-m", "sanjiang", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr  # the audit event was written
    return done.stderr


def test_logins_and_changes_of_users_and_keys_reach_the_audit_trail(api: Settings) -> None:
    url = f"http://127.0.0.1:{api.api_port}"
    admin = staff_token(api, "admin")
    actor = cli_actor()
    sanjiang(
        api, "user", "add", "ana", "--role", "analyst", "--password-stdin",
        "--reason", "new analyst",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    wrong = httpx.post(f"{url}/v1/auth/token", data={"username": "ana", "password": "nope nope"})
    assert wrong.status_code == 401
    ghost = httpx.post(
        f"{url}/v1/auth/token", data={"username": "Not A Name!", "password": PASSWORD}
    )
    assert ghost.status_code == 401
    right = httpx.post(f"{url}/v1/auth/token", data={"username": "ana", "password": PASSWORD})
    assert right.status_code == 200, right.text
    page = httpx.post(f"{url}/login", data={"username": "ana", "password": PASSWORD})
    assert page.status_code == 303

    device_key(api, "WS-R03-K7", "WS-R03", "kiosk")
    sanjiang(api, "kiosk", "revoke", "WS-R03-K7", "--reason", "stolen")

    logins = wait_for_audit_rows(url, admin, {"what": "login"}, lambda rows: len(rows) >= 4)
    assert [(r["kind"], r["actor"], r["role"], r["outcome"], r["reason"]) for r in logins] == [
        ("login.page", "ana", "analyst", "succeeded", ""),
        ("login.token", "ana", "analyst", "succeeded", ""),
        ("login.token", "", "", "refused", "unknown_user"),
        ("login.token", "ana", "analyst", "refused", "wrong_password"),
    ]
    assert all(r["station"] == "WS-C" and r["what"] == "login" for r in logins)
    assert logins[2]["detail"].startswith("from 127.0.0.1; not a username")
    assert not [r for r in logins if "nope" in str(r) or PASSWORD in str(r)]

    (user,) = wait_for_audit_rows(url, admin, {"what": "user"}, bool)
    assert (user["kind"], user["actor"], user["subject"], user["detail"], user["station"]) == (
        "user.created",
        actor,
        "ana",
        "new analyst",
        "WS-C",
    )
    (key,) = wait_for_audit_rows(url, admin, {"what": "device"}, bool)
    assert (key["kind"], key["actor"], key["subject"], key["detail"], key["station"]) == (
        "device_key.revoked",
        actor,
        "kiosk:WS-R03-K7",
        "stolen",
        "WS-R03",
    )
    refused = wait_for_audit_rows(url, admin, {"accepted": "false"}, lambda rows: len(rows) >= 2)
    assert {r["reason"] for r in refused} == {"unknown_user", "wrong_password"}
    by_ana = wait_for_audit_rows(url, admin, {"actor": "ana", "what": "login"}, bool)
    assert len(by_ana) == 3
