"""The command-center screen in a real browser, on the real path: kiosk check-ins sent to the
API reach the stream worker's live views and the warehouse; the screen shows them — a counter
and the map change without a reload, every panel renders with data, a drill-down goes from a
station to one of its venues — at 1920×1080, with no scrolling, and nothing requested from
outside 127.0.0.1; thousands of updates later its memory is flat, and it rolls over at local
midnight by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sanjiang.events import encode_event, new_event
from sanjiang.events import payloads as p
from sanjiang.settings import Settings
from tests.access import PASSWORD, add_user, device_key
from tests.api_process import ROOT, api_process
from tests.browser.conftest import ARTIFACTS, requested_hosts, severe_console_messages

pytestmark = pytest.mark.integration
LOCAL = "http://127.0.0.1"
STATION, VENUE = "WS-R03", "WS-R03-ACT"


class Screen:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = f"http://127.0.0.1:{settings.api_port}"
        self.viewer = add_user(settings, "viewer", username=f"s{uuid.uuid4().hex[:8]}")
        self.kiosk = device_key(settings, f"{STATION}-K9", STATION, "kiosk")

    def check_in(self, residents: range) -> None:
        """Kiosk check-ins at the station's activity room, through the ingest."""
        body = b"\n".join(
            encode_event(
                new_event(
                    p.CheckinRecorded(visit_id=f"v-{uuid.uuid4().hex[:12]}", venue_id=VENUE),
                    station_id=STATION,
                    source=f"kiosk:{STATION}-K9",
                    occurred_at=datetime.now(UTC),
                    resident=f"{r + 1:032x}",
                )
            )
            for r in residents
        )
        response = httpx2.post(
            self.base + "/v1/events",
            content=body,
            headers={
                "Authorization": f"Bearer {self.kiosk}",
                "Content-Type": "application/x-ndjson",
            },
            timeout=30,
        )
        assert response.status_code == 202, response.text


@pytest.fixture(scope="module")
def screen(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screen]:
    """The API hosting the warehouse sink, and a stream worker, on fresh topics."""
    with api_process(kafka_settings, tmp_path_factory.mktemp("screen-var"), hosts_sink=True) as s:
        env = {
            **os.environ,
            "SANJIANG_KAFKA_BOOTSTRAP": s.bootstrap_servers,
            "SANJIANG_TOPIC_PREFIX": s.topic_prefix,
            "SANJIANG_VAR_DIR": str(s.var_dir),
        }
        with (s.var_dir / "streams.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "sanjiang", "streams"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        try:
            yield Screen(s)
        finally:
            worker.terminate()
            worker.wait(30)


def js(driver: WebDriver, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def map_station(driver: WebDriver, station: str) -> dict[str, Any]:
    """The map's point for a station, as the chart holds it."""
    point: dict[str, Any] = js(
        driver,
        "const c = echarts.getInstanceByDom(document.getElementById('map'));"
        "return c.getOption().series[0].data.find((d) => d.name === arguments[0]);",
        station,
    )
    return point


def counter(driver: WebDriver, label: str) -> str:
    """A counter's figure (read in one script: the panel is redrawn as views arrive)."""
    value: str | None = js(
        driver,
        "const c = [...document.querySelectorAll('#counters .counter')]"
        ".find((e) => e.querySelector('span').textContent === arguments[0]);"
        "return c ? c.querySelector('b').textContent : null;",
        label,
    )
    assert value is not None, f"no counter {label}"
    return value


def log_in(driver: WebDriver, screen: Screen) -> None:
    driver.get(screen.base + "/screen")
    WebDriverWait(driver, 30).until(lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "username").send_keys(screen.viewer)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url == screen.base + "/screen")


def test_the_screen_follows_events_and_drills_down(screen: Screen, browser: WebDriver) -> None:
    # the page's viewport itself at 1920×1080 (a window of that size has a smaller one)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False},
    )
    log_in(browser, screen)
    wait = WebDriverWait(browser, 90)
    wait.until(lambda d: "实时" in d.find_element(By.ID, "status").text)  # a live view came
    before = int(counter(browser, "签到人次").replace(",", ""))
    assert map_station(browser, STATION)["here"] == 0

    screen.check_in(range(12))  # twelve residents come in

    wait.until(lambda d: counter(d, "签到人次") == str(before + 12))
    wait.until(lambda d: map_station(d, STATION)["here"] == 12)  # the map's point changed
    assert counter(browser, "当前在场") == "12"
    occupied = js(
        browser,
        "return echarts.getInstanceByDom(document.getElementById('occupancy'))"
        ".getOption().series[1].data.map((d) => d.value)",
    )
    assert occupied == [12]  # the room's bar, against its capacity

    # every panel renders with data once the warehouse has the check-ins (a reload refreshes
    # the warehouse panels at once; they also refresh by themselves every minute)
    def warehouse_has_them(driver: WebDriver) -> bool:
        driver.refresh()
        WebDriverWait(driver, 30).until(
            lambda d: js(d, "return document.querySelectorAll('.kpi').length") == 4
        )
        return bool(
            js(
                driver,
                "return fetch('/v1/screen/summary').then((r) => r.json())"
                ".then((s) => s.checkins_by_hour.today.reduce((a, n) => a + n, 0) >= 12)",
            )
        )

    wait.until(warehouse_has_them)
    participation = "[data-kpi=resident_participation] .value"
    wait.until(lambda d: "%" in d.find_element(By.CSS_SELECTOR, participation).text)
    wait.until(lambda d: map_station(d, STATION)["here"] == 12)
    hourly_today = js(
        browser,
        "return echarts.getInstanceByDom(document.getElementById('hourly'))"
        ".getOption().series[0].data.filter((v) => v).reduce((a, n) => a + n, 0)",
    )
    assert hourly_today >= 12
    for panel in ("kpis", "counters", "hot", "alerts", "kiosks", "health"):
        assert browser.find_element(By.ID, panel).text.strip(), f"panel {panel} is empty"
    assert "离线" in browser.find_element(By.ID, "kiosks").text
    assert "已处理事件" in browser.find_element(By.ID, "health").text
    # no scrolling at 1920×1080, and every venue's name whole beside its bar
    assert js(browser, "return [window.innerWidth, window.innerHeight]") == [1920, 1080]
    assert js(browser, "return document.documentElement.scrollHeight <= window.innerHeight + 1")
    label = js(
        browser,
        "const c = echarts.getInstanceByDom(document.getElementById('occupancy'));"
        "return [c.getOption().grid[0].left, c.getOption().yAxis[0].axisLabel.width]",
    )
    assert label[0] > label[1]  # the names' band is wider than a name may be drawn

    # drill-down: click the station's point on the map, then one of its venues
    x, y = js(
        browser,
        "const c = echarts.getInstanceByDom(document.getElementById('map'));"
        "const d = c.getOption().series[0].data.find((d) => d.name === arguments[0]);"
        "return c.convertToPixel({geoIndex: 0}, [d.value[0], d.value[1]]);",
        STATION,
    )
    canvas = browser.find_element(By.ID, "map")
    width, height = canvas.size["width"], canvas.size["height"]
    ActionChains(browser).move_to_element_with_offset(
        canvas, int(x - width / 2), int(y - height / 2)
    ).click().perform()
    wait.until(lambda d: d.find_element(By.ID, "drill").is_displayed())
    # the drill-down is drawn again as the station's live view changes: find and click the
    # venue in one script, and read the panel's text in one
    drill_text = "return document.getElementById('drill-body').textContent"
    wait.until(lambda d: "今日签到" in js(d, drill_text))
    wait.until(
        lambda d: js(
            d,
            "const b = document.querySelector(`#drill-body button[data-id='${arguments[0]}']`);"
            "if (b) b.click(); return Boolean(b);",
            VENUE,
        )
    )
    wait.until(lambda d: "12 / 25" in js(d, drill_text))
    assert "›" in browser.find_element(By.ID, "crumbs").text  # station › venue
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "screen-drill-down.png"))

    assert severe_console_messages(browser) == []
    assert requested_hosts(browser) == {LOCAL}

    # left on a wall for days: thousands of live updates keep the page's memory flat ...
    warm = heap_after_updates(browser, 1000)
    after = heap_after_updates(browser, 3000)
    assert after - warm < 2_000_000, f"heap grew {warm} -> {after} bytes over 3,000 updates"
    # readable on a laptop's 1366×768 and on a 4K TV (whose browser lays out 1920×1080 CSS
    # pixels at a device pixel ratio of 2): every panel on the screen, no scrolling, no text
    # under 11 px, the charts drawn at the screen's own resolution
    small = fit(browser, 1366, 768)
    assert small["scrolls"] is False and small["hidden"] == [], small
    assert small["smallest"] >= 11, small
    large = fit(browser, 1920, 1080, scale=2)
    assert large["scrolls"] is False and large["hidden"] == [], large
    assert large["canvas_ratio"] == 2, large
    # ... and it rolls over at local midnight by itself, without a reload
    roll_over_at_midnight(browser, screen)
    assert severe_console_messages(browser) == []


#: How the page fits its viewport: whether it scrolls, the panels not wholly inside it, the
#: smallest font size of any text shown, and the hourly chart's canvas pixels per CSS pixel
FIT = """
const w = window.innerWidth, h = window.innerHeight, doc = document.documentElement;
const hidden = [...document.querySelectorAll("main > section")].filter((e) => {
  const r = e.getBoundingClientRect();
  return r.height < 20 || r.left < 0 || r.top < 0 || r.right > w + 1 || r.bottom > h + 1;
}).map((e) => e.id || e.className);
let smallest = 1000;
for (const e of document.querySelectorAll("body *")) {
  const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (own && e.getClientRects().length) {
    smallest = Math.min(smallest, parseFloat(getComputedStyle(e).fontSize));
  }
}
const canvas = document.querySelector("#hourly canvas");
return {scrolls: doc.scrollHeight > h + 1 || doc.scrollWidth > w + 1, hidden, smallest,
  canvas_ratio: Math.round(canvas.width / canvas.getBoundingClientRect().width)};
"""


def fit(driver: WebDriver, width: int, height: int, scale: int = 1) -> dict[str, Any]:
    """The page at a viewport of ``width``×``height`` CSS pixels and ``scale`` device pixels
    to one (loaded again when the scale changes: the charts take it when they start)."""
    was = js(driver, "return window.devicePixelRatio")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False},
    )
    if was != scale:
        driver.refresh()
    wait = WebDriverWait(driver, 120)
    wait.until(lambda d: js(d, "return [window.innerWidth, window.innerHeight]") == [width, height])
    wait.until(lambda d: "实时" in d.find_element(By.ID, "status").text)
    wait.until(lambda d: js(d, "return document.querySelectorAll('.kpi').length") == 4)
    # the charts follow a resize on the next frame
    wait.until(
        lambda d: js(
            d,
            "const c = document.querySelector('#hourly canvas');"
            "return Math.abs(c.getBoundingClientRect().width"
            " - document.getElementById('hourly').clientWidth) < 2",
        )
    )
    result: dict[str, Any] = js(driver, FIT)
    return result


#: Feeds the page's own renderers (those the stream calls) with ``arguments[0]`` updates of every
#: live view, each naming new activities and new alerts, as a day of traffic would.
UPDATES = """
const base = JSON.parse(JSON.stringify(live)), n = arguments[0], offset = arguments[1];
for (let i = offset; i < offset + n; i++) {
  live.network = {...base.network, checkins: i, registrations: i % 97};
  live.venues = {...base.venues, occupancy: {...base.venues.occupancy, [arguments[2]]: i % 30}};
  live.activities = {...base.activities, hottest: Array.from({length: 10}, (_, k) =>
    ({activity_id: `ACT-MEM-${i}-${k}`, heat: (i * 7 + k) % 100}))};
  live.alerts = {...base.alerts, open: [{key: `over_capacity:venue:${arguments[2]}`, kind:
    "over_capacity", scope: `venue:${arguments[2]}`, severity: i % 2 ? "high" : "medium",
    started_at: new Date(1e12 + i).toISOString(), reason: "load"}]};
  live.kiosks = {...base.kiosks, offline: [`K-${i % 50}`]};
  for (const view of ["network", "venues", "activities", "alerts", "kiosks"]) RENDER[view]();
}
"""


def heap_after_updates(driver: WebDriver, updates: int) -> int:
    """The page's JavaScript heap (bytes used, after a full collection) after ``updates`` more
    live updates of every view, fed in batches to the page's renderers."""
    done = js(driver, "return window.__updates || 0")
    for start in range(done, done + updates, 250):
        js(driver, UPDATES + "window.__updates = offset + n;", 250, start, VENUE)
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    used: int = driver.execute_cdp_cmd("Runtime.getHeapUsage", {})["usedSize"]
    return used


#: Date, shifted by ``window.clockShift`` milliseconds (set before the page's scripts run: the
#: page cannot tell it from the real clock)
SHIFTABLE_CLOCK = """
(() => {
  const Real = Date, shift = () => window.clockShift || 0;
  class Shifted extends Real {
    constructor(...a) { if (a.length) super(...a); else super(Real.now() + shift()); }
    static now() { return Real.now() + shift(); }
  }
  window.Date = Shifted;
})();
"""


def roll_over_at_midnight(driver: WebDriver, screen: Screen) -> None:
    """Move the screen's clock to two seconds before Shanghai midnight and watch it begin the
    next day by itself: the date changes, the warehouse panels are asked for again, the day's
    drill-down closes, and the page is not reloaded."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SHIFTABLE_CLOCK})
    driver.get(screen.base + "/screen")
    wait = WebDriverWait(driver, 120)
    wait.until(lambda d: "实时" in d.find_element(By.ID, "status").text)
    asked = "return performance.getEntriesByType('resource')" + (
        ".filter((e) => e.name.includes('/v1/screen/summary')).length"
    )
    wait.until(lambda d: js(d, asked) >= 1)
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime.now(shanghai)
    tomorrow = now.date() + timedelta(days=1)
    shown = f"{tomorrow.month}月{tomorrow.day}日"
    assert shown not in driver.find_element(By.ID, "date").text
    js(driver, "drillStation(arguments[0])", STATION)  # a station's day, open on the screen
    wait.until(lambda d: d.find_element(By.ID, "drill").is_displayed())
    summaries = js(driver, asked)
    js(driver, "window.loaded = true")  # gone if the page reloads

    midnight = datetime.combine(tomorrow, time(0), shanghai)
    shift = midnight - timedelta(seconds=2) - now
    js(driver, "window.clockShift = arguments[0]", int(shift.total_seconds() * 1000))
    wait.until(lambda d: shown in d.find_element(By.ID, "date").text)
    wait.until(lambda d: d.find_element(By.ID, "clock").text.startswith("00:00"))
    wait.until(lambda d: js(d, asked) > summaries)  # the new day's panels asked for
    wait.until(lambda d: not d.find_element(By.ID, "drill").is_displayed())  # yesterday's closed
    wait.until(lambda d: js(d, "return document.querySelectorAll('.kpi').length") == 4)
    assert js(driver, "return window.loaded === true")
