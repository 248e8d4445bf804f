"""The live page: served by the API, wired to the SSE stream and to views that exist."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.live import VIEWS
from sanjiang.kafka.topics import Topics
from sanjiang.network import load_network
from sanjiang.settings import Settings

pytestmark = pytest.mark.integration


def test_live_page(kafka_settings: Settings, topics: Topics, tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": topics.prefix, "var_dir": tmp_path, "api_hosts_sink": False}
    )
    with TestClient(create_app(settings)) as client:
        home = client.get("/", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "/live"
        page = client.get("/live")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<title>三江驿 · 实时态势</title>" in html
    assert 'new EventSource("/v1/live/stream")' in html
    names = orjson.loads(re.search(r"const NAMES = (\{.*?\});\n", html).group(1))  # type: ignore[union-attr]
    network = load_network()
    assert names["stations"]["WS-C"] == network.station("WS-C").name
    assert len(names["venues"]) == len(network.venues)
    rendered = set(re.findall(r"^  (\w+)\(d\) \{", html, re.MULTILINE))
    assert rendered and rendered <= set(VIEWS)  # the page listens for views the API publishes
