"""The pages in a real browser: the login, the live page following the stream under a policy
that allows no inline script, the API docs rendered offline — and no request leaves
127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sanjiang.kafka.client import make_producer
from sanjiang.kafka.topics import Topics
from tests.browser.conftest import Platform, requested_hosts, severe_console_messages

pytestmark = pytest.mark.integration
LOCAL = "http://127.0.0.1"


def text_of(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def log_in(driver: WebDriver, platform: Platform, page: str = "/live") -> None:
    driver.get(platform.base + page)
    WebDriverWait(driver, 30).until(lambda d: "/login" in d.current_url)
    assert "工作人员登录" in driver.page_source
    driver.find_element(By.ID, "username").send_keys(platform.viewer)
    driver.find_element(By.ID, "password").send_keys(platform.password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url == platform.base + page)


def publish_view(platform: Platform, name: str, document: dict[str, object]) -> None:
    """A live view as the stream worker publishes it (the compacted live topic)."""

    async def send() -> None:
        producer = make_producer(platform.settings)
        await producer.start()
        try:
            body = {"view": name, "as_of": datetime.now(UTC).isoformat(), **document}
            topic = Topics.from_settings(platform.settings).live
            await producer.send_and_wait(topic, orjson.dumps(body), key=name.encode())
        finally:
            await producer.stop()

    asyncio.run(send())


def test_the_live_page_logs_in_and_follows_the_stream(
    platform: Platform, browser: WebDriver
) -> None:
    log_in(browser, platform)
    WebDriverWait(browser, 30).until(lambda d: text_of(d, "status") == "实时")  # SSE connected
    publish_view(platform, "network", {"checkins": 4321, "residents": 1234, "satisfaction": 0.9})
    WebDriverWait(browser, 30).until(lambda d: "4,321" in text_of(d, "network"))
    assert "签到人次" in text_of(browser, "network") and "90.0%" in text_of(browser, "network")
    publish_view(
        platform,
        "alerts",
        {
            "open": [
                {
                    "key": "kiosk_offline:WS-R03-K1",
                    "kind": "kiosk_offline",
                    "severity": "medium",
                    "scope": "kiosk:WS-R03-K1",
                    "reason": "no heartbeat",
                    "display": "终端 WS-R03-K1 营业中失联",
                    "started_at": datetime.now(UTC).isoformat(),
                }
            ]
        },
    )
    WebDriverWait(browser, 30).until(lambda d: "营业中失联" in text_of(d, "alerts"))
    assert severe_console_messages(browser) == []  # nothing blocked by the policy, no errors
    assert requested_hosts(browser) == {LOCAL}


def test_the_api_docs_render_offline(platform: Platform, browser: WebDriver) -> None:
    browser.get(platform.base + "/docs")
    WebDriverWait(browser, 60).until(
        lambda d: "三江驿" in d.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
    )
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock")  # the operations are listed
    browser.get(platform.base + "/redoc")
    WebDriverWait(browser, 60).until(
        lambda d: any("三江驿" in h.text for h in d.find_elements(By.TAG_NAME, "h1"))
    )
    assert requested_hosts(browser) == {LOCAL}
