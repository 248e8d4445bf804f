"""The audit of access: staff logins, changes of staff accounts and of device keys, as events on
the event topic (``login.attempted``, ``user.changed``, ``device_key.changed``) beside the
deciders' ``command.decided``; the warehouse sink keeps them and ``GET /v1/audit`` reads them.

**Which station.** Every event names a station, which is also its Kafka key (a station's events
stay in order). A device key belongs to one station: its events are that station's. Logins and
staff accounts belong to the network — an account may work at several stations or at all of
them, and its stations change — so their events are the flagship service center's (the
network's one ``center`` station, which runs the network). Not the actor's station: an admin or
analyst has none, an operator may have several, and a login that names no account has no
actor at all. One key for every account's events also keeps an account's story in order (a
password changed, then the logins with the new one), which keys that moved with the account's
stations could not.

**Logins** (``LoginAudit``): the API records every attempt before it answers, waiting for
Kafka's acknowledgement (the producer's normal send: a few milliseconds) at most ``WAIT_S``. So
an answered login is in the log even if the API dies right after, and a slow or unreachable
broker still does not hold logins up: past ``WAIT_S`` the send goes on in the background, and a
send that fails is logged as an error (the login's answer stands; the API's log keeps the
attempt). Refusals of throttled logins cost the API almost nothing, so a flood of them could
fill the log, which is kept forever: they are recorded once a minute per client address, the
next record counting the ones left out (``repeated``). Other failed logins need no such bound:
each costs an argon2 verification, and the throttle stops them after 20 per address.

**Changes** are made by the command line (``sanjiang user``, ``sanjiang kiosk``), which writes
their events through ``sanjiang.cli.audit``; the API has no route that changes accounts or keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from api.access.users import USERNAME, User
from api.keys import DeviceKind
from sanjiang.events import Event, new_event
from sanjiang.events import payloads as p
from sanjiang.events.payloads import KeyChange, LoginRefusal, LoginVia, UserChange
from sanjiang.network import Network

log = logging.getLogger("sanjiang.audit")

#: The ``source`` of the audit events the API writes (logins) and of those the command line
#: writes: the deployment's own console (the envelope's sources are ``api``, ``console[:<id>]``
#: and ``kiosk:<id>``; a console *device* is ``console:<id>``, and may not send these events).
API_SOURCE = "api"
CLI_SOURCE = "console"
#: How long a login waits for its audit event to be acknowledged before answering anyway.
WAIT_S = 1.0
#: Throttled logins: at most one record per client address in this many seconds.
THROTTLED_EVERY_S = 60.0

_ADDRESS = re.compile(r"^[!-~]{1,64}$")
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]")


def network_station(network: Network) -> str:
    """The station of network-level acts (logins, staff accounts): the flagship center."""
    return next(s.id for s in network.stations if s.kind == "center")


def cli_actor() -> str:
    """Who runs the command line: ``cli:<OS user>``, the effective user (not ``$USER``, which
    anyone can set), its id when it has no name."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return "cli:" + (_NOT_IN_NAMES.sub("_", name)[:40] or str(uid))


def login_event(
    *,
    station: str,
    tried: str,
    account: User | None,
    refusal: LoginRefusal | None,
    via: LoginVia,
    address: str,
    detail: str = "",
    repeated: int = 0,
    at: datetime | None = None,
) -> Event:
    """The audit event of one login attempt. ``tried``: the name as the login read it (stripped,
    lower case); kept only if it has a username's shape, else only its length is said."""
    name = tried if USERNAME.match(tried) else ""
    notes = [] if name or not tried else [f"not a username ({len(tried)} characters)"]
    if detail:
        notes.append(detail)
    return _audit_event(
        p.LoginAttempted(
            actor=name,
            role=None if account is None else account.role,
            accepted=refusal is None,
            reason=refusal,
            via=via,
            address=address if _ADDRESS.match(address) else "unknown",
            detail="; ".join(notes),
            repeated=repeated,
        ),
        station,
        API_SOURCE,
        at,
    )


def user_event(
    *,
    station: str,
    actor: str,
    user: User,
    change: UserChange,
    note: str = "",
    role: str | None = None,
    at: datetime | None = None,
) -> Event:
    """The audit event of a change of ``user`` (as it is after the change)."""
    return _audit_event(
        p.UserChanged(
            actor=actor,
            role=role,
            username=user.username,
            change=change,
            account_role=user.role,
            stations=None if user.stations is None else list(user.stations),
            note=note,
        ),
        station,
        CLI_SOURCE,
        at,
    )


def key_event(
    *,
    station: str,
    actor: str,
    device_id: str,
    kind: DeviceKind,
    change: KeyChange,
    note: str = "",
    role: str | None = None,
    at: datetime | None = None,
) -> Event:
    """The audit event of a device key issued or revoked; ``station``: the device's."""
    return _audit_event(
        p.DeviceKeyChanged(
            actor=actor, role=role, device_id=device_id, kind=kind, change=change, note=note
        ),
        station,
        CLI_SOURCE,
        at,
    )


def _audit_event(payload: p.Payload, station: str, source: str, at: datetime | None) -> Event:
    """An audit event as the platform records it: received when it occurred (now by default)."""
    at = at or datetime.now(UTC)
    return new_event(payload, station_id=station, source=source, occurred_at=at, received_at=at)


class Publisher(Protocol):
    """What the audit needs of ``sanjiang.kafka.publisher.EventPublisher``."""

    async def publish(self, event: Event) -> Any: ...


@dataclass
class OncePerKey:
    """At most one record per key (a client address) every ``every_s`` seconds: ``due`` says
    whether this occurrence is recorded and, if so, how many were left out since the last one.
    Remembers at most about ``max_keys`` keys (past that, those quiet for ``every_s`` are
    forgotten, and if all are recent, all: more records then, never unbounded memory)."""

    every_s: float
    max_keys: int = 10_000
    _seen: dict[str, tuple[float, int]] = field(default_factory=dict)

    def due(self, key: str, now: float) -> int | None:
        """None: leave this one out; else the number left out before it."""
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every_s:
            self._seen[key] = (last[0], last[1] + 1)
            return None
        self._seen[key] = (now, 0)
        if len(self._seen) > self.max_keys:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.every_s}
            if len(self._seen) > self.max_keys:
                self._seen = {key: (now, 0)}
        return 0 if last is None else last[1]


class LoginAudit:
    """Records logins on the event topic through the API's publisher (see the module's
    docstring)."""

    def __init__(
        self,
        publisher: Publisher,
        station: str,
        wait_s: float = WAIT_S,
        throttled_every_s: float = THROTTLED_EVERY_S,
    ) -> None:
        self.station = station
        self.wait_s = wait_s
        self._publisher = publisher
        self._throttled = OncePerKey(throttled_every_s)
        self._sending: set[asyncio.Task[None]] = set()

    async def login(
        self,
        *,
        tried: str,
        account: User | None,
        refusal: LoginRefusal | None,
        via: LoginVia,
        address: str,
        now: float,
        detail: str = "",
    ) -> None:
        """Record one attempt (throttled ones once a minute per address)."""
        repeated = 0
        if refusal == "throttled":
            left_out = self._throttled.due(address, now)
            if left_out is None:
                return
            repeated = left_out
        event = login_event(
            station=self.station,
            tried=tried,
            account=account,
            refusal=refusal,
            via=via,
            address=address,
            detail=detail,
            repeated=repeated,
            at=datetime.fromtimestamp(now, UTC),
        )
        await self.record(event)

    async def record(self, event: Event) -> None:
        """Send ``event``; wait for Kafka's acknowledgement at most ``wait_s``."""
        task = asyncio.create_task(self._send(event))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), self.wait_s)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for the sends still going (before the publisher stops)."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=timeout_s)

    async def _send(self, event: Event) -> None:
        try:
            await self._publisher.publish(event)
        except Exception as exc:  # the login's answer stands; the log says what was lost
            log.error(
                "audit event not written: %s %s at %s (%s: %s)",
                event.type,
                event.event_id,
                event.occurred_at.isoformat(),
                type(exc).__name__,
                exc,
            )
