"""Pages in a real headless Chromium (Debian's ``chromium`` driven through its
``chromium-driver`` by Selenium; nothing downloads a browser), against the API under uvicorn
with the real broker and chDB. Screenshots go to ``test-artifacts/``.

``make test`` installs the two packages where it can (as root) and otherwise says which to
install; these tests fail (they do not skip) without them."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from sanjiang.settings import Settings
from tests.access import PASSWORD, add_user
from tests.api_process import api_process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Platform:
    """The API under test, and a viewer who can log in."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = f"http://127.0.0.1:{settings.api_port}"
        self.viewer = add_user(settings, "viewer", username=f"v{uuid.uuid4().hex[:8]}")
        self.password = PASSWORD


@pytest.fixture(scope="session")
def platform(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with api_process(kafka_settings, tmp_path_factory.mktemp("browser-var")) as settings:
        yield Platform(settings)


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """A fresh headless Chromium that logs every request it makes; a screenshot at the end."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    assert not missing, (
        f"{', '.join(missing)} missing: install Debian's packages chromium and chromium-driver "
        "(`apt-get install chromium chromium-driver`; make test does it when run as root)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1366,900",
        "--no-first-run",
        "--lang=zh-CN",  # as the stations' browsers: dates and times in the Chinese form
        "--disable-background-networking",  # no update checks, no safe-browsing lists
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{request.node.name}.png"))
        driver.quit()


def browser_log(driver: WebDriver, kind: str) -> list[dict[str, Any]]:
    """One of the logs Chromium keeps for the driver (``performance``, ``browser``)."""
    entries: list[dict[str, Any]] = driver.get_log(kind)  # type: ignore[no-untyped-call]
    return entries


def requested_hosts(driver: WebDriver) -> set[str]:
    """Every host the page asked for since the last call, from the DevTools network log
    (``data:`` and ``blob:`` URLs never leave the browser and are left out)."""
    hosts: set[str] = set()
    for entry in browser_log(driver, "performance"):
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = urlparse(message["params"]["request"]["url"])
            if url.scheme not in ("data", "blob"):
                hosts.add(f"{url.scheme}://{url.hostname}")
    return hosts


def severe_console_messages(driver: WebDriver) -> list[str]:
    """Errors the page logged (a script the policy blocked, a failed load)."""
    return [e["message"] for e in browser_log(driver, "browser") if e["level"] == "SEVERE"]
