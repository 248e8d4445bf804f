"""The audit of access without Kafka: the payloads' rules, the events built for logins and for
changes of accounts and keys (never a password), the station they go to, the once-a-minute
record of throttled logins, the API's bounded wait, why a login was refused, and the ingest
refusing audit events from devices."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from api.access.audit import (
    API_SOURCE,
    CLI_SOURCE,
    LoginAudit,
    OncePerKey,
    cli_actor,
    key_event,
    login_event,
    network_station,
    user_event,
)
from api.access.users import UserStore, connect
from api.ingest import IngestPolicy
from api.keys import DeviceKind, KeyStore, KeyStoreError, Principal
from projections.audit import EVENT_TYPE_OF
from sanjiang.events import EVENT_TYPES, Event, encode_event, new_event
from sanjiang.events import payloads as p
from sanjiang.events.catalog import AUDIT_TYPES, DECIDED_TYPES
from sanjiang.network import load_network
from sanjiang.settings import load_settings

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    return UserStore(connect(tmp_path / "staff.db"))


def test_the_audit_types_are_in_the_catalog_and_each_kind_of_act_has_one() -> None:
    assert set(EVENT_TYPES) >= AUDIT_TYPES and not AUDIT_TYPES & DECIDED_TYPES
    assert set(EVENT_TYPE_OF.values()) == AUDIT_TYPES | {"command.decided"}


def test_a_login_is_refused_with_a_reason_and_accepted_without_one() -> None:
    base: dict[str, Any] = {"actor": "wang", "via": "token", "address": "127.0.0.1"}
    assert p.LoginAttempted(**base, accepted=True).reason is None
    assert p.LoginAttempted(**base, accepted=False, reason="throttled").reason == "throttled"
    for bad in (
        {"accepted": True, "reason": "wrong_password"},
        {"accepted": False},
        {"accepted": False, "reason": "guessed"},
    ):
        with pytest.raises(ValidationError):
            p.LoginAttempted(**base, **bad)
    for actor in ("Wang Li", "x" * 41, "王力", "p@ssw0rd!"):
        with pytest.raises(ValidationError):
            p.LoginAttempted(**{**base, "actor": actor}, accepted=True)
    with pytest.raises(ValidationError):
        p.LoginAttempted(**{**base, "address": "a b"}, accepted=True)
    assert "password" not in p.LoginAttempted.model_fields


def test_a_login_event_never_holds_what_could_be_a_password() -> None:
    station = network_station(load_network())
    assert station == "WS-C"  # the flagship center: logins and accounts are the network's
    typed = "my secret: Hunter2!"  # a password typed as the username
    event = login_event(
        station=station,
        tried=typed.strip().lower(),
        account=None,
        refusal="unknown_user",
        via="page",
        address="10.0.0.7",
        at=NOW,
    )
    wire = encode_event(event)
    assert b"hunter2" not in wire.lower() and b"secret" not in wire
    payload = event.payload
    assert isinstance(payload, p.LoginAttempted)
    assert (payload.actor, payload.accepted, payload.reason, payload.via) == (
        "",
        False,
        "unknown_user",
        "page",
    )
    assert payload.detail == f"not a username ({len(typed)} characters)"
    assert (event.station_id, event.source, event.occurred_at) == (station, API_SOURCE, NOW)
    assert event.received_at == NOW  # the platform's own act: received as it happens
    odd = login_event(
        station=station,
        tried="wang",
        account=None,
        refusal="throttled",
        via="token",
        address="bad address with spaces",
        detail="retry in 40 s",
        repeated=3,
    )
    assert isinstance(odd.payload, p.LoginAttempted)
    assert (odd.payload.actor, odd.payload.address, odd.payload.detail) == (
        "wang",
        "unknown",
        "retry in 40 s",
    )
    assert odd.payload.repeated == 3


def test_change_events_name_the_account_or_the_device(users: UserStore) -> None:
    user = users.add("wang.li", "manager", PASSWORD, ["WS-R04", "WS-R03"])
    event = user_event(
        station="WS-C", actor="cli:root", user=user, change="created", note="new hire", at=NOW
    )
    assert isinstance(event.payload, p.UserChanged)
    assert event.payload.model_dump() == {
        "actor": "cli:root",
        "role": None,
        "username": "wang.li",
        "change": "created",
        "account_role": "manager",
        "stations": ["WS-R03", "WS-R04"],
        "note": "new hire",
    }
    assert (event.type, event.station_id, event.source) == ("user.changed", "WS-C", CLI_SOURCE)
    assert PASSWORD.encode() not in encode_event(event)
    key = key_event(
        station="WS-R03", actor="cli:root", device_id="WS-R03-K1", kind="kiosk", change="revoked"
    )
    assert isinstance(key.payload, p.DeviceKeyChanged)
    assert (key.type, key.station_id, key.payload.change) == (
        "device_key.changed",
        "WS-R03",
        "revoked",
    )
    with pytest.raises(ValidationError):  # a device id its events could never name
        key_event(
            station="WS-R03", actor="cli:x", device_id="my kiosk", kind="kiosk", change="issued"
        )


def test_the_command_line_actor_is_the_effective_os_user() -> None:
    actor = cli_actor()
    assert actor.startswith("cli:") and len(actor) <= 44
    p.UserChanged(actor=actor, username="wang", change="enabled", account_role="viewer")


def test_throttled_logins_are_recorded_once_a_minute_per_address() -> None:
    once = OncePerKey(60.0, max_keys=3)
    assert once.due("10.0.0.1", 0.0) == 0
    assert [once.due("10.0.0.1", t) for t in (1.0, 2.0, 59.0)] == [None, None, None]
    assert once.due("10.0.0.2", 5.0) == 0  # another address: its own minute
    assert once.due("10.0.0.1", 60.0) == 3  # the next record counts those left out
    assert once.due("10.0.0.1", 61.0) is None
    for i in range(5):  # more addresses than remembered: memory stays bounded
        assert once.due(f"10.1.0.{i}", 200.0 + i) == 0
    assert len(once._seen) <= 3


class FakePublisher:
    def __init__(self, delay_s: float = 0.0, error: Exception | None = None) -> None:
        self.delay_s, self.error = delay_s, error
        self.sent: list[Event] = []

    async def publish(self, event: Event) -> None:
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        self.sent.append(event)


def test_a_login_waits_for_its_audit_event_no_longer_than_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        quick = FakePublisher()
        audit = LoginAudit(quick, "WS-C", wait_s=1.0, throttled_every_s=60.0)
        now = time.time()
        for refusal in ("throttled", "throttled", "wrong_password", None):
            await audit.login(
                tried="wang",
                account=None,
                refusal=refusal,
                via="token",
                address="10.0.0.1",
                now=now,
            )
        # the second throttled refusal is left out; the others were sent before answering
        assert [e.payload.reason for e in quick.sent] == [  # type: ignore[attr-defined]
            "throttled",
            "wrong_password",
            None,
        ]
        slow = FakePublisher(delay_s=0.5)
        audit = LoginAudit(slow, "WS-C", wait_s=0.05)
        started = time.monotonic()
        await audit.login(
            tried="wang", account=None, refusal=None, via="page", address="::1", now=now
        )
        assert time.monotonic() - started < 0.4  # answered without the acknowledgement
        assert slow.sent == []
        await audit.drain()  # the send went on, and is done before the API stops
        assert len(slow.sent) == 1
        broken = LoginAudit(FakePublisher(error=RuntimeError("broker down")), "WS-C")
        await broken.login(
            tried="wang", account=None, refusal=None, via="page", address="::1", now=now
        )
        await broken.drain()

    caplog.set_level(logging.ERROR, "sanjiang.audit")
    asyncio.run(scenario())
    (record,) = caplog.records
    assert "audit event not written: login.attempted" in record.getMessage()
    assert "broker down" in record.getMessage()


def test_a_refused_login_says_why_for_the_audit_only(users: UserStore) -> None:
    users.add("wang", "viewer", PASSWORD)
    users.add("li", "operator", PASSWORD, ["WS-R03"])
    users.disable("li")
    ok = users.check("wang", PASSWORD)
    assert ok.refusal is None and ok.user is not None and ok.user.username == "wang"
    cases = {
        ("ghost", PASSWORD): ("unknown_user", None),
        ("wang", "wrong password!"): ("wrong_password", "viewer"),
        ("wang", "x" * 300): ("wrong_password", "viewer"),
        ("li", PASSWORD): ("disabled", "operator"),  # the right password of a disabled account
        ("li", "wrong password!"): ("wrong_password", "operator"),
    }
    for (name, password), (refusal, role) in cases.items():
        check = users.check(name, password)
        assert check.user is None and check.refusal == refusal, name
        assert (None if check.account is None else check.account.role) == role
        assert users.verify(name, password) is None


def test_a_transaction_of_the_stores_keeps_all_or_nothing(users: UserStore, tmp_path: Path) -> None:
    def unaudited(change: Callable[[], object], transaction: AbstractContextManager[None]) -> None:
        with transaction:
            change()
            raise RuntimeError("the audit event could not be written")

    with pytest.raises(RuntimeError):
        unaudited(lambda: users.add("wang", "viewer", PASSWORD), users.transaction())
    assert users.get("wang") is None
    with users.transaction():
        users.add("wang", "viewer", PASSWORD)
    assert users.get("wang") is not None
    keys = KeyStore(tmp_path / "keys.db")
    try:
        with pytest.raises(RuntimeError):
            unaudited(lambda: keys.add("WS-R03-K1", "WS-R03"), keys.transaction())
        assert keys.active("WS-R03-K1") is None
        keys.add("WS-R03-K1", "WS-R03")
        record = keys.active("WS-R03-K1")
        assert record is not None and record.station_id == "WS-R03"
        assert keys.active("WS-R03-K1", "console") is None
        with pytest.raises(KeyStoreError, match="device id"):
            keys.add("my kiosk", "WS-R03")
    finally:
        keys.close()


@pytest.mark.parametrize("kind", ["kiosk", "console"])
def test_no_device_may_send_an_audit_event(kind: DeviceKind) -> None:
    policy = IngestPolicy.from_settings(load_settings(), frozenset(load_network().by_id))
    principal = Principal("WS-R03-C1", kind, "WS-R03")
    now = datetime.now(UTC)
    payloads: list[p.Payload] = [
        p.LoginAttempted(actor="wang", accepted=True, via="token", address="127.0.0.1"),
        p.UserChanged(actor="x", username="wang", change="created", account_role="admin"),
        p.DeviceKeyChanged(actor="x", device_id="WS-R03-C1", kind="console", change="issued"),
    ]
    for payload in payloads:
        event = new_event(payload, station_id="WS-R03", source=principal.source, occurred_at=now)
        refused = policy.check(principal, orjson.loads(encode_event(event)), now)
        assert not isinstance(refused, Event)
        assert (refused.reason, refused.detail) == (
            "forbidden_type",
            f"type: {event.type} is the platform's own audit record",
        )
