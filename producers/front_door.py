"""The simulator's decisions sent to the platform as commands, as its people would send them.

``FrontDoor`` goes through ``POST /v1/commands``: simulated staff log in with real accounts
(an operator and a manager per station, created for the run with fresh passwords, through
``POST /v1/auth/token``), residents' decisions go with a kiosk key of the station. Each
station's commands are sent in order, one at a time (a registration after the publication it
needs), the stations side by side. An answer that does not come in time is asked for again
with the same command id: the decision is made once. The accounts and keys it makes are
audited like any (``user.changed``, ``device_key.changed``, actor ``simulator``).

``CommandTopic`` (``--via kafka``: no API) writes the commands straight to the command topic,
where the deciders decide them the same way.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from datetime import UTC, datetime

import httpx2 as httpx

from api.access.audit import key_event, network_station, user_event
from api.access.users import UserStore, connect
from api.keys import KeyStore
from api.services import key_store_path, staff_db_path
from producers.asks import Ask
from sanjiang.events import Event
from sanjiang.events.payloads import KeyChange, UserChange
from sanjiang.kafka.client import make_producer
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.kafka.topics import Topics
from sanjiang.network import load_network
from sanjiang.settings import Settings

log = logging.getLogger(__name__)
#: who the audit trail says made the simulated staff's accounts and the kiosks' keys
ACTOR = "simulator"
#: how often a command is sent before it is given up (a 504 or a lost connection)
ATTEMPTS = 8


def staff_username(station_id: str, role: str) -> str:
    """The simulated staff account of a station for a role."""
    return f"sim.{'mgr' if role == 'manager' else 'op'}.{station_id.lower()}"


class FrontDoor:
    """Sends asks through the API with the credentials of whoever would ask."""

    def __init__(self, settings: Settings, api_url: str) -> None:
        self.settings = settings
        self.answers: Counter[str] = Counter()
        self._client = httpx.AsyncClient(base_url=api_url, timeout=60)
        self._lanes: dict[str, asyncio.Queue[Ask]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._tokens: dict[tuple[str, str], str] = {}
        self._kiosk_keys: dict[str, str] = {}
        #: the station of the audit events of staff accounts (network-level acts)
        self._center = network_station(load_network(settings.network_file))
        self._audit: EventPublisher | None = None
        self._audit_lock = asyncio.Lock()

    def ask(self, ask: Ask) -> None:
        """Queue the ask on its station's lane."""
        lane = self._lanes.get(ask.station_id)
        if lane is None:
            lane = self._lanes[ask.station_id] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._run(lane)))
        lane.put_nowait(ask)

    def pending(self) -> int:
        return sum(lane.qsize() for lane in self._lanes.values())

    async def drain(self) -> None:
        """Until every ask queued so far is answered (or given up)."""
        await asyncio.gather(*(lane.join() for lane in self._lanes.values()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
        if self._audit is not None:
            await self._audit.stop()

    async def _audited(self, events: list[Event]) -> None:
        """Write the audit events of a change the simulator made."""
        async with self._audit_lock:
            if self._audit is None:
                audit = EventPublisher(self.settings)
                await audit.start()
                self._audit = audit
        await self._audit.publish_many(events)

    async def _run(self, lane: asyncio.Queue[Ask]) -> None:
        while True:
            ask = await lane.get()
            try:
                self.answers[await self._send(ask)] += 1
            except Exception:  # one command's failure must not stop the station's lane
                log.exception("command %s (%s) failed", ask.command_id, ask.body)
                self.answers["failed"] += 1
            finally:
                lane.task_done()

    async def _send(self, ask: Ask) -> str:
        """Send until answered; the answer's outcome (``accepted`` or the reason)."""
        body = {
            "station_id": ask.station_id,
            "command_id": str(ask.command_id),
            "command": ask.body.model_dump(mode="json"),
        }
        for attempt in range(ATTEMPTS):
            try:
                response = await self._client.post(
                    "/v1/commands", json=body, headers=await self._credential(ask)
                )
            except httpx.TransportError:
                await asyncio.sleep(min(30.0, 2.0**attempt))
                continue
            if response.status_code == 401 and ask.role != "kiosk":
                self._tokens.pop((ask.station_id, ask.role), None)  # expired: log in again
                continue
            if response.status_code in (429, 502, 503, 504):
                await asyncio.sleep(float(response.headers.get("Retry-After", 2.0**attempt)))
                continue
            answer = response.json()
            if response.status_code == 200:
                return "accepted"
            return str(answer.get("reason") or answer.get("code") or response.status_code)
        return "unanswered"

    async def _credential(self, ask: Ask) -> dict[str, str]:
        if ask.role == "kiosk":
            key = self._kiosk_keys.get(ask.station_id)
            if key is None:
                fresh, events = await asyncio.to_thread(self._kiosk_key, ask.station_id)
                await self._audited(events)
                key = self._kiosk_keys[ask.station_id] = fresh
            return {"Authorization": f"Bearer {key}"}
        token = self._tokens.get((ask.station_id, ask.role))
        if token is None:
            token = await self._log_in(ask.station_id, ask.role)
            self._tokens[(ask.station_id, ask.role)] = token
        return {"Authorization": f"Bearer {token}"}

    def _kiosk_key(self, station_id: str) -> tuple[str, list[Event]]:
        """A fresh key of the station's simulated service desk (a kiosk), with the audit
        events of the change."""
        device_id = f"{station_id}-desk"
        store = KeyStore(key_store_path(self.settings))
        events: list[Event] = []

        def audit(change: KeyChange) -> None:
            events.append(
                key_event(
                    station=station_id,
                    actor=ACTOR,
                    device_id=device_id,
                    kind="kiosk",
                    change=change,
                    note="simulated service desk",
                )
            )

        try:
            if store.revoke(device_id, "kiosk"):
                audit("revoked")
            key = store.add(device_id, station_id, "kiosk")
            audit("issued")
            return key, events
        finally:
            store.close()

    async def _log_in(self, station_id: str, role: str) -> str:
        """Log the station's simulated staff member in (the account made or its password
        renewed for this run)."""
        username = staff_username(station_id, role)
        password = secrets.token_urlsafe(18)
        event = await asyncio.to_thread(
            _set_account, self.settings, self._center, username, role, station_id, password
        )
        await self._audited([event])
        response = await self._client.post(
            "/v1/auth/token", data={"username": username, "password": password}
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def _set_account(
    settings: Settings, center: str, username: str, role: str, station_id: str, password: str
) -> Event:
    """Make the account or renew its password; the audit event of the change."""
    store = UserStore(connect(staff_db_path(settings)))
    try:
        change: UserChange
        if store.get(username) is None:
            store.add(username, role, password, [station_id])
            change = "created"
        else:
            store.set_password(username, password)
            change = "password_changed"
        user = store.get(username)
        assert user is not None
    finally:
        store.close()
    return user_event(
        station=center,
        actor=ACTOR,
        user=user,
        change=change,
        note="simulated staff member",
    )


class CommandTopic:
    """Writes asks straight to the command topic (no API: ``--via kafka``)."""

    def __init__(self, settings: Settings) -> None:
        self.answers: Counter[str] = Counter()
        self._topic = Topics.from_settings(settings).commands
        self._producer = make_producer(settings)
        self._ready: asyncio.Task[None] | None = None
        self._sent: list[asyncio.Future[None]] = []

    def ask(self, ask: Ask) -> None:
        if self._ready is None:
            self._ready = asyncio.create_task(self._producer.start())
        self._sent.append(asyncio.ensure_future(self._send(ask)))

    def pending(self) -> int:
        self._sent = [f for f in self._sent if not f.done()]
        return len(self._sent)

    async def _send(self, ask: Ask) -> None:
        assert self._ready is not None
        await self._ready
        command = ask.command(datetime.now(UTC))
        await self._producer.send_and_wait(
            self._topic, command.model_dump_json().encode(), key=command.key
        )
        self.answers["sent"] += 1

    async def close(self) -> None:
        await asyncio.gather(*self._sent, return_exceptions=True)
        if self._ready is not None:
            await self._producer.stop()
