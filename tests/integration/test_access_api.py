"""Access through the real API (real broker, real chDB): every route that shows the network's
data needs a credential; each role and key kind gets what it may (and 403 for the rest);
expired, tampered and outdated credentials are 401; logins are counted and limited; page
sessions are HttpOnly cookies whose state-changing requests need their CSRF token; every
response carries the security headers; no secret reaches the logs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.access.tokens import TokenIssuer
from api.access.users import UserStore, connect
from api.app import create_app
from api.services import auth_key, staff_db_path
from sanjiang.events import encode_event
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from tests.access import PASSWORD, add_user, bearer, device_key, staff_token
from tests.api_process import api_process
from tests.integration.test_ingest_api import checkin

pytestmark = pytest.mark.integration

#: Routes anyone may call: liveness, logging in, the API's description and its viewers.
OPEN = {
    ("GET", "/healthz"),
    ("POST", "/v1/auth/token"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/docs/redoc.js"),  # ReDoc's bundle, its logo served from here
    ("GET", "/openapi.json"),
    ("GET", "/"),  # a redirect to /live
    ("GET", "/kiosk"),  # the kiosk page: the same for every kiosk, no data (the API gives it)
    ("GET", "/kiosk/sw.js"),  # its service worker
}
#: One request for each protected route, and who may make it: "network" = callers that see the
#: whole network with the read grant; "station" = readers that see WS-R03; "sql", "ingest",
#: "any" = any valid credential.
DAY = {"from": "2026-11-24", "to": "2026-11-24"}
#: the kiosk page's routes take a kiosk's key (its cookie, or as a bearer token)
KIOSK_ID = "01939f3c-7a1b-7c2d-8e3f-0123456789ab"
KIOSK_HEARTBEAT = {
    "event_id": KIOSK_ID,
    "type": "kiosk.heartbeat",
    "occurred_at": "2026-11-24T08:00:00+08:00",
    "payload": {"app_version": "t1"},
}
KIOSK_DEMAND = {"kind": "demand.submit", "demand_id": "d1", "category": "handcraft"}
PROTECTED: list[tuple[str, str, dict[str, Any], str]] = [
    ("GET", "/v1/auth/me", {}, "any"),
    ("GET", "/v1/kpis", DAY, "network"),
    ("GET", "/v1/kpis", {**DAY, "station": "WS-R03"}, "station"),
    ("GET", "/v1/kpis", {**DAY, "station": "WS-R07"}, "network"),
    ("GET", "/v1/kpis", {**DAY, "venue": "WS-R03-ACT"}, "station"),
    ("GET", "/v1/history/timeseries", DAY, "network"),
    ("GET", "/v1/history/timeseries", {**DAY, "station": "WS-R03"}, "station"),
    ("GET", "/v1/history/funnel", DAY, "network"),
    ("GET", "/v1/history/heat", {}, "network"),
    ("GET", "/v1/reconcile", DAY, "network"),
    ("GET", "/v1/live/{view}", {"view": "network"}, "network"),
    ("GET", "/v1/live/stations/{station_id}", {"station_id": "WS-R03"}, "station"),
    ("GET", "/v1/live/stations/{station_id}", {"station_id": "WS-R07"}, "network"),
    ("GET", "/v1/live/kpis", {}, "network"),
    ("GET", "/v1/live/kpis", {"station": "WS-R03"}, "station"),
    ("GET", "/v1/live/kpis", {"station": "WS-R07"}, "network"),
    ("GET", "/v1/live/stream", {}, "station"),
    ("GET", "/metrics", {}, "network"),  # or the scrape token (test_up)
    ("POST", "/v1/sql", {"sql": "SELECT 1"}, "sql"),
    ("POST", "/v1/events", {}, "ingest"),
    (  # no deciders run here: who may ask waits for an answer (504), the rest get 403 at once
        "POST",
        "/v1/commands",
        {
            "station_id": "WS-R03",
            "command": {
                "kind": "demand.submit",
                "demand_id": "d1",
                "category": "handcraft",
                "resident": "0" * 32,
            },
        },
        "command",
    ),
    ("GET", "/v1/audit", DAY, "admin"),
    (
        "GET",
        "/v1/stations/{station_id}/demands/{demand_id}",
        {"station_id": "WS-R03", "demand_id": "d1"},
        "follow",
    ),
    (
        "GET",
        "/v1/stations/{station_id}/demands/{demand_id}",
        {"station_id": "WS-R07", "demand_id": "d1"},
        "network",
    ),
    ("GET", "/v1/screen/summary", {}, "network"),
    ("GET", "/v1/screen/stations/{station_id}", {"station_id": "WS-R03"}, "station"),
    ("GET", "/v1/screen/stations/{station_id}", {"station_id": "WS-R07"}, "network"),
    ("GET", "/v1/kiosk/config", {}, "kiosk"),
    ("POST", "/v1/kiosk/events", KIOSK_HEARTBEAT, "kiosk"),
    ("POST", "/v1/kiosk/commands", {"command_id": KIOSK_ID, "command": KIOSK_DEMAND}, "kiosk"),
    (
        "POST",
        "/v1/kiosk/lookup",
        {"lookup_id": KIOSK_ID, "resident_sealed": "0" * 16 + ".A"},
        "kiosk",
    ),
    ("GET", "/v1/kiosk/demands/{demand_id}", {"demand_id": "d1"}, "kiosk"),
    ("GET", "/kiosk/pair", {}, "page"),
    ("POST", "/kiosk/pair", {}, "page"),
    ("GET", "/live", {}, "page"),
    ("GET", "/screen", {}, "page"),
    # the staff console: staff who act for the station (operators, managers, admins)
    ("GET", "/v1/console/stations/{station_id}/week", {"station_id": "WS-R03"}, "staff"),
    ("GET", "/v1/console/stations/{station_id}/week", {"station_id": "WS-R07"}, "admin"),
    ("GET", "/v1/console/stations/{station_id}/bookings", {"station_id": "WS-R03"}, "staff"),
    ("GET", "/v1/console/stations/{station_id}/demands", {"station_id": "WS-R03"}, "staff"),
    (
        "GET",
        "/v1/console/stations/{station_id}/activities/{activity_id}",
        {"station_id": "WS-R03", "activity_id": "a1"},
        "staff",
    ),
    (
        "POST",
        "/v1/console/stations/{station_id}/checkins",
        {
            "station_id": "WS-R03",
            "checkin_id": KIOSK_ID,
            "venue_id": "WS-R03-ACT",
            "identifier": "310000000001",
        },
        "staff",
    ),
    (
        "POST",
        "/v1/console/stations/{station_id}/registrations",
        {
            "station_id": "WS-R03",
            "command_id": KIOSK_ID,
            "activity_id": "a1",
            "registration_id": "r1",
            "identifier": "310000000001",
        },
        "staff",
    ),
    ("GET", "/v1/console/stations/{station_id}/overview", {"station_id": "WS-R03"}, "staff"),
    ("GET", "/v1/console/stations/{station_id}/audit", {"station_id": "WS-R03"}, "manager"),
    ("GET", "/console", {}, "page"),
]
CALLERS = (
    "kiosk",
    "console",
    "analyst_key",
    "viewer",
    "operator",
    "manager",
    "analyst",
    "admin",
)
MAY: dict[str, set[str]] = {
    "any": set(CALLERS),
    "network": {"analyst_key", "viewer", "analyst", "admin"},
    "station": {"console", "analyst_key", "viewer", "operator", "manager", "analyst", "admin"},
    "sql": {"analyst_key", "analyst"},
    "ingest": {"kiosk", "console"},
    "command": {"kiosk", "operator", "manager", "admin"},
    # a demand's status: whoever sees the station, and its kiosks (a resident at the screen)
    "follow": {
        "kiosk",
        "console",
        "analyst_key",
        "viewer",
        "operator",
        "manager",
        "analyst",
        "admin",
    },
    "admin": {"admin"},
    "staff": {"operator", "manager", "admin"},
    "manager": {"manager", "admin"},
    "kiosk": {"kiosk"},  # the kiosk page's routes: residents at the screen
    "page": set(),  # pages take a session cookie, never a bearer credential
}


class Api:
    def __init__(self, client: TestClient, settings: Settings, credentials: dict[str, str]):
        self.client = client
        self.settings = settings
        self.credentials = credentials

    def call(self, method: str, path: str, params: dict[str, Any], who: str | None) -> Any:
        headers = bearer(self.credentials[who]) if who else {}
        url = path.format(**params)
        query = {k: v for k, v in params.items() if "{" + k + "}" not in path}
        if path == "/v1/live/stream":
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code == 200:
                    next(response.iter_lines())  # the stream started
                else:
                    response.read()
                return response
        if method == "POST" and path == "/v1/commands":
            return self.client.post(url, json=params, headers=headers)
        if method == "POST" and path.startswith("/v1/kiosk/"):
            return self.client.post(url, json=params, headers=headers)
        if method == "POST" and path.startswith("/v1/console/"):
            return self.client.post(url, json=query, headers=headers)
        if method == "POST" and path == "/kiosk/pair":
            return self.client.post(url, data=params, headers=headers, follow_redirects=False)
        if method == "POST" and path == "/v1/sql":
            return self.client.post(url, json=query, headers=headers)
        if method == "POST" and path == "/v1/events":
            station = "WS-R03"
            source = {"kiosk": "kiosk:WS-R03-K1", "console": "console:WS-R03-C1"}.get(
                who or "", "kiosk:x"
            )
            body = encode_event(checkin(station=station, source=source))
            return self.client.post(
                url, content=body, headers={**headers, "content-type": "application/json"}
            )
        return self.client.get(url, params=query, headers=headers, follow_redirects=False)


@pytest.fixture
def api(kafka_settings: Settings, topics: Topics, tmp_path: Path) -> Iterator[Api]:
    settings = kafka_settings.model_copy(
        update={
            "topic_prefix": topics.prefix,
            "var_dir": tmp_path,
            "api_hosts_sink": False,
            "command_timeout_s": 0.2,
        }
    )
    credentials = {
        "kiosk": device_key(settings, "WS-R03-K1", "WS-R03", "kiosk"),
        "console": device_key(settings, "WS-R03-C1", "WS-R03", "console"),
        "analyst_key": device_key(settings, "alice", "WS-C", "analyst"),
        "viewer": staff_token(settings, "viewer"),
        "operator": staff_token(settings, "operator", ["WS-R03"]),
        "manager": staff_token(settings, "manager", ["WS-R03", "WS-R04"]),
        "analyst": staff_token(settings, "analyst"),
        "admin": staff_token(settings, "admin"),
    }
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, credentials)


def test_every_route_is_open_or_in_the_access_table(api: Api) -> None:
    """A route added without an entry here fails: it must be judged open or protected."""
    routes = {
        (method, route.path)
        for route in every_route(api.client.app.routes)  # type: ignore[attr-defined]
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == OPEN | {(method, path) for method, path, _, _ in PROTECTED}


def every_route(routes: list[Any]) -> Iterator[Any]:
    """The app's endpoints, through the routers it includes (FastAPI includes them lazily; the
    app has no prefixes)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from every_route(included.routes)
        elif isinstance(route, APIRoute) or getattr(route, "path", "") == "/openapi.json":
            yield route


def test_each_route_without_a_credential_is_refused(api: Api) -> None:
    for method, path, params, rule in PROTECTED:
        answer = api.call(method, path, params, None)
        if rule == "page":  # a page sends the browser to the login page
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
            continue
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.headers["www-authenticate"].startswith("Bearer"), path


def test_each_role_and_key_kind_gets_what_it_may_and_403_otherwise(api: Api) -> None:
    for method, path, params, rule in PROTECTED:
        for who in CALLERS:
            answer = api.call(method, path, params, who)
            if rule == "page":
                assert answer.status_code == 303, (path, who)  # a bearer is no session
                continue
            if who in MAY[rule]:
                assert answer.status_code not in (401, 403), (method, path, params, who)
            else:
                assert answer.status_code == 403, (method, path, params, who, answer.text)
                assert answer.json()["error"] in ("forbidden", "forbidden_scope")


def test_a_console_key_gets_403_on_sql(api: Api) -> None:
    answer = api.call("POST", "/v1/sql", {"sql": "SELECT 1"}, "console")
    assert answer.status_code == 403


def test_expired_tampered_and_outdated_credentials_are_401(api: Api) -> None:
    settings = api.settings
    name = add_user(settings, "viewer")
    issuer = TokenIssuer(auth_key(settings))
    expired, _ = issuer.issue(name, 1, "access", ttl_s=60, now=1_000_000)
    valid, _ = issuer.issue(name, 1, "access", ttl_s=600)
    tampered = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    foreign, _ = TokenIssuer(b"k" * 32).issue(name, 1, "access", ttl_s=600)
    session, _ = issuer.issue(name, 1, "session", ttl_s=600)  # a session is no bearer token
    me = "/v1/auth/me"
    assert api.client.get(me, headers=bearer(valid)).status_code == 200
    for token in (expired, tampered, foreign, session, "not.a.jwt", "sjk_unknown"):
        answer = api.client.get(me, headers=bearer(token))
        assert answer.status_code == 401, token
    assert api.client.get(me, headers={"Authorization": "Basic eDp5"}).status_code == 401
    store = UserStore(connect(staff_db_path(settings)))
    try:
        store.set_password(name, "a brand new password")  # earlier tokens stop working
        assert api.client.get(me, headers=bearer(valid)).status_code == 401
        fresh, _ = issuer.issue(name, 2, "access", ttl_s=600)
        assert api.client.get(me, headers=bearer(fresh)).status_code == 200
        store.disable(name)
        assert api.client.get(me, headers=bearer(fresh)).status_code == 401
    finally:
        store.close()


def test_login_issues_a_token_and_failed_logins_are_limited(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    name = add_user(api.settings, "analyst", password=PASSWORD)
    caplog.set_level(logging.DEBUG)
    ok = api.client.post("/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    token = ok.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == api.settings.token_ttl_s
    me = api.client.get("/v1/auth/me", headers=bearer(token["access_token"])).json()
    assert me["name"] == name and me["role"] == "analyst" and "sql" in me["grants"]
    for _ in range(api.settings.login_failures_per_account):
        wrong = api.client.post("/v1/auth/token", data={"username": name, "password": "nope!"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "bad_login"
    locked = api.client.post("/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    unknown = api.client.post("/v1/auth/token", data={"username": "ghost", "password": "x" * 12})
    assert unknown.status_code == 401
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert PASSWORD not in logged and "nope!" not in logged
    assert token["access_token"] not in logged
    for key in api.credentials.values():
        assert key not in logged


def test_page_session_cookie_csrf_and_logout(api: Api) -> None:
    name = add_user(api.settings, "analyst", password=PASSWORD)
    client = api.client
    page = client.get("/live", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/live"
    login = client.get("/login", params={"next": "/live"})
    assert login.status_code == 200 and "登录" in login.text
    wrong = client.post("/login", data={"username": name, "password": "wrong one", "next": "/x"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    answer = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/live"  # never away
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    live = client.get("/live")
    assert live.status_code == 200 and "<title>三江驿 · 实时态势</title>" in live.text
    csrf = live.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert len(csrf) > 20
    # the session reads (GET) without more; a state-changing request needs its CSRF token
    assert client.get("/v1/auth/me").json()["name"] == name
    refused = client.post("/v1/sql", json={"sql": "SELECT 1"})
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    forged = client.post("/v1/sql", json={"sql": "SELECT 1"}, headers={"X-CSRF-Token": "x" * 32})
    assert forged.status_code == 403
    allowed = client.post("/v1/sql", json={"sql": "SELECT 1"}, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 200, allowed.text
    cross_site = client.post(
        "/login",
        data={"username": name, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and 'sj_session=""' in out.headers["set-cookie"]
    client.cookies.clear()
    assert client.get("/live", follow_redirects=False).status_code == 303


def test_security_headers_on_every_response_and_no_cors(api: Api) -> None:
    viewer = bearer(api.credentials["viewer"])
    for path, headers in (
        ("/healthz", {}),
        ("/login", {}),
        ("/v1/kpis?from=2026-11-24&to=2026-11-24", viewer),
        ("/v1/live/network", viewer),
        ("/docs", {}),
        ("/static/live.js", {}),
    ):
        answer = api.client.get(path, headers=headers)
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        policy = answer.headers["content-security-policy"]
        script = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert script.strip() == "script-src 'self'", path  # no inline script anywhere
        assert "frame-ancestors 'none'" in policy, path
        if not path.startswith("/static/"):
            assert answer.headers["cache-control"] in ("no-store", "no-cache"), path
    preflight = api.client.options(
        "/v1/kpis",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_every_body_is_bounded_before_any_credential_is_asked(api: Api) -> None:
    """FastAPI reads a body before its dependencies run: the limit comes first (413), for
    declared lengths and for chunked bodies alike."""
    limit = api.settings.max_body_bytes
    big = b"x" * (limit + 1)
    declared = api.client.post("/v1/sql", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b"y" * 65536

    chunked = api.client.post(
        "/v1/auth/token",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    login = api.client.post("/login", content=big)
    assert login.status_code == 413


def test_a_credential_holds_a_bounded_number_of_live_streams(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """Under uvicorn (the test client ends a stream as soon as it is read)."""
    with (
        api_process(kafka_settings, tmp_path, SANJIANG_SSE_PER_CALLER="2") as settings,
        httpx2.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=30) as client,
        contextlib.ExitStack() as streams,
    ):
        viewer = bearer(staff_token(settings, "viewer"))
        reading = []  # held: a line iterator let go of closes its stream
        for _ in range(2):
            response = streams.enter_context(
                client.stream("GET", "/v1/live/stream", headers=viewer)
            )
            assert response.status_code == 200
            reading.append(response.iter_lines())
            assert next(reading[-1]) == ": connected"
        third = client.get("/v1/live/stream", headers=viewer)
        assert third.status_code == 429 and third.json()["error"] == "too_many_streams"
        other = bearer(staff_token(settings, "viewer"))
        with client.stream("GET", "/v1/live/stream", headers=other) as response:
            assert response.status_code == 200  # the bound is per credential


#: Who may ask what, as the README's command table says it (O operator, M manager, A admin,
#: K kiosk): the API must refuse everything else with 403 before sending it. Viewers,
#: analysts, analyst keys and consoles ask nothing.
COMMAND_MATRIX = {
    "activity.design": "OMA",
    "activity.design_series": "OMA",
    "activity.update": "OMA",
    "activity.publish": "OMA",
    "activity.cancel": "OMA",
    "activity.release_no_shows": "A",  # and the scheduler
    "registration.register": "OMAK",
    "registration.cancel": "OMAK",
    "booking.request": "OMAK",
    "booking.approve": "MA",
    "booking.reject": "MA",
    "booking.cancel": "OMA",
    "booking.check_in": "OMA",
    "booking.mark_no_show": "OMA",
    "venue.close": "MA",
    "venue.lift_closure": "MA",
    "demand.submit": "OMAK",
    "demand.vote": "OMAK",
    "demand.accept": "OMA",
    "demand.dispatch": "MA",
    "demand.answer": "MA",
    "demand.link": "OMA",
    "demand.close": "MA",
    "demand.mark_overdue": "A",  # and the scheduler
}
LETTER = {"operator": "O", "manager": "M", "admin": "A", "kiosk": "K"}


def _a_command(kind: str) -> dict[str, Any]:
    """A well-formed command of ``kind`` (what it names need not exist: no decider runs)."""
    when = {"starts_at": "2026-12-24T14:00:00+08:00", "ends_at": "2026-12-24T16:00:00+08:00"}
    resident = {"resident": "0" * 32}
    design = {
        "activity_id": "a1",
        "title": "剪纸",
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": "WS-R03-ACT",
        "capacity": 10,
        "target_groups": ["elderly"],
        **when,
    }
    bodies: dict[str, dict[str, Any]] = {
        "activity.design": design,
        "activity.design_series": {**design, "weeks": 4},
        "activity.update": {"activity_id": "a1", "capacity": 12},
        "activity.publish": {"activity_id": "a1"},
        "activity.cancel": {"activity_id": "a1"},
        "activity.release_no_shows": {"activity_id": "a1"},
        "registration.register": {"registration_id": "r1", "activity_id": "a1", **resident},
        "registration.cancel": {"registration_id": "r1"},
        "booking.request": {
            "booking_id": "b1", "venue_id": "WS-R03-ACT", "attendees": 5, **when, **resident
        },
        "booking.approve": {"booking_id": "b1"},
        "booking.reject": {"booking_id": "b1", "reason": "已满"},
        "booking.cancel": {"booking_id": "b1"},
        "booking.check_in": {"booking_id": "b1"},
        "booking.mark_no_show": {"booking_id": "b1"},
        "venue.close": {"closure_id": "c1", "venue_id": "WS-R03-ACT", "reason": "检修", **when},
        "venue.lift_closure": {"closure_id": "c1"},
        "demand.submit": {"demand_id": "d1", "category": "handcraft", **resident},
        "demand.vote": {"demand_id": "d1", **resident},
        "demand.accept": {"demand_id": "d1"},
        "demand.dispatch": {
            "demand_id": "d1", "dispatch_id": "x1", "unit": "街道", "due_at": when["ends_at"]
        },
        "demand.answer": {"demand_id": "d1", "answer": "已安排"},
        "demand.link": {"demand_id": "d1", "activity_ids": ["a1"]},
        "demand.close": {"demand_id": "d1"},
        "demand.mark_overdue": {"demand_id": "d1"},
    }  # fmt: skip
    return {"kind": kind, **bodies[kind]}


def test_each_caller_may_ask_exactly_its_commands(api: Api) -> None:
    """Every command kind by every kind of caller at WS-R03: 403 for what it may not ask;
    what it may is sent (no decider runs here, so it waits and gets 504)."""
    from sanjiang.commands.model import BODY_TYPES

    assert set(COMMAND_MATRIX) == set(BODY_TYPES)
    for kind, allowed in COMMAND_MATRIX.items():
        body = {"station_id": "WS-R03", "command": _a_command(kind)}
        for who in CALLERS:
            answer = api.call("POST", "/v1/commands", body, who)
            if LETTER.get(who, "-") in allowed:
                assert answer.status_code == 504, (kind, who, answer.text)
            else:
                assert answer.status_code == 403, (kind, who, answer.text)
