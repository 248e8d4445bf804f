"""`sanjiang dashboards push`: its create-or-update logic against a small recording stand-in for
Grafana's HTTP API (this checks our idempotence and error handling, not Grafana), and the real
thing when SANJIANG_TEST_GRAFANA_URL points at a Grafana (CI here has none)."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dashboards.provisioning import FOLDER_UID, dashboards_for, datasources
from dashboards.push import PushError, connect, push
from sanjiang.settings import load_settings

SETTINGS = load_settings()
AUTH = "Basic " + base64.b64encode(b"admin:secret").decode()


class FakeGrafana(BaseHTTPRequestHandler):
    """Datasources, folders and dashboards by uid, as Grafana's API keeps them."""

    state: dict[str, dict[str, Any]]
    calls: list[str]

    def log_message(self, *_: Any) -> None:
        pass

    def _answer(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        self.calls.append(f"{method} {self.path}")
        if self.headers.get("Authorization") != AUTH:
            return self._answer(401, {"message": "Unauthorized"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        kinds = {"datasources/uid": "datasources", "folders": "folders"}
        path = self.path.removeprefix("/api/")
        for prefix, kind in kinds.items():
            if path.startswith(prefix + "/") and method in ("GET", "PUT"):
                uid = path.removeprefix(prefix + "/")
                if uid not in self.state[kind]:
                    return self._answer(404, {"message": "not found"})
                if method == "PUT":
                    self.state[kind][uid] = body or {}
                return self._answer(200, self.state[kind][uid])
        if method == "POST" and path in ("datasources", "folders"):
            assert body is not None
            if body["uid"] in self.state[path]:
                return self._answer(409, {"message": "exists"})
            self.state[path][body["uid"]] = body
            return self._answer(200, body)
        if method == "POST" and path == "dashboards/db":
            assert body is not None
            if body["folderUid"] not in self.state["folders"]:
                return self._answer(400, {"message": "folder not found"})
            uid = body["dashboard"]["uid"]
            old = self.state["dashboards"].get(uid)
            if old is not None and not body["overwrite"]:
                return self._answer(412, {"message": "version-mismatch"})
            version = 1 if old is None else old["version"] + 1
            self.state["dashboards"][uid] = {**body["dashboard"], "version": version}
            return self._answer(200, {"uid": uid, "version": version, "status": "success"})
        return self._answer(404, {"message": "no route"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


@pytest.fixture
def grafana() -> Iterator[tuple[str, type[FakeGrafana]]]:
    handler = type(
        "Handler",
        (FakeGrafana,),
        {"state": {"datasources": {}, "folders": {}, "dashboards": {}}, "calls": []},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_push_creates_then_updates_and_is_idempotent(
    grafana: tuple[str, type[FakeGrafana]],
) -> None:
    url, handler = grafana
    host = url.removeprefix("http://")
    boards = dashboards_for(SETTINGS)
    sources = datasources(SETTINGS, password="pw")
    first = push(connect(f"http://admin:secret@{host}"), sources, boards)
    uids = ("sanjiang-clickhouse", "sanjiang-prometheus")
    assert first.datasources == dict.fromkeys(uids, "created")
    assert first.folder == "created"
    assert first.dashboards == [b.uid for b in boards]
    assert handler.state["datasources"]["sanjiang-clickhouse"]["secureJsonData"] == {
        "password": "pw"
    }
    assert set(handler.state["folders"]) == {FOLDER_UID}
    assert handler.state["datasources"]["sanjiang-prometheus"]["url"] == "http://prometheus:9090"
    second = push(connect(f"http://admin:secret@{host}"), sources, boards)
    assert second.datasources == dict.fromkeys(uids, "updated")
    assert second.folder == "exists"
    assert len(handler.state["dashboards"]) == len(boards)  # replaced by uid, not duplicated
    assert {d["version"] for d in handler.state["dashboards"].values()} == {2}
    assert all(d["id"] is None for d in handler.state["dashboards"].values())


def test_push_errors_are_named(grafana: tuple[str, type[FakeGrafana]]) -> None:
    url, _ = grafana
    host = url.removeprefix("http://")
    with pytest.raises(PushError, match="401"):
        push(connect(f"http://admin:wrong@{host}"), datasources(SETTINGS), dashboards_for(SETTINGS))
    with pytest.raises(PushError, match="cannot reach Grafana"):
        push(connect("http://admin:secret@127.0.0.1:9", timeout_s=2), datasources(SETTINGS), [])


@pytest.mark.skipif(
    not os.environ.get("SANJIANG_TEST_GRAFANA_URL"),
    reason="SANJIANG_TEST_GRAFANA_URL (http://user:pass@127.0.0.1:3000) is not set",
)
def test_push_to_a_real_grafana() -> None:
    api = connect(os.environ["SANJIANG_TEST_GRAFANA_URL"])
    boards = dashboards_for(SETTINGS)
    push(api, datasources(SETTINGS, password="unused"), boards)
    push(api, datasources(SETTINGS, password="unused"), boards)  # again: updates in place
    for board in boards:
        stored = api.dashboard.get_dashboard(board.uid)  # type: ignore[no-untyped-call]
        assert stored["dashboard"]["title"] == board.title
        assert stored["meta"]["folderUid"] == FOLDER_UID
