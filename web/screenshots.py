"""Screenshots of the three pages a person uses, for the README, taken from the real platform.

``make screenshots`` (or ``.venv/bin/python web/screenshots.py``) starts ``sanjiang up
--simulate`` in a temporary var folder on free ports (its own Kafka, the deciders, the stream
worker, the API with the warehouse sink and the network simulator, configured through the same
``SANJIANG_*`` environment variables as every other process; nothing but 127.0.0.1 is asked),
waits until the live views and the warehouse hold a few minutes of simulated activity on top of
the simulated history, creates a viewer for the wall display and a manager of a busy station,
and captures with Debian's headless Chromium (through chromium-driver, as the browser tests):

- ``/screen`` at 1920×1080, once its panels have data;
- ``/console`` at 1440×900 as the manager lands on it, the week of the station's busiest venue;
- ``/kiosk`` at 1280×800, paired through ``/kiosk/pair`` by the manager: the start screen.

It writes ``api/static/screenshots/{screen,console,kiosk}.png`` (recompressed at zlib's highest
level) and stops everything it started, errors and Ctrl-C included. Run from the repository,
with ``make setup`` done (``make screenshots`` does it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from producers.simulator.kiosks import kiosks
from sanjiang.kafka.broker import LocalKafka
from sanjiang.network import load_network
from sanjiang.ports import free_port
from sanjiang.settings import ENV_PREFIX, Settings
from sanjiang.supervisor import read_status

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "api" / "static" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREEN_SIZE = (1920, 1080)
CONSOLE_SIZE = (1440, 900)
KIOSK_SIZE = (1280, 800)
MAX_BYTES = 400_000  # what a README image should stay under
WALL_USER = "wall"  # a viewer that sees the whole network, as README advises for a wall display
MANAGER_USER = "wang.li"
PROGRESS_EVERY_S = 15.0
T = TypeVar("T")


class ScreenshotError(Exception):
    """Something the screenshots need did not happen; the message says what and where to look."""


class _StoppedError(Exception):
    """SIGTERM: leave the way Ctrl-C does, stopping the platform first."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _StoppedError(signal.Signals(signum).name)


_started = time.monotonic()


def say(message: str) -> None:
    elapsed = int(time.monotonic() - _started)
    print(f"[{elapsed // 60:2d}:{elapsed % 60:02d}] {message}", flush=True)


# --- HTTP to the platform's API (127.0.0.1 only, never through a proxy) -----------------------

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Api:
    """The API of the platform started here, and a staff token for reading it."""

    def __init__(self, settings: Settings) -> None:
        self.base = f"http://127.0.0.1:{settings.api_port}"
        self._login: tuple[str, str] | None = None
        self._token: str | None = None

    def log_in(self, username: str, password: str) -> None:
        """Read as this staff account from now on (a token, renewed when it runs out)."""
        self._login = (username, password)
        self._token = None

    def _new_token(self) -> str:
        assert self._login is not None, "log_in first"
        username, password = self._login
        body = urllib.parse.urlencode({"username": username, "password": password}).encode()
        with _HTTP.open(self.base + "/v1/auth/token", data=body, timeout=30) as response:
            token: str = json.loads(response.read())["access_token"]
        return token

    def get(self, path: str) -> Any:
        """GET a JSON document; None when it is not there (yet): 404, 503 or no answer."""
        for attempt in range(2):
            if self._token is None:
                self._token = self._new_token()
            request = urllib.request.Request(
                self.base + path, headers={"Authorization": f"Bearer {self._token}"}
            )
            try:
                with _HTTP.open(request, timeout=60) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as refused:
                if refused.code == 401 and attempt == 0:  # the token ran out: a new one
                    self._token = None
                    continue
                if refused.code in (404, 503):
                    return None
                raise
            except OSError:
                return None
        return None


# --- the platform: `sanjiang up --simulate` in a folder of its own ----------------------------


class Platform:
    """``sanjiang up --simulate`` with a temporary var folder and free ports."""

    def __init__(self, var: Path, history_days: int, seed: int) -> None:
        self.var = var
        self.history_days = history_days
        self.seed = seed
        self.process: subprocess.Popen[bytes] | None = None
        self.log = var / "up.log"
        picked: list[int] = []
        while len(picked) < 3:
            port = free_port()
            if port not in picked:
                picked.append(port)
        ports = dict(zip(("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "API_PORT"), picked, strict=True))
        # the settings every process reads from its environment: nothing of the caller's
        # SANJIANG_* (no external cluster or server), no proxy for 127.0.0.1
        for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
            del os.environ[name]
        os.environ.update(
            {
                f"{ENV_PREFIX}VAR_DIR": str(var),
                f"{ENV_PREFIX}API_HOST": "127.0.0.1",
                **{f"{ENV_PREFIX}{name}": str(port) for name, port in ports.items()},
                f"{ENV_PREFIX}KAFKA_START_TIMEOUT_S": "180",  # a busy machine
                # the workers' metrics endpoints off: no fixed port to collide with another run
                f"{ENV_PREFIX}STREAMS_METRICS_PORT": "0",
                f"{ENV_PREFIX}DECIDERS_METRICS_PORT": "0",
                f"{ENV_PREFIX}SINK_METRICS_PORT": "0",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        self.settings = Settings()
        self.api = Api(self.settings)

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "sanjiang",
            "up",
            "--simulate",
            "--seed",
            str(self.seed),
            "--history-days",
            str(self.history_days),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped by us (SIGTERM), not by the terminal's Ctrl-C
            )
        s = self.settings
        say(
            f"starting the platform (sanjiang up --simulate, {self.history_days} days of "
            f"history) in {self.var}: API on 127.0.0.1:{s.api_port}, Kafka on "
            f"127.0.0.1:{s.kafka_port}; its output in {self.log}"
        )

    def check(self) -> None:
        """Raise if ``sanjiang up`` ended or gave up on one of its processes."""
        if self.process is not None and self.process.poll() is not None:
            raise ScreenshotError(f"sanjiang up exited ({self.process.returncode}):\n{self.tail()}")
        status = read_status(self.var / "logs") or {}
        processes = status.get("processes")
        for process in processes if isinstance(processes, list) else []:
            if process.get("state") == "gave_up":
                log = self.var / "logs" / f"{process.get('name')}.log"
                raise ScreenshotError(f"{process.get('name')} kept dying; {log}:\n{tail(log)}")

    def running(self, name: str) -> bool:
        """Whether ``sanjiang up`` started and runs the process ``name``."""
        status = read_status(self.var / "logs") or {}
        processes = status.get("processes")
        return any(
            p.get("name") == name and p.get("state") == "running"
            for p in (processes if isinstance(processes, list) else [])
        )

    def tail(self, lines: int = 15) -> str:
        return tail(self.log, lines)

    def last_line(self) -> str:
        lines = [line.strip() for line in self.tail(5).splitlines() if line.strip()]
        return lines[-1] if lines else "…"

    def admin_password(self) -> str | None:
        path = self.settings.secrets_dir / "initial-admin-password"
        try:
            return path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def add_user(self, username: str, role: str, stations: list[str]) -> str:
        """``sanjiang user add`` (as an operator would); returns the account's password."""
        password = secrets.token_urlsafe(16)
        command = [sys.executable, "-m", "sanjiang", "user", "add", username, "--role", role]
        for station in stations:
            command += ["--station", station]
        done = subprocess.run(
            [*command, "--password-stdin", "--reason", "README screenshots"],
            cwd=ROOT,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            raise ScreenshotError(
                f"sanjiang user add {username} failed:\n{done.stdout}{done.stderr}"
            )
        said = (done.stdout + done.stderr).strip().splitlines()
        say(said[-1] if said else f"user {username} ({role}) created")
        return password

    def stop(self) -> None:
        """Stop ``sanjiang up`` (it stops its processes, the broker last); if it does not end,
        kill what is left of what it started."""
        process = self.process
        if process is not None and process.poll() is None:
            say("stopping the platform…")
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(180)
            except subprocess.TimeoutExpired:
                say("sanjiang up did not stop within 3 minutes: killing its process group")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        broker = LocalKafka(self.settings)
        if broker.pid() is not None:  # only if up could not stop it
            say("stopping the Kafka broker left running")
            broker.stop()
        say("platform stopped")


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log."""
    try:
        text = log.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout_s: float,
    progress: Callable[[], str],
    platform: Platform | None = None,
    every_s: float = 5.0,
) -> T:
    """Call ``check`` until it returns something (not None), printing ``progress`` now and
    then; raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    said = 0.0
    while True:
        if platform is not None:
            platform.check()
        found = check()
        if found is not None:
            return found
        now = time.monotonic()
        if now > deadline:
            raise ScreenshotError(f"timed out after {timeout_s / 60:.0f} min waiting for {what}")
        if now - said >= PROGRESS_EVERY_S:
            say(f"{what}: {progress()}")
            said = now
        time.sleep(every_s)


# --- waiting for activity ------------------------------------------------------------------


@dataclass
class Live:
    checkins: int
    registrations: int
    watermark: datetime | None


def live_now(api: Api) -> Live | None:
    network, pipeline = api.get("/v1/live/network"), api.get("/v1/live/pipeline")
    if not isinstance(network, dict) or not isinstance(pipeline, dict):
        return None
    mark = pipeline.get("watermark")
    return Live(
        int(network.get("checkins") or 0),
        int(network.get("registrations") or 0),
        datetime.fromisoformat(mark) if mark else None,
    )


def warehouse_checkins_today(api: Api) -> int | None:
    summary = api.get("/v1/screen/summary")
    if not isinstance(summary, dict):
        return None
    if all(v is None for v in summary["kpis"]["last_7_days"].values()):
        return None  # the history's days are not there
    return int(sum(summary["checkins_by_hour"]["today"]))


def wait_for_activity(platform: Platform, live_minutes: float) -> None:
    api = platform.api
    tz = load_network(platform.settings.network_file).tz
    wait_for(
        "the platform to come up (Kafka, history, API, workers)",
        lambda: True if platform.running("simulator") else None,
        timeout_s=40 * 60,
        progress=platform.last_line,
        platform=platform,
    )
    live_from = time.monotonic()
    say("the simulator feeds the network live")
    password = wait_for(
        "the first admin's password",
        platform.admin_password,
        timeout_s=60,
        progress=lambda: "not written yet",
        platform=platform,
    )
    api.log_in("admin", password)
    first = wait_for(
        "the live views",
        lambda: live_now(api),
        timeout_s=10 * 60,
        progress=lambda: "no live view yet (the stream worker is catching up)",
        platform=platform,
    )
    latest = [first]

    def live_enough() -> Live | None:
        now = live_now(api)
        if now is None:
            return None
        latest.append(now)
        caught_up = now.watermark is not None and (
            datetime.now(now.watermark.tzinfo) - now.watermark < timedelta(minutes=2)
        )
        long_enough = time.monotonic() - live_from >= live_minutes * 60
        return now if caught_up and long_enough else None

    def live_progress() -> str:
        now = latest[-1]
        ran = (time.monotonic() - live_from) / 60
        mark = now.watermark.astimezone(tz).strftime("%H:%M:%S") if now.watermark else "—"
        return (
            f"{ran:.1f} of {live_minutes:.1f} min of live simulation; today {now.checkins:,} "
            f"check-ins (+{now.checkins - first.checkins:,} live), {now.registrations:,} "
            f"registrations; the live fold is at {mark}"
        )

    live = wait_for(
        "live activity",
        live_enough,
        timeout_s=live_minutes * 60 + 15 * 60,
        progress=live_progress,
        platform=platform,
        every_s=10,
    )
    say(
        f"live views: {live.checkins:,} check-ins today "
        f"(+{live.checkins - first.checkins:,} in {(time.monotonic() - live_from) / 60:.1f} "
        f"min of live simulation), {live.registrations:,} registrations"
    )
    stored = [0]

    def warehouse_has_them() -> int | None:
        count = warehouse_checkins_today(api)
        if count is None:
            return None
        stored.append(count)
        return count if count >= live.checkins else None

    count = wait_for(
        "the warehouse",
        warehouse_has_them,
        timeout_s=15 * 60,
        progress=lambda: f"{stored[-1]:,} of the live views' {live.checkins:,} check-ins stored",
        platform=platform,
    )
    say(f"warehouse: {count:,} check-ins of today stored, and the 7 days before")


# --- accounts and the console's station ----------------------------------------------------


@dataclass
class Station:
    station_id: str
    venue_id: str
    activities: int  #: this week's activities at the venue
    demands: int


def choose_station(api: Api, settings: Settings) -> Station:
    """The station whose console shows the most: a venue with a full week, demands on the
    board (from the warehouse, as the console reads it)."""
    network = load_network(settings.network_file)
    best: tuple[tuple[int, int, int], Station] | None = None
    for station in network.stations:
        week = api.get(f"/v1/console/stations/{station.id}/week")
        board = api.get(f"/v1/console/stations/{station.id}/demands")
        if not isinstance(week, dict) or not isinstance(board, dict):
            continue
        per_venue: dict[str, int] = {}
        for activity in week.get("activities", []):
            if activity.get("status") == "published":
                venue = str(activity.get("venue_id"))
                per_venue[venue] = per_venue.get(venue, 0) + 1
        if not per_venue:
            continue
        venue_id, activities = max(per_venue.items(), key=lambda kv: (kv[1], kv[0]))
        demands = len(board.get("demands", []))
        # enough of both first (a readable week, a board that is not empty), then the most
        score = (min(activities, 12) + min(demands, 8), activities, demands)
        if best is None or score > best[0]:
            best = (score, Station(station.id, venue_id, activities, demands))
    if best is None:
        raise ScreenshotError("no station has published activities this week in the warehouse")
    return best[1]


# --- the browser ------------------------------------------------------------------------------


@contextmanager
def chromium(size: tuple[int, int]) -> Iterator[WebDriver]:
    """Debian's headless Chromium with the browser tests' options, its viewport exactly
    ``size`` (CSS pixels at scale 1)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        raise ScreenshotError(
            f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver "
            "(`make browser` does it when run as root)"
        )
    width, height = size
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height + 200}",
        "--no-first-run",
        "--lang=zh-CN",  # as the stations' browsers: dates and times in the Chinese form
        "--disable-background-networking",  # no update checks, no safe-browsing lists
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--no-proxy-server",  # only 127.0.0.1 is asked
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(120)
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
        driver.quit()


def waiting(driver: WebDriver, timeout_s: float = 180) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout_s, ignored_exceptions=(StaleElementReferenceException,))


def log_in(driver: WebDriver, base: str, page: str, username: str, password: str) -> None:
    """Open ``page``, log in on the login page it sends to, come back to it."""
    driver.get(base + page)
    waiting(driver).until(lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    waiting(driver).until(lambda d: d.current_url == base + page)


def until_ready(driver: WebDriver, what: str, script: str, timeout_s: float = 300) -> None:
    """Run ``script`` (it returns what is still missing, a list of names) until nothing is."""
    missing: list[str] = []

    def ready() -> bool | None:
        missing[:] = driver.execute_script(script) or []
        return True if not missing else None

    wait_for(what, ready, timeout_s, lambda: "waiting for " + ", ".join(missing), every_s=2)


def settle(driver: WebDriver) -> None:
    """Let the fonts load and the charts finish their animation."""
    driver.execute_script("return document.fonts.ready.then(() => true)")
    time.sleep(3)


SCREEN_READY = """
const missing = [], text = (id) => document.getElementById(id).textContent.trim();
const chart = (id) => {
  const c = window.echarts && echarts.getInstanceByDom(document.getElementById(id));
  return c ? c.getOption() : null;
};
if (!text('status').includes('实时')) missing.push('the live stream');
const kpis = [...document.querySelectorAll('#kpis .kpi')];
const shows = (css) => kpis.some((k) => k.querySelector(css).textContent.includes('%'));
if (kpis.length !== 4 || !shows('.sub b') || !shows('.value')) missing.push('KPIs');
for (const id of ['counters', 'hot', 'alerts', 'kiosks', 'health']) if (!text(id)) missing.push(id);
const map = chart('map');
if (!map || !map.series[0].data.length) missing.push('map');
const hourly = chart('hourly');
if (!hourly || !hourly.series[0].data.some((v) => v)) missing.push('check-ins by hour');
const occupancy = chart('occupancy');
if (!occupancy || !occupancy.series.some((s) => s.data && s.data.length)) missing.push('occupancy');
return missing;
"""

CONSOLE_READY = """
const missing = [];
if (!document.querySelector('#week .item')) missing.push('the week');
if (!document.querySelector('#demands tr td')) missing.push('the demand board');
if (!document.querySelector('#kpis .kpi')) missing.push('KPIs');
return missing;
"""


def capture(driver: WebDriver, name: str, size: tuple[int, int], out: Path) -> Path:
    png = driver.get_screenshot_as_png()
    width, height = struct.unpack(">II", png[16:24])
    if (width, height) != size:
        raise ScreenshotError(f"{name}: captured {width}×{height}, not {size[0]}×{size[1]}")
    png = smaller_png(png)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    path.write_bytes(png)
    note = "" if len(png) <= MAX_BYTES else f" (over {MAX_BYTES // 1000} KB)"
    say(
        f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
        f"{width}×{height}, {len(png) / 1000:.0f} KB{note}"
    )
    return path


def smaller_png(png: bytes) -> bytes:
    """The same image with its pixel data deflated at zlib's highest level, and only the
    chunks that draw it (Chromium's encoder favours speed); the original if not smaller."""
    chunks: list[tuple[bytes, bytes]] = []
    position = 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        chunks.append((kind, png[position + 8 : position + 8 + length]))
        position += 12 + length
    data = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 9)
    packed = compressor.compress(data) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    kept = [chunk(k, b) for k, b in chunks if k in (b"IHDR", b"PLTE", b"sRGB", b"gAMA")]
    result = png[:8] + b"".join(kept) + chunk(b"IDAT", packed) + chunk(b"IEND", b"")
    return result if len(result) < len(png) else png


# --- the three pages --------------------------------------------------------------------------


def shoot_screen(base: str, username: str, password: str, out: Path) -> None:
    say(f"/screen at {SCREEN_SIZE[0]}×{SCREEN_SIZE[1]}: logging in as {username}")
    with chromium(SCREEN_SIZE) as driver:
        log_in(driver, base, "/screen", username, password)
        until_ready(driver, "the screen's panels", SCREEN_READY)
        settle(driver)
        capture(driver, "screen", SCREEN_SIZE, out)


def shoot_console(base: str, username: str, password: str, station: Station, out: Path) -> None:
    say(
        f"/console at {CONSOLE_SIZE[0]}×{CONSOLE_SIZE[1]}: {station.station_id}, venue "
        f"{station.venue_id} ({station.activities} activities this week), "
        f"{station.demands} demands on the board"
    )
    with chromium(CONSOLE_SIZE) as driver:
        log_in(driver, base, "/console", username, password)
        waiting(driver).until(
            lambda d: d.find_element(By.ID, "station").get_attribute("value") == station.station_id
        )
        Select(driver.find_element(By.ID, "venue")).select_by_value(station.venue_id)
        driver.execute_script("document.activeElement.blur()")  # no focus ring in the picture
        until_ready(driver, "the console's panels", CONSOLE_READY)
        settle(driver)
        capture(driver, "console", CONSOLE_SIZE, out)


def shoot_kiosk(
    base: str, username: str, password: str, station: str, device: str, out: Path
) -> None:
    say(f"/kiosk at {KIOSK_SIZE[0]}×{KIOSK_SIZE[1]}: {username} pairs it as {device}")
    with chromium(KIOSK_SIZE) as driver:
        driver.get(base + "/kiosk/pair")
        waiting(driver).until(lambda d: "/login" in d.current_url)
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        waiting(driver).until(lambda d: d.current_url == base + "/kiosk/pair")
        Select(driver.find_element(By.ID, "station_id")).select_by_value(station)
        driver.find_element(By.ID, "device_id").send_keys(device)
        driver.find_element(By.CSS_SELECTOR, "form.pair-form button[type=submit]").click()
        waiting(driver).until(lambda d: d.current_url == base + "/kiosk")
        waiting(driver).until(
            lambda d: (
                d.find_element(By.ID, "home").is_displayed()
                and d.find_element(By.ID, "net").text == "在线"
                and d.find_element(By.ID, "station").text not in ("自助服务", "未配对", "")
            )
        )
        settle(driver)
        capture(driver, "kiosk", KIOSK_SIZE, out)


def kiosk_name(station_id: str, settings: Settings) -> str:
    """The station's next kiosk (the simulator's are ``<station>-K1`` …)."""
    taken = [k for k, s in kiosks(load_network(settings.network_file)) if s == station_id]
    numbers = [int(m.group(1)) for k in taken if (m := re.search(r"-K(\d+)$", k))]
    return f"{station_id}-K{max(numbers, default=0) + 1}"


# --- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    var = Path(tempfile.mkdtemp(prefix="sanjiang-screenshots-"))
    platform = Platform(var, args.history_days, args.seed)
    keep = args.keep_var
    try:
        platform.start()
        wait_for_activity(platform, args.live_minutes)
        say("choosing the console's station (a venue's week and a demand board with data)")
        station = choose_station(platform.api, platform.settings)
        wall = platform.add_user(WALL_USER, "viewer", [])
        manager = platform.add_user(MANAGER_USER, "manager", [station.station_id])
        base = platform.api.base
        shoot_screen(base, WALL_USER, wall, args.out)
        shoot_console(base, MANAGER_USER, manager, station, args.out)
        device = kiosk_name(station.station_id, platform.settings)
        shoot_kiosk(base, MANAGER_USER, manager, station.station_id, device, args.out)
    except ScreenshotError:
        keep = True  # its logs tell why
        raise
    finally:
        # one more Ctrl-C or SIGTERM must not cut the stop short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            platform.stop()
        finally:
            if keep:
                say(f"kept {var} (the platform's logs are in logs/ and up.log)")
            else:
                shutil.rmtree(var, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--history-days",
        type=int,
        default=7,
        help="days of simulated history before the live feed (default 7: the screen's and the "
        "console's last 7 days; with 14 the deciders' snapshot of the busiest station outgrew "
        "Kafka's 1 MB request limit)",
    )
    parser.add_argument(
        "--live-minutes",
        type=float,
        default=3.0,
        help="minutes of live simulation to wait for (default 3)",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    parser.add_argument(
        "--keep-var", action="store_true", help="keep the temporary var folder (logs) at the end"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        run(args)
    except ScreenshotError as exc:
        say(f"error: {exc}")
        return 1
    except (KeyboardInterrupt, _StoppedError):
        say("interrupted")
        return 130
    say(f"done: screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
