"""The staff console in a real browser, on the real path: the API (hosting the warehouse sink)
and the deciders on the real broker. A manager logs in, publishes an activity, sees a second
one in the same room and hour rejected with its reason in Chinese naming the first (side by
side in the week's hourly grid), approves a booking a resident asked for at the kiosk, cancels
it, and lets another party in; at the desk, staff check residents in, register one by her card
(onto the waitlist), cancel a registration and edit the activity, a stale edit being turned
away; a viewer is told they may not use the console, and an operator is not offered what only
managers do. Nothing is requested from outside 127.0.0.1.

The room is open around the clock in a network file of the test's own (the deciders check
opening hours and the test may run at any hour), as in ``test_management_loop``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml
from selenium.common.exceptions import (
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from sanjiang.ids import uuid7
from sanjiang.network import load_network
from sanjiang.pseudonym import pseudonymizer_for
from sanjiang.settings import Settings
from tests.access import PASSWORD, add_user, bearer, device_key, staff_token
from tests.api_process import ROOT, api_process, deciders_process
from tests.browser.conftest import ARTIFACTS, requested_hosts, severe_console_messages

pytestmark = pytest.mark.integration
LOCAL = "http://127.0.0.1"
STATION, ROOM, KIOSK = "WS-G1", "WS-G1-ACT", "WS-G1-K8"
#: a room residents' groups book and get at once (no approval): open around the clock here too,
#: and bookable for 5 minutes, so a test can book it to start in a moment and check the party in
MEET = "WS-G1-MEET"
YARD = "WS-G1-YARD"  # open 06:00-21:00 every day
TZ = load_network().tz


def waiting(driver: WebDriver, timeout_s: float) -> WebDriverWait[WebDriver]:
    """A wait that looks again when the page redrew what it was reading (a navigation, or a
    panel drawn anew as the warehouse catches up)."""
    return WebDriverWait(driver, timeout_s, ignored_exceptions=(StaleElementReferenceException,))


def _network_open_around_the_clock(folder: Path) -> Path:
    source = ROOT / "sanjiang" / "data" / "network.yaml"
    data = yaml.safe_load(source.read_text("utf-8"))
    for station in data["stations"]:
        for venue in station.get("venues", []):
            if venue["id"] in (ROOM, MEET):
                venue["opening_hours"] = {
                    d: ["00:00-23:59"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                }
            if venue["id"] == MEET:
                venue["booking_rules"] = {**venue.get("booking_rules", {}), "min_minutes": 5}
    path = folder / "network.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


class Console:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = f"http://127.0.0.1:{settings.api_port}"
        tag = uuid.uuid4().hex[:6]
        self.manager = add_user(settings, "manager", [STATION], username=f"m{tag}")
        self.operator = add_user(settings, "operator", [STATION], username=f"o{tag}")
        self.viewer = add_user(settings, "viewer", username=f"v{tag}")
        self.manager_token = staff_token(settings, "manager", [STATION])
        self.kiosk = device_key(settings, KIOSK, STATION, "kiosk")

    def ask(self, command: dict[str, Any], credential: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/v1/commands",
            json={"station_id": STATION, "command_id": str(uuid7()), "command": command},
            headers=bearer(credential),
            timeout=90,
        )


@pytest.fixture(scope="module")
def console(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    var = tmp_path_factory.mktemp("console-var")
    network = _network_open_around_the_clock(var)
    with api_process(
        kafka_settings,
        var,
        hosts_sink=True,
        SANJIANG_COMMAND_TIMEOUT_S="60",
        SANJIANG_NETWORK_FILE=str(network),
    ) as settings:
        settings = settings.model_copy(update={"network_file": network})
        with deciders_process(settings) as worker:
            console = Console(settings)
            probe = {"kind": "demand.close", "demand_id": "probe"}
            deadline = time.monotonic() + 180
            while console.ask(probe, console.manager_token).status_code != 404:  # answered
                assert worker.poll() is None, "the deciders stopped"
                assert time.monotonic() < deadline, "the deciders never answered"
                time.sleep(0.5)
            yield console


def log_in(driver: WebDriver, console: Console, username: str) -> None:
    driver.get(console.base + "/console")
    waiting(driver, 120).until(lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    waiting(driver, 120).until(lambda d: d.current_url == console.base + "/console")


def fill(driver: WebDriver, name: str, value: str) -> None:
    """Set a field of the design form (date and time inputs take their value by script)."""
    field = driver.find_element(By.CSS_SELECTOR, f"#design-form [name={name}]")
    if field.tag_name == "select":
        Select(field).select_by_value(value)
    else:
        driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'));",
            field,
            value,
        )


def answer(driver: WebDriver, box: str) -> tuple[str, str] | None:
    """The answer shown in a box: (status, text), once there is one (read in one script: the
    page redraws its panels as the warehouse catches up)."""
    found: list[str] | None = driver.execute_script(
        "const p = document.querySelector(`#${arguments[0]} p[data-status]`);"
        "return p ? [p.dataset.status, p.textContent] : null;",
        box,
    )
    return None if found is None else (found[0], found[1])


def texts(driver: WebDriver, selector: str) -> list[str]:
    """The text of each element the selector finds, read at one moment."""
    found: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);",
        selector,
    )
    return found


def echarts_drawn(driver: WebDriver, element: str) -> bool:
    return bool(
        driver.execute_script(
            "return !!echarts.getInstanceByDom(document.getElementById(arguments[0]))", element
        )
    )


def show_week_of(driver: WebDriver, day: str) -> None:
    """Turn the calendar to the week holding ``day`` (tomorrow is next week on a Sunday)."""
    monday = date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())
    label = driver.find_element(By.ID, "week-label")
    if not label.text.startswith(monday.isoformat()):
        driver.find_element(By.ID, "next-week").click()
        waiting(driver, 120).until(
            lambda d: d.find_element(By.ID, "week-label").text.startswith(monday.isoformat())
        )


def tomorrow() -> str:
    return (datetime.now(TZ) + timedelta(days=1)).date().isoformat()


def design(driver: WebDriver, title: str, day: str, start: str, end: str, weeks: int = 1) -> None:
    for box in driver.find_elements(By.CSS_SELECTOR, "#design-answer p"):
        driver.execute_script("arguments[0].remove()", box)
    field = driver.find_element(By.CSS_SELECTOR, "#design-form [name=title]")
    field.clear()
    field.send_keys(title)
    fill(driver, "category", "handcraft")
    fill(driver, "program", "qiaoshou_workshop")
    fill(driver, "venue_id", ROOM)
    fill(driver, "day", day)
    fill(driver, "start", start)
    fill(driver, "end", end)
    fill(driver, "weeks", str(weeks))
    driver.find_element(By.ID, "publish").click()


def test_the_console_publishes_sees_a_conflict_and_approves_a_booking(
    console: Console, browser: WebDriver
) -> None:
    browser.set_window_size(1440, 1000)
    log_in(browser, console, console.manager)
    wait = waiting(browser, 120)
    assert "站点工作台" in browser.title
    assert browser.find_element(By.ID, "booking-panel").is_displayed()  # a manager's

    day = tomorrow()
    design(browser, "剪纸课", day, "10:00", "11:00")
    wait.until(lambda d: answer(d, "design-answer"))
    status, text = answer(browser, "design-answer") or ("", "")
    assert status == "accepted", text
    assert "活动已发布" in text and "剪纸课" in text

    # the same room and hour: the platform says no, naming the activity in the way
    design(browser, "书法课", day, "10:30", "11:30")
    wait.until(lambda d: answer(d, "design-answer"))
    status, text = answer(browser, "design-answer") or ("", "")
    assert status == "rejected", text
    assert "场地已被占用" in text and "剪纸课" in text, text
    assert "草稿" in browser.find_element(By.ID, "design-answer").text  # kept as a draft

    # the week shows the published activity and the draft in the room
    def in_the_week(driver: WebDriver, title: str) -> bool:
        return any(title in t for t in texts(driver, "#week .item"))

    show_week_of(browser, day)
    wait.until(lambda d: in_the_week(d, "剪纸课") and in_the_week(d, "书法课"))
    # an hourly grid: seven day columns, each block placed by its start and end, the two that
    # overlap side by side
    grid = placed(browser, day, ["剪纸课", "书法课"])
    assert grid["columns"] == 7 and grid["heads"][0].startswith("周一"), grid
    assert "07:00" in grid["hours"] and "21:00" in grid["hours"], grid
    paper, calligraphy = grid["blocks"]
    assert paper["top"] == grid["hour_top"]["10:00"] and paper["height"] == HOUR_PX, grid
    assert calligraphy["top"] == grid["hour_top"]["10:00"] + HOUR_PX // 2, grid
    assert paper["right"] <= calligraphy["left"] or calligraphy["right"] <= paper["left"], grid
    legend = browser.find_element(By.ID, "legend").text
    assert all(w in legend for w in ("已发布活动", "草稿", "待审批预约", "闭馆")), legend

    # a resident asks for the room at the kiosk; the manager approves it in the console
    booking = {
        "kind": "booking.request",
        "booking_id": f"b-{uuid.uuid4().hex[:8]}",
        "venue_id": ROOM,
        "starts_at": f"{day}T14:00:00+08:00",
        "ends_at": f"{day}T15:30:00+08:00",
        "attendees": 12,
        "resident": "a" * 32,
        "purpose": "合唱排练",
    }
    asked = console.ask(booking, console.kiosk)
    assert asked.status_code == 200 and asked.json()["outcome"] == "pending", asked.text
    row = f"#bookings tr[data-id='{booking['booking_id']}']"

    def listed(driver: WebDriver) -> bool:
        if driver.find_elements(By.CSS_SELECTOR, row):
            return True
        driver.refresh()  # the list also refreshes by itself every 15 s
        waiting(driver, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bookings *"))
        return bool(driver.find_elements(By.CSS_SELECTOR, row))

    wait.until(listed)
    show_week_of(browser, day)
    wait.until(lambda d: any("待审批" in t for t in texts(d, row)))
    browser.execute_script(  # found and clicked at one moment: the list is redrawn
        "document.querySelector(arguments[0]).click()", f"{row} button[data-approve]"
    )
    wait.until(lambda d: answer(d, "booking-answer"))
    status, text = answer(browser, "booking-answer") or ("", "")
    assert status == "accepted" and "预约已批准" in text, text
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, row))  # no longer pending
    confirmed = f"#week .item[data-id='{booking['booking_id']}']"
    wait.until(lambda d: any("已确认" in t for t in texts(d, confirmed)))
    # another request: the manager rejects it, saying why
    other = {
        **booking,
        "booking_id": f"b-{uuid.uuid4().hex[:8]}",
        "resident": "b" * 32,
        "starts_at": f"{day}T12:00:00+08:00",
        "ends_at": f"{day}T13:00:00+08:00",
    }
    asked = console.ask(other, console.kiosk)
    assert asked.status_code == 200 and asked.json()["outcome"] == "pending", asked.text
    row = f"#bookings tr[data-id='{other['booking_id']}']"
    wait.until(lambda d: reloaded_until(d, row, "#bookings *"))
    browser.execute_script("document.querySelector('#booking-answer').replaceChildren()")
    type_into(browser, f"{row} input", "场地另有安排")
    click(browser, f"{row} button[data-reject]")
    wait.until(lambda d: answer(d, "booking-answer"))
    status, text = answer(browser, "booking-answer") or ("", "")
    assert status == "accepted" and "预约已驳回" in text, text
    wait.until(lambda d: not texts(d, row))

    # the confirmed booking, opened from the calendar: tomorrow's party cannot be let in or
    # marked absent yet (the platform says when), and it is cancelled
    click(browser, confirmed)
    wait.until(lambda d: d.find_elements(By.ID, "booking-no-show"))
    click(browser, "#booking-no-show")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "rejected" and "时间未到" in text and "15 分钟" in text, text
    browser.execute_script("document.querySelector('#detail-answer').replaceChildren()")
    click(browser, "#booking-check-in")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "rejected" and "开始前 30 分钟" in text, text
    browser.execute_script("document.querySelector('#detail-answer').replaceChildren()")
    type_into(browser, "#booking-cancel-reason", "场地另有安排")
    click(browser, "#booking-cancel")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "accepted" and "预约已取消" in text, text
    wait.until(lambda d: any("已取消" in t for t in texts(d, confirmed)))

    # a group booked the meeting room at the kiosk to start in a moment (confirmed at once):
    # staff let them in from the calendar
    start = datetime.now(TZ).replace(second=0, microsecond=0) + timedelta(minutes=2)
    if start.hour * 60 + start.minute > 23 * 60 + 50:  # not across midnight: at 00:00
        start = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), TZ)
    party = {
        **booking,
        "booking_id": f"b-{uuid.uuid4().hex[:8]}",
        "venue_id": MEET,
        "resident": "c" * 32,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=5)).isoformat(),
        "attendees": 6,
    }
    asked = console.ask(party, console.kiosk)
    assert asked.status_code == 200 and asked.json()["outcome"] == "done", asked.text
    Select(browser.find_element(By.ID, "venue")).select_by_value(MEET)
    show_week_of(browser, start.date().isoformat())
    block = f"#week .item[data-id='{party['booking_id']}']"
    wait.until(lambda d: any("已确认" in t for t in texts(d, block)))
    click(browser, block)
    wait.until(lambda d: d.find_elements(By.ID, "booking-check-in"))
    browser.execute_script("document.querySelector('#detail-answer').replaceChildren()")
    click(browser, "#booking-check-in")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "accepted" and "已登记入场" in text, text
    wait.until(lambda d: any("已入场" in t for t in texts(d, block)))

    # the hours a venue is not open are shaded: the square from 21:00, every day
    Select(browser.find_element(By.ID, "venue")).select_by_value(YARD)
    shaded = browser.execute_script(
        "const line = [...document.querySelectorAll('#week .hour')]"
        "  .find((h) => h.textContent === '21:00').offsetTop;"
        "return [...document.querySelectorAll('#week .cal-body .day')]"
        "  .map((c) => [...c.querySelectorAll('.off')].map((o) => o.offsetTop - line));"
    )
    assert shaded == [[0]] * 7, shaded

    # readable on a 1366×768 screen: nothing wider than the window, day columns wide enough
    browser.set_window_size(1366, 768)
    Select(browser.find_element(By.ID, "venue")).select_by_value(ROOM)
    show_week_of(browser, day)
    wait.until(lambda d: in_the_week(d, "剪纸课"))
    fits = browser.execute_script(
        "document.getElementById('week-panel').scrollIntoView();"
        "return [document.documentElement.scrollWidth, window.innerWidth,"
        " Math.min(...[...document.querySelectorAll('#week .day')]"
        "   .map((c) => c.getBoundingClientRect().width))];"
    )
    assert fits[0] <= fits[1] and fits[2] >= 140, fits
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console-week.png"))

    # the station's KPIs against their targets, its heat; the manager's audit trail names
    # the rejected publication with its reason
    wait.until(lambda d: len(texts(d, "#kpis .kpi")) == 4)
    assert echarts_drawn(browser, "heat")
    wait.until(
        lambda d: any("发布活动" in t and "场地已被占用" in t for t in texts(d, "#audit tr"))
    )
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1440, min(int(height) + 120, 4000))  # the whole page in one picture
    browser.save_screenshot(str(ARTIFACTS / "console.png"))

    # the rejection is a 409 the browser logs; nothing else may have failed
    rejected = "/v1/commands - Failed to load resource: the server responded with a status of 409"
    assert [m for m in severe_console_messages(browser) if rejected not in m] == []
    assert requested_hosts(browser) == {LOCAL}


#: an hour's height in the calendar (console.js HOUR_PX)
HOUR_PX = 36


def placed(driver: WebDriver, day: str, titles: list[str]) -> dict[str, Any]:
    """The calendar's geometry, read at one moment: its day columns and hour labels, where
    each hour's line is, and the block of each activity titled in ``titles`` on ``day``."""
    found: dict[str, Any] = driver.execute_script(
        """
        const [day, titles] = arguments;
        const hours = [...document.querySelectorAll('#week .hour')];
        const column = document.querySelector(`#week .day[data-day='${day}']`);
        const blocks = titles.map((t) => {
          const b = [...column.querySelectorAll('.item')].find((e) => e.textContent.includes(t));
          const r = b.getBoundingClientRect();
          return {top: b.offsetTop, height: b.offsetHeight, left: r.left, right: r.right};
        });
        return {
          columns: document.querySelectorAll('#week .cal-body .day').length,
          heads: [...document.querySelectorAll('#week .day-head')].map((e) => e.textContent),
          hours: hours.map((h) => h.textContent),
          hour_top: Object.fromEntries(hours.map((h) => [h.textContent, h.offsetTop])),
          blocks,
        };
        """,
        day,
        titles,
    )
    return found


def test_what_a_role_may_not_do_is_not_offered(console: Console, browser: WebDriver) -> None:
    log_in(browser, console, console.operator)
    waiting(browser, 120).until(lambda d: d.find_element(By.ID, "design-panel").is_displayed())
    assert not browser.find_element(By.ID, "booking-panel").is_displayed()  # managers approve
    assert not browser.find_element(By.CSS_SELECTOR, "nav a[href='#booking-panel']").is_displayed()
    assert not browser.find_element(By.ID, "audit-panel").is_displayed()  # managers read it

    # a viewer reads, but does not run a station: the console says so
    browser.delete_all_cookies()
    browser.get(console.base + "/console")
    waiting(browser, 120).until(lambda d: "/login" in d.current_url)
    browser.find_element(By.ID, "username").send_keys(console.viewer)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    waiting(browser, 120).until(lambda d: "无权" in d.find_element(By.TAG_NAME, "h1").text)
    assert "站点工作台" in browser.find_element(By.TAG_NAME, "body").text


def click(driver: WebDriver, selector: str) -> None:
    """Find and click at one moment (the panels are redrawn as the warehouse catches up)."""
    driver.execute_script("document.querySelector(arguments[0]).click()", selector)


def type_into(driver: WebDriver, selector: str, text: str) -> None:
    """Type into a field of a panel that may be redrawn meanwhile (once the field has the
    focus, the page leaves its panel alone)."""

    def typed(d: WebDriver) -> bool:
        try:
            d.find_element(By.CSS_SELECTOR, selector).send_keys(text)
        except (StaleElementReferenceException, ElementNotInteractableException):
            return False  # redrawn, or not shown yet: the panel is drawn anew meanwhile
        return True

    waiting(driver, 120).until(typed)


def reloaded_until(driver: WebDriver, selector: str, drawn: str) -> bool:
    """Whether ``selector`` finds something; if not, reload the page and wait until the panel
    (``drawn``) is drawn again before looking once more."""
    if texts(driver, selector):
        return True
    driver.refresh()
    waiting(driver, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, drawn))
    return bool(texts(driver, selector))


def test_the_desk_checks_residents_in_and_the_board_handles_a_demand(
    console: Console, browser: WebDriver
) -> None:
    day = tomorrow()
    activity, demand = f"a-{uuid.uuid4().hex[:6]}", f"d-{uuid.uuid4().hex[:6]}"
    design = {
        "kind": "activity.design",
        "activity_id": activity,
        "title": "太极拳",
        "category": "handcraft",
        "program": "qiaoshou_workshop",
        "venue_id": ROOM,
        "starts_at": f"{day}T17:00:00+08:00",
        "ends_at": f"{day}T18:00:00+08:00",
        "capacity": 1,
        "target_groups": ["elderly"],
    }
    for command, who in (
        (design, console.manager_token),
        ({"kind": "activity.publish", "activity_id": activity}, console.manager_token),
        (
            {
                "kind": "registration.register",
                "registration_id": f"{activity}-r1",
                "activity_id": activity,
                "resident": "1" * 32,
            },
            console.kiosk,
        ),
        (
            {
                "kind": "registration.register",
                "registration_id": f"{activity}-r2",
                "activity_id": activity,
                "resident": "2" * 32,
            },
            console.kiosk,
        ),
        (
            {
                "kind": "demand.submit",
                "demand_id": demand,
                "category": "handcraft",
                "summary": "想学太极",
                "resident": "3" * 32,
            },
            console.kiosk,
        ),
    ):
        asked = console.ask(command, who)
        assert asked.status_code == 200, asked.text

    log_in(browser, console, console.manager)
    wait = waiting(browser, 120)
    show_week_of(browser, day)
    item = f"#week .item[data-id='{activity}']"

    def shown(driver: WebDriver) -> bool:
        if texts(driver, item):
            return True
        driver.find_element(By.ID, "this-week").click()  # looks again
        show_week_of(driver, day)
        return bool(texts(driver, item))

    wait.until(shown)
    click(browser, item)
    wait.until(lambda d: any("候补名单" in t for t in texts(d, "#detail")))
    assert any(f"{activity}-r2" in t for t in texts(browser, "#detail ol li"))  # waiting, 1st

    # the registered resident came without a card: staff check her in by her registration
    click(browser, f"#detail button[data-checkin='{activity}-r1']")
    wait.until(lambda d: answer(d, "week-answer"))
    status, text = answer(browser, "week-answer") or ("", "")
    assert status == "accepted" and "已签到" in text, text
    row = f"#detail tr[data-id='{activity}-r1']"
    wait.until(lambda d: any("已签到" in t for t in texts(d, row)))  # the warehouse has it

    # a walk-in with a card
    type_into(browser, "#walk-in input[name=identifier]", "310000000042")
    browser.execute_script("document.querySelector('#week-answer').replaceChildren()")
    click(browser, "#walk-in button[type=submit]")
    wait.until(lambda d: answer(d, "week-answer"))
    status, text = answer(browser, "week-answer") or ("", "")
    assert status == "accepted" and "现场居民" in text, text
    assert "310000000042" not in browser.page_source  # the number is not kept on the page

    # a resident on the phone: staff register her by her card; the one place is taken, so
    # she waits, second; her card again is refused
    def register(card: str) -> tuple[str, str]:
        browser.execute_script("document.querySelector('#detail-answer').replaceChildren()")
        type_into(browser, "#register-form input[name=identifier]", card)
        click(browser, "#register-form button[type=submit]")
        wait.until(lambda d: answer(d, "detail-answer"))
        return answer(browser, "detail-answer") or ("", "")

    status, text = register("310000000099")
    assert status == "accepted" and "已候补（第 2 位）" in text and "太极拳" in text, text
    status, text = register("310000000099")
    assert status == "rejected" and "该居民已报名" in text, text
    assert "310000000099" not in browser.page_source
    wait.until(lambda d: len(texts(d, "#detail ol li")) == 2)  # r2 and her

    # the first on the waitlist calls off: staff cancel her registration from the list
    browser.execute_script("document.querySelector('#detail-answer').replaceChildren()")
    click(browser, f"#detail li[data-id='{activity}-r2'] button[data-cancel-registration]")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "accepted" and "报名已取消" in text, text
    wait.until(lambda d: not texts(d, f"#detail li[data-id='{activity}-r2']"))

    # the activity is edited: a new title and more places (she gets one)
    click(browser, "#detail-edit")
    wait.until(lambda d: d.find_element(By.ID, "edit-form").is_displayed())
    browser.execute_script(
        "const f = document.getElementById('edit-form').elements;"
        "f.title.value = '太极拳（加场）'; f.capacity.value = '3';"
    )
    browser.execute_script("document.querySelector('#detail-answer').replaceChildren()")
    click(browser, "#edit-save")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "accepted" and "活动已修改" in text and "名额 1 → 3" in text, text
    wait.until(
        lambda d: any(
            "太极拳（加场）" in t and "名额 3" in t and "候补 0" in t for t in texts(d, "#detail")
        )
    )
    # someone else changes it while the form is open: the stale edit is turned away
    click(browser, "#detail-edit")
    wait.until(lambda d: d.find_element(By.ID, "edit-form").is_displayed())
    browser.execute_script("document.getElementById('detail').scrollIntoView()")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console-activity-detail.png"))
    changed = console.ask(
        {"kind": "activity.update", "activity_id": activity, "capacity": 4},
        console.manager_token,
    )
    assert changed.status_code == 200, changed.text
    browser.execute_script(
        "document.getElementById('edit-form').elements.title.value = '太极拳（改期）';"
        "document.querySelector('#detail-answer').replaceChildren();"
    )
    click(browser, "#edit-save")
    wait.until(lambda d: answer(d, "detail-answer"))
    status, text = answer(browser, "detail-answer") or ("", "")
    assert status == "rejected" and "已被他人修改" in text, text
    wait.until(lambda d: any("名额 4" in t for t in texts(d, "#detail")))  # read again
    assert not any("改期" in t for t in texts(browser, "#week .item, #detail h3"))

    # the demand board: accept, then dispatch to a unit
    demand_row = f"#demands tr[data-id='{demand}']"
    wait.until(lambda d: reloaded_until(d, demand_row, "#demands *"))
    assert any("已提交" in t and "想学太极" in t for t in texts(browser, demand_row))
    browser.execute_script(
        "[...document.querySelectorAll(arguments[0] + ' button')]"
        ".find((b) => b.textContent === '受理').click()",
        demand_row,
    )
    wait.until(lambda d: answer(d, "demand-answer"))
    assert (answer(browser, "demand-answer") or ("", ""))[0] == "accepted"
    wait.until(lambda d: any("已受理" in t for t in texts(d, demand_row)))
    type_into(browser, f"{demand_row} input[placeholder='承办单位']", "街道文化站")
    browser.execute_script(
        "[...document.querySelectorAll(arguments[0] + ' button')]"
        ".find((b) => b.textContent === '派单').click()",
        demand_row,
    )
    wait.until(lambda d: any("已派单" in t and "街道文化站" in t for t in texts(d, demand_row)))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console-desk-and-demands.png"))
    # the refused registration and the stale edit are 409s the browser logs; nothing else
    refused = "Failed to load resource: the server responded with a status of 409"
    assert [m for m in severe_console_messages(browser) if refused not in m] == []
    assert requested_hosts(browser) == {LOCAL}


def test_a_closure_turns_an_activity_away_and_a_series_is_cancelled_whole(
    console: Console, browser: WebDriver
) -> None:
    day = tomorrow()
    log_in(browser, console, console.manager)
    wait = waiting(browser, 120)
    Select(browser.find_element(By.ID, "venue")).select_by_value(ROOM)
    browser.execute_script(
        "const f = document.getElementById('closure-form').elements;"
        "f.from.value = f.to.value = arguments[0]; f.start.value = '19:00';"
        "f.end.value = '20:00'; f.reason.value = '设备检修';",
        day,
    )
    click(browser, "#closure-form button[type=submit]")
    wait.until(lambda d: answer(d, "week-answer"))
    status, text = answer(browser, "week-answer") or ("", "")
    assert status == "accepted" and "已登记闭馆" in text, text

    design(browser, "夜校", day, "19:00", "19:30")
    wait.until(lambda d: answer(d, "design-answer"))
    status, text = answer(browser, "design-answer") or ("", "")
    assert status == "rejected" and "场地不开放" in text and "设备检修" in text, text

    # the closure is lifted from the calendar
    show_week_of(browser, day)
    lift = "#week .item.closure button[data-lift]"
    wait.until(lambda d: texts(d, lift))
    browser.execute_script("document.querySelector('#week-answer').replaceChildren()")
    click(browser, lift)
    wait.until(lambda d: answer(d, "week-answer"))
    status, text = answer(browser, "week-answer") or ("", "")
    assert status == "accepted" and "已解除闭馆" in text, text
    wait.until(lambda d: not texts(d, "#week .item.closure"))

    # a weekly series of two sessions, published, then cancelled whole from one session
    design(browser, "太极晨练", day, "07:00", "08:00", weeks=2)
    wait.until(lambda d: answer(d, "design-answer"))
    status, text = answer(browser, "design-answer") or ("", "")
    assert status == "accepted" and "共 2 周" in text, text
    show_week_of(browser, day)
    found: list[str] = []

    def session(driver: WebDriver) -> bool:
        found[:] = driver.execute_script(
            "return [...document.querySelectorAll('#week .item.activity')]"
            ".filter((e) => e.textContent.includes('太极晨练')).map((e) => e.dataset.id);"
        )
        return bool(found)

    wait.until(session)
    click(browser, f"#week .item[data-id='{found[0]}']")
    wait.until(lambda d: d.find_elements(By.ID, "detail-cancel-series"))
    browser.execute_script("document.querySelector('#week-answer').replaceChildren()")
    click(browser, "#detail-cancel-series")
    wait.until(lambda d: answer(d, "week-answer"))
    status, text = answer(browser, "week-answer") or ("", "")
    assert status == "accepted" and "系列 2 场" in text, text
    wait.until(lambda d: any("已取消" in t for t in texts(d, f"#week .item[data-id='{found[0]}']")))
    rejected = "/v1/commands - Failed to load resource: the server responded with a status of"
    assert [m for m in severe_console_messages(browser) if rejected not in m] == []
    assert requested_hosts(browser) == {LOCAL}


def test_the_desk_records_one_check_in_per_id_and_only_what_it_names(console: Console) -> None:
    """Without a browser: the desk's route records a check-in once per ``checkin_id``, for a
    venue of the station, names a registration that exists, and takes no station's staff but
    its own."""
    url = f"{console.base}/v1/console/stations/{STATION}/checkins"
    headers = bearer(console.manager_token)
    body = {"checkin_id": str(uuid7()), "venue_id": ROOM, "identifier": "310000000077"}
    first = httpx.post(url, json=body, headers=headers, timeout=60)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "accepted"
    again = httpx.post(url, json=body, headers=headers, timeout=60)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"

    elsewhere = {**body, "checkin_id": str(uuid7()), "venue_id": "WS-R03-ACT"}
    refused = httpx.post(url, json=elsewhere, headers=headers, timeout=60)
    assert refused.status_code == 422 and refused.json()["error"] == "venue_unknown"

    nobody = {
        "checkin_id": str(uuid7()),
        "venue_id": ROOM,
        "activity_id": "a-none",
        "registration_id": "r-none",
    }
    missing = httpx.post(url, json=nobody, headers=headers, timeout=60)
    assert missing.status_code == 404, missing.text

    both = {**nobody, "identifier": "310000000077"}
    invalid = httpx.post(url, json=both, headers=headers, timeout=60)
    assert invalid.status_code == 422 and "310000000077" not in invalid.text

    other = staff_token(console.settings, "manager", ["WS-R03"])
    scoped = httpx.post(
        url, json={**body, "checkin_id": str(uuid7())}, headers=bearer(other), timeout=60
    )
    assert scoped.status_code == 403 and scoped.json()["error"] == "forbidden_scope"


def test_the_desk_registers_a_resident_by_card_as_it_checks_one_in(console: Console) -> None:
    """Without a browser: the desk's registration route turns the card number into the same
    pseudonym as the check-in desk (the deployment's key, in the API), asks the decider once
    per ``command_id``, answers as ``POST /v1/commands`` does, and never echoes the number."""
    day = tomorrow()
    activity = f"a-{uuid.uuid4().hex[:6]}"
    for command in (
        {
            "kind": "activity.design",
            "activity_id": activity,
            "title": "八段锦",
            "category": "handcraft",
            "program": "qiaoshou_workshop",
            "venue_id": ROOM,
            "starts_at": f"{day}T20:00:00+08:00",
            "ends_at": f"{day}T21:00:00+08:00",
            "capacity": 5,
            "target_groups": ["elderly"],
        },
        {"kind": "activity.publish", "activity_id": activity},
    ):
        asked = console.ask(command, console.manager_token)
        assert asked.status_code == 200, asked.text
    url = f"{console.base}/v1/console/stations/{STATION}/registrations"
    headers = bearer(console.manager_token)
    card = "310000000123"
    body = {
        "command_id": str(uuid7()),
        "activity_id": activity,
        "registration_id": f"{activity}-r1",
        "identifier": card,
    }
    first = httpx.post(url, json=body, headers=headers, timeout=90)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted" and first.json()["outcome"] == "done"
    again = httpx.post(url, json=body, headers=headers, timeout=90)  # the same command: once
    assert again.status_code == 200 and again.json()["event_ids"] == first.json()["event_ids"]

    twice = {**body, "command_id": str(uuid7()), "registration_id": f"{activity}-r2"}
    refused = httpx.post(url, json=twice, headers=headers, timeout=90)
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "already_registered"
    assert refused.json()["cause"] == f"{activity}-r1"

    # the registered resident is the one the card names, by the deployment's key
    resident = pseudonymizer_for(console.settings)(card)
    detail = f"{console.base}/v1/console/stations/{STATION}/activities/{activity}"
    deadline = time.monotonic() + 120
    while True:
        read = httpx.get(detail, headers=headers, timeout=60)
        if read.status_code == 200 and read.json()["registrations"]:
            break
        assert time.monotonic() < deadline, read.text
        time.sleep(0.5)
    assert [r["resident"] for r in read.json()["registrations"]] == [resident[:8]]

    nothing = {**body, "command_id": str(uuid7()), "activity_id": "a-none"}
    missing = httpx.post(url, json=nothing, headers=headers, timeout=90)
    assert missing.status_code == 404 and missing.json()["reason"] == "not_found"
    empty = httpx.post(url, json={**body, "identifier": ""}, headers=headers, timeout=60)
    assert empty.status_code == 422
    other = staff_token(console.settings, "manager", ["WS-R03"])
    scoped = httpx.post(
        url, json={**body, "command_id": str(uuid7())}, headers=bearer(other), timeout=60
    )
    assert scoped.status_code == 403 and scoped.json()["error"] == "forbidden_scope"
    for response in (first, again, refused, missing, empty, scoped):
        assert card not in response.text
