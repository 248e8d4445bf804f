"""The live page: behind a staff session, served by the API, wired to the SSE stream and to
views that exist; its script and styles are files (the page's policy allows no inline script)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.access.sessions import SESSION_COOKIE
from api.access.tokens import TokenIssuer
from api.app import create_app
from api.routes.live import VIEWS
from api.services import auth_key
from sanjiang.kafka.topics import Topics
from sanjiang.network import load_network
from sanjiang.settings import Settings
from tests.access import PASSWORD, add_user

pytestmark = pytest.mark.integration


def test_live_page(kafka_settings: Settings, topics: Topics, tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": topics.prefix, "var_dir": tmp_path, "api_hosts_sink": False}
    )
    name = add_user(settings, "viewer")
    with TestClient(create_app(settings)) as client:
        home = client.get("/", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "/screen"
        assert client.get("/live", follow_redirects=False).status_code == 303
        client.post("/login", data={"username": name, "password": PASSWORD})
        page = client.get("/live")
        script = client.get("/static/live.js")
        reader = client.get("/static/stream.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<title>三江驿 · 实时态势</title>" in html
    assert '<script src="/static/stream.js"></script>' in html  # the one live-view reader
    assert '<script src="/static/live.js"></script>' in html
    assert not re.search(r"<script>|<script(?![^>]*(src=|application/json))", html)
    assert "style=" not in html and "<style" not in html
    names = json.loads(re.search(r'id="names">(.*?)</script>', html).group(1))  # type: ignore[union-attr]
    network = load_network()
    assert names["stations"]["WS-C"] == network.station("WS-C").name
    assert len(names["venues"]) == len(network.venues)
    assert script.status_code == 200 and reader.status_code == 200
    assert 'new EventSource("/v1/live/stream")' in reader.text
    assert "followLive(" in script.text
    rendered = set(re.findall(r"^  (\w+)\(d\) \{", script.text, re.MULTILINE))
    assert rendered and rendered <= set(VIEWS)  # the page listens for views the API publishes


def test_a_page_in_use_renews_its_session(
    kafka_settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    """Past half its life, a session gets a fresh cookie (same CSRF token) on any request."""
    settings = kafka_settings.model_copy(
        update={"topic_prefix": topics.prefix, "var_dir": tmp_path, "api_hosts_sink": False}
    )
    name = add_user(settings, "viewer")
    ttl = settings.session_ttl_h * 3600
    issuer = TokenIssuer(auth_key(settings))
    old, claims = issuer.issue(name, 1, "session", ttl, now=time.time() - 0.6 * ttl)
    young, _ = issuer.issue(name, 1, "session", ttl)
    with TestClient(create_app(settings)) as client:
        client.cookies.set(SESSION_COOKIE, young)
        assert "set-cookie" not in client.get("/v1/auth/me").headers
        client.cookies.set(SESSION_COOKIE, old)
        answer = client.get("/v1/auth/me")
    assert answer.status_code == 200
    renewed = answer.headers["set-cookie"]
    assert renewed.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in renewed
    token = renewed.split("=", 1)[1].split(";", 1)[0]
    fresh = issuer.verify(token, "session")
    assert fresh.csrf == claims.csrf and fresh.expires_at > claims.expires_at
