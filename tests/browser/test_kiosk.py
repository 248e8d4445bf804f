"""The kiosk page in a real browser: a staff member pairs it, a resident checks in and rates the
activity; then the API goes away, the kiosk queues two actions (and still opens from its
service worker), and delivers them when the API is back — the warehouse has them once, with
the times they were made at. The card number never reaches the page's storage, and no request
leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from api.keys import KeyStore
from api.services import key_store_path
from sanjiang.events import new_event
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.network import load_network
from sanjiang.settings import Settings
from sanjiang.taxonomy import load_taxonomy
from tests.access import PASSWORD, add_user, device_key, staff_token
from tests.api_process import ApiProcess, deciders_process, restartable_api
from tests.browser.conftest import requested_hosts, severe_console_messages

pytestmark = pytest.mark.integration
LOCAL = "http://127.0.0.1"
SH = ZoneInfo("Asia/Shanghai")
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


def command(
    api: ApiProcess, token: str, station: str, body: dict[str, Any], command_id: str
) -> Any:
    """A staff command through ``POST /v1/commands``; the answer (status and body)."""
    request = urllib.request.Request(
        base(api) + "/v1/commands",
        data=json.dumps(
            {"station_id": station, "command": body, "command_id": command_id}
        ).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, refused.read().decode())


@dataclass
class Answer:
    status_code: int
    text: str


def publish(settings: Settings, event: Any) -> None:
    async def send() -> None:
        async with EventPublisher(settings) as publisher:
            await publisher.publish(event)

    asyncio.run(send())


def click(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, 120).until(lambda d: d.find_element(By.CSS_SELECTOR, css).is_displayed())
    driver.find_element(By.CSS_SELECTOR, css).click()


def text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def pending(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "pending").get_attribute("data-count"))


def type_card(driver: WebDriver, card: str) -> None:
    WebDriverWait(driver, 120).until(lambda d: d.find_element(By.ID, "card").is_displayed())
    driver.find_element(By.ID, "card").send_keys(card)
    driver.find_element(By.ID, "card-ok").click()


def weekday_afternoon() -> datetime:
    """14:00 Shanghai on the next Monday-to-Friday day (when the sample venues are open)."""
    day = datetime.now(SH).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 14, tzinfo=SH)


def pair(driver: WebDriver, api: ApiProcess, staff: str, device: str) -> None:
    """A staff member logs in on the kiosk's browser and pairs it; it lands on the page."""
    url = base(api)
    driver.get(url + "/kiosk/pair")
    WebDriverWait(driver, 120).until(lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "username").send_keys(staff)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 120).until(lambda d: d.current_url == url + "/kiosk/pair")
    driver.find_element(By.ID, "device_id").send_keys(device)
    driver.find_element(By.CSS_SELECTOR, "form.pair-form button[type=submit]").click()
    WebDriverWait(driver, 120).until(lambda d: d.current_url == url + "/kiosk")


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
    WebDriverWait(browser, 120, poll_frequency=0.5).until(
        lambda _: (
            sql(
                kiosk_api,
                analyst,
                f"SELECT count() FROM events WHERE activity_id = '{activity_id}'",
            )[0][0]
            == 1
        )
    )

    # a staff member of the station pairs the kiosk, and is logged out of it
    pair(browser, kiosk_api, operator, DEVICE)
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["sj_kiosk"]["httpOnly"] and cookies["sj_kiosk"]["sameSite"] == "Strict"
    assert "sj_session" not in cookies  # no staff session left on a public screen
    assert "sj_kiosk" not in browser.execute_script("return document.cookie")
    WebDriverWait(browser, 120).until(lambda d: text(d, "station") == station.name)

    # a resident checks in at the activity, then rates it with five stars
    click(browser, "button[data-flow=checkin]")
    type_card(browser, CARD)
    click(browser, f"button[data-choice='{activity_id}']")
    WebDriverWait(browser, 120).until(lambda d: "签到成功" in text(d, "done"))
    WebDriverWait(browser, 120).until(lambda d: text(d, "delivery") == "已提交。")
    click(browser, "#done-screen button[data-home]")
    click(browser, "button[data-flow=rate]")
    type_card(browser, CARD)
    click(browser, f"button[data-choice='{activity_id}']")
    click(browser, "button[data-stars='5']")
    click(browser, "#choose-ok")
    WebDriverWait(browser, 120).until(lambda d: "感谢您的评价" in text(d, "done"))
    WebDriverWait(browser, 120).until(lambda d: text(d, "delivery") == "已提交。")
    click(browser, "#done-screen button[data-home]")
    assert severe_console_messages(browser) == []  # nothing blocked by the policy, no errors
    WebDriverWait(browser, 120).until(
        lambda d: d.execute_script("return !!navigator.serviceWorker.controller")
    )

    # the API goes away: two actions wait in the outbox, and the page still opens
    kiosk_api.stop()
    offline_from = datetime.now(UTC)
    click(browser, "button[data-flow=checkout]")
    type_card(browser, CARD)
    WebDriverWait(browser, 120).until(lambda d: "签退成功" in text(d, "done"))
    WebDriverWait(browser, 120).until(lambda d: "联网后自动提交" in text(d, "delivery"))
    click(browser, "#done-screen button[data-home]")
    click(browser, "button[data-flow=checkin]")
    type_card(browser, OTHER_CARD)
    click(browser, f"button[data-venue='{venue.id}']")
    WebDriverWait(browser, 120).until(lambda d: pending(d) == "2")
    assert "离线" in text(browser, "net")
    browser.refresh()  # served by the service worker from what it kept
    WebDriverWait(browser, 120).until(lambda d: text(d, "station") == station.name)
    WebDriverWait(browser, 120).until(lambda d: pending(d) == "2")
    kept = stored_outbox(browser)
    assert activity_id in kept and "kiosk.heartbeat" not in kept
    assert CARD not in kept and OTHER_CARD not in kept  # sealed, never in clear
    offline_until = datetime.now(UTC)

    # the API is back: the kiosk delivers what waited, once, with the times it was made at
    back_at = datetime.now(UTC)
    kiosk_api.start()
    WebDriverWait(browser, 120).until(lambda d: pending(d) == "0")
    statement = (
        "SELECT type, toString(event_id), toUnixTimestamp64Milli(occurred_at),"
        " toUnixTimestamp64Milli(received_at), visit_id, resident, rating FROM events"
        f" WHERE source = 'kiosk:{DEVICE}' AND type != 'kiosk.heartbeat' ORDER BY occurred_at"
    )
    WebDriverWait(browser, 120, poll_frequency=0.5).until(
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

    # unpaired (`sanjiang kiosk revoke`): the page stops taking actions and asks for a pairing
    store = KeyStore(key_store_path(settings))
    try:
        assert store.revoke(DEVICE, "kiosk")
    finally:
        store.close()
    browser.refresh()
    WebDriverWait(browser, 120).until(lambda d: d.find_element(By.ID, "unpaired").is_displayed())
    assert not browser.find_element(By.ID, "home").is_displayed()


def test_residents_register_join_the_waitlist_ask_and_follow_up(
    kiosk_api: ApiProcess, browser: WebDriver
) -> None:
    """With the deciders running: a place for the first resident, the waitlist (and its
    position) for the second, who also submits a demand and looks up both with their card; the
    page goes back to its start screen by itself."""
    settings = kiosk_api.settings
    network = load_network(settings.network_file)
    station = next(s for s in network.stations if s.kind != "center")
    manager = staff_token(settings, "manager", [station.id])
    operator = add_user(settings, "operator", [station.id])
    analyst = device_key(settings, "kiosk-test-analyst-2", station.id, "analyst")
    program = load_taxonomy().programs[0]
    activity_id = f"ACT-KW-{uuid.uuid4().hex[:8]}"
    starts = weekday_afternoon()
    with deciders_process(settings) as worker:
        design = {
            "kind": "activity.design",
            "activity_id": activity_id,
            "title": "剪纸小班课",
            "category": program.category,
            "program": program.id,
            "venue_id": station.venues[0].id,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "capacity": 1,
            "target_groups": ["elderly"],
        }
        deadline = datetime.now(UTC) + timedelta(seconds=120)
        design_id = str(uuid7())  # asked again with the same id until the deciders answer
        while (
            answer := command(kiosk_api, manager, station.id, design, design_id)
        ).status_code == 504:
            assert worker.poll() is None and datetime.now(UTC) < deadline, "no deciders"
        assert answer.status_code == 200, answer.text
        publish = {"kind": "activity.publish", "activity_id": activity_id}
        published = command(kiosk_api, manager, station.id, publish, str(uuid7()))
        assert published.status_code == 200, published.text
        WebDriverWait(browser, 120, poll_frequency=0.5).until(
            lambda _: (
                sql(
                    kiosk_api,
                    analyst,
                    "SELECT count() FROM events WHERE type = 'activity.published'"
                    f" AND activity_id = '{activity_id}'",
                )[0][0]
                == 1
            )
        )
        pair(browser, kiosk_api, operator, "KT-2")
        WebDriverWait(browser, 120).until(lambda d: text(d, "station") == station.name)

        def register(card: str) -> None:
            click(browser, "button[data-flow=register]")
            type_card(browser, card)
            click(browser, f"button[data-choice='{activity_id}']")
            WebDriverWait(browser, 120).until(lambda d: "报名" in text(d, "done"))

        register(CARD)
        WebDriverWait(browser, 120).until(lambda d: text(d, "delivery") == "报名成功，请准时参加。")
        click(browser, "#done-screen button[data-home]")
        register(OTHER_CARD)
        WebDriverWait(browser, 120).until(lambda d: "候补第 1 位" in text(d, "delivery"))
        assert text(browser, "done") == "活动已满，已为您排候补"
        click(browser, "#done-screen button[data-home]")

        click(browser, "button[data-flow=demand]")
        type_card(browser, OTHER_CARD)
        category = load_taxonomy().categories[0]
        click(browser, f"button[data-category='{category.id}']")
        browser.find_element(By.ID, "summary").send_keys("希望多开剪纸课")
        click(browser, "#choose-ok")
        WebDriverWait(browser, 120).until(lambda d: text(d, "delivery") == "已提交。")
        demand_id = text(browser, "demand-number")
        # left alone, the page goes back to its start screen
        WebDriverWait(browser, 120).until(lambda d: d.find_element(By.ID, "home").is_displayed())

    WebDriverWait(browser, 120, poll_frequency=0.5).until(
        lambda _: (
            sql(
                kiosk_api,
                analyst,
                f"SELECT count() FROM events WHERE demand_id = '{demand_id}'",
            )[0][0]
            == 1
        )
    )
    click(browser, "button[data-flow=lookup]")
    type_card(browser, OTHER_CARD)
    WebDriverWait(browser, 120).until(lambda d: "候补第 1 位" in text(d, "done-detail"))
    found = text(browser, "done-detail")
    assert "剪纸小班课" in found and demand_id in found and "已提交" in found
    click(browser, "#done-screen button[data-home]")
    click(browser, "#by-number")
    browser.find_element(By.ID, "demand-id").send_keys(demand_id)
    click(browser, "#demand-ok")
    WebDriverWait(browser, 120).until(lambda d: category.name in text(d, "demand-result"))
    assert "已提交" in text(browser, "demand-result")
    assert severe_console_messages(browser) == []
    assert requested_hosts(browser) == {LOCAL}
