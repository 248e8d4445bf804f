"""The kiosk page in a real browser: a staff member pairs it, a resident checks in and rates the
activity; then the API goes away, the kiosk queues two actions (and still opens from its
service worker), and delivers them when the API is back — the warehouse has them once, with
the times they were made at. The card number never reaches the page's storage, and no request
leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sanjiang.events import new_event
from sanjiang.events import payloads as p
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.network import load_network
from sanjiang.settings import Settings
from sanjiang.taxonomy import load_taxonomy
from tests.access import PASSWORD, add_user, device_key
from tests.api_process import ApiProcess, restartable_api
from tests.browser.conftest import requested_hosts, severe_console_messages

pytestmark = pytest.mark.integration
LOCAL = "http://127.0.0.1"
DEVICE = "KT-1"
CARD = "31010019450101"  # a resident's card number, as typed
OTHER_CARD = "31010019520202"


@pytest.fixture(scope="module")
def kiosk_api(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """An API of the kiosk's own (hosting the warehouse sink), which the test stops and
    starts again."""
    var = tmp_path_factory.mktemp("kiosk-var")
    with restartable_api(kafka_settings, var, hosts_sink=True) as api:
        yield api


def base(api: ApiProcess) -> str:
    return f"http://127.0.0.1:{api.settings.api_port}"


def sql(api: ApiProcess, key: str, statement: str) -> list[list[Any]]:
    request = urllib.request.Request(
        base(api) + "/v1/sql",
        data=json.dumps({"sql": statement}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        rows: list[list[Any]] = json.loads(response.read())["data"]
    return rows


def publish(settings: Settings, event: Any) -> None:
    async def send() -> None:
        async with EventPublisher(settings) as publisher:
            await publisher.publish(event)

    asyncio.run(send())


def click(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, css).is_displayed())
    driver.find_element(By.CSS_SELECTOR, css).click()


def text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def pending(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "pending").get_attribute("data-count"))


def type_card(driver: WebDriver, card: str) -> None:
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "card").is_displayed())
    driver.find_element(By.ID, "card").send_keys(card)
    driver.find_element(By.ID, "card-ok").click()


def stored_outbox(driver: WebDriver) -> str:
    """Everything the page keeps in IndexedDB, as text."""
    script = """
    const done = arguments[arguments.length - 1];
    const open = indexedDB.open("sanjiang-kiosk");
    open.onsuccess = () => {
      const t = open.result.transaction(["outbox", "config"], "readonly");
      const a = t.objectStore("outbox").getAll(), b = t.objectStore("config").getAll();
      t.oncomplete = () => done(JSON.stringify([a.result, b.result]));
    };
    open.onerror = () => done("error");
    """
    return str(driver.execute_async_script(script))


def test_the_kiosk_pairs_serves_residents_and_delivers_what_it_queued_offline(
    kiosk_api: ApiProcess, browser: WebDriver
) -> None:
    settings = kiosk_api.settings
    network = load_network(settings.network_file)
    station = next(s for s in network.stations if s.kind != "center")
    venue = station.venues[0]
    program = load_taxonomy().programs[0]
    operator = add_user(settings, "operator", [station.id])
    analyst = device_key(settings, "kiosk-test-analyst", station.id, "analyst")
    activity_id = f"ACT-KT-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    publish(
        settings,
        new_event(
            p.ActivityPublished(
                activity_id=activity_id,
                title="太极拳晨练",
                category=program.category,
                program=program.id,
                venue_id=venue.id,
                starts_at=now - timedelta(minutes=30),
                ends_at=now + timedelta(hours=2),
                capacity=20,
                target_groups=["elderly"],
            ),
            station_id=station.id,
            source="api",
            occurred_at=now - timedelta(hours=1),
        ),
    )
    WebDriverWait(browser, 60, poll_frequency=0.5).until(
        lambda _: (
            sql(
                kiosk_api,
                analyst,
                f"SELECT count() FROM events WHERE activity_id = '{activity_id}'",
            )[0][0]
            == 1
        )
    )
    url = base(kiosk_api)

    # a staff member of the station pairs the kiosk, and is logged out of it
    browser.get(url + "/kiosk/pair")
    WebDriverWait(browser, 30).until(lambda d: "/login" in d.current_url)
    browser.find_element(By.ID, "username").send_keys(operator)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url == url + "/kiosk/pair")
    browser.find_element(By.ID, "device_id").send_keys(DEVICE)
    browser.find_element(By.CSS_SELECTOR, "form.pair-form button[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url == url + "/kiosk")
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["sj_kiosk"]["httpOnly"] and cookies["sj_kiosk"]["sameSite"] == "Strict"
    assert "sj_session" not in cookies  # no staff session left on a public screen
    assert "sj_kiosk" not in browser.execute_script("return document.cookie")
    WebDriverWait(browser, 30).until(lambda d: text(d, "station") == station.name)

    # a resident checks in at the activity, then rates it with five stars
    click(browser, "button[data-flow=checkin]")
    type_card(browser, CARD)
    click(browser, f"button[data-choice='{activity_id}']")
    WebDriverWait(browser, 30).until(lambda d: "签到成功" in text(d, "done"))
    WebDriverWait(browser, 30).until(lambda d: text(d, "delivery") == "已提交。")
    click(browser, "#done-screen button[data-home]")
    click(browser, "button[data-flow=rate]")
    type_card(browser, CARD)
    click(browser, f"button[data-choice='{activity_id}']")
    click(browser, "button[data-stars='5']")
    click(browser, "#choose-ok")
    WebDriverWait(browser, 30).until(lambda d: "感谢您的评价" in text(d, "done"))
    WebDriverWait(browser, 30).until(lambda d: text(d, "delivery") == "已提交。")
    click(browser, "#done-screen button[data-home]")
    assert severe_console_messages(browser) == []  # nothing blocked by the policy, no errors
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return !!navigator.serviceWorker.controller")
    )

    # the API goes away: two actions wait in the outbox, and the page still opens
    kiosk_api.stop()
    offline_from = datetime.now(UTC)
    click(browser, "button[data-flow=checkout]")
    type_card(browser, CARD)
    WebDriverWait(browser, 30).until(lambda d: "签退成功" in text(d, "done"))
    WebDriverWait(browser, 30).until(lambda d: "联网后自动提交" in text(d, "delivery"))
    click(browser, "#done-screen button[data-home]")
    click(browser, "button[data-flow=checkin]")
    type_card(browser, OTHER_CARD)
    click(browser, f"button[data-venue='{venue.id}']")
    WebDriverWait(browser, 30).until(lambda d: pending(d) == "2")
    assert "离线" in text(browser, "net")
    browser.refresh()  # served by the service worker from what it kept
    WebDriverWait(browser, 30).until(lambda d: text(d, "station") == station.name)
    WebDriverWait(browser, 30).until(lambda d: pending(d) == "2")
    kept = stored_outbox(browser)
    assert activity_id in kept and "kiosk.heartbeat" not in kept
    assert CARD not in kept and OTHER_CARD not in kept  # sealed, never in clear
    offline_until = datetime.now(UTC)

    # the API is back: the kiosk delivers what waited, once, with the times it was made at
    back_at = datetime.now(UTC)
    kiosk_api.start()
    WebDriverWait(browser, 60).until(lambda d: pending(d) == "0")
    statement = (
        "SELECT type, toString(event_id), toUnixTimestamp64Milli(occurred_at),"
        " toUnixTimestamp64Milli(received_at), visit_id, resident, rating FROM events"
        f" WHERE source = 'kiosk:{DEVICE}' AND type != 'kiosk.heartbeat' ORDER BY occurred_at"
    )
    WebDriverWait(browser, 60, poll_frequency=0.5).until(
        lambda _: len(sql(kiosk_api, analyst, statement)) >= 4
    )
    rows = sql(kiosk_api, analyst, statement)
    assert [r[0] for r in rows] == [
        "checkin.recorded",
        "evaluation.submitted",
        "checkout.recorded",
        "checkin.recorded",
    ]
    assert len({r[1] for r in rows}) == len(rows)  # each once
    checkin, evaluation, checkout, other = rows
    assert evaluation[6] == 5
    assert checkout[4] == checkin[4]  # the check-out closed the resident's visit
    assert checkin[5] == evaluation[5] == checkout[5] != other[5]  # one pseudonym per resident
    assert all(len(r[5]) == 32 and CARD not in r[5] for r in rows)
    for queued in (checkout, other):  # made while the API was down, received after
        made = datetime.fromtimestamp(queued[2] / 1000, UTC)
        received = datetime.fromtimestamp(queued[3] / 1000, UTC)
        assert offline_from - timedelta(seconds=1) <= made <= offline_until
        assert received >= back_at
    assert requested_hosts(browser) == {LOCAL}
