"""The audit trail on the real engine: commands, logins and changes of accounts and keys in one
row shape, newest first, filtered by what kind of act, station, actor and outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.access.audit import key_event, login_event, user_event
from api.access.users import User
from projections.audit import audit_trail
from projections.kpi import Period
from projections.warehouse import ChdbWarehouse
from projections.writer import EventWriter, Positioned
from sanjiang.events import Event, new_event
from sanjiang.events import payloads as p

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DAY = Period(T0 - timedelta(hours=1), T0 + timedelta(hours=23))
ADMIN = User("wang", "admin", None, 1, 0.0, None)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def decided(minutes: int, accepted: bool) -> Event:
    return new_event(
        p.CommandDecided(
            command_id=f"c{minutes}",
            kind="registration.register",
            accepted=accepted,
            outcome="waitlisted" if accepted else None,
            reason=None if accepted else "not_published",
            detail="" if accepted else "a-1 is not published",
            actor="k1",
            role="kiosk",
        ),
        station_id="WS-R03",
        source="kiosk:WS-R03-K1",
        occurred_at=at(minutes),
        received_at=at(minutes),
    )


def test_every_kind_of_act_in_one_shape(warehouse: ChdbWarehouse) -> None:
    events = [
        decided(0, accepted=True),
        decided(1, accepted=False),
        login_event(
            station="WS-C",
            tried="wang",
            account=ADMIN,
            refusal="wrong_password",
            via="token",
            address="10.0.0.7",
            at=at(2),
        ),
        login_event(
            station="WS-C",
            tried="wang",
            account=ADMIN,
            refusal="throttled",
            via="page",
            address="10.0.0.7",
            detail="retry in 60 s",
            repeated=4,
            at=at(3),
        ),
        login_event(
            station="WS-C",
            tried="wang",
            account=ADMIN,
            refusal=None,
            via="page",
            address="10.0.0.7",
            at=at(4),
        ),
        user_event(
            station="WS-C",
            actor="cli:root",
            user=User("li", "operator", ("WS-R03",), 1, 0.0, None),
            change="created",
            note="new hire",
            at=at(5),
        ),
        key_event(
            station="WS-R03",
            actor="cli:root",
            device_id="WS-R03-K1",
            kind="kiosk",
            change="revoked",
            note="stolen",
            at=at(6),
        ),
    ]
    EventWriter(warehouse).write([Positioned(e) for e in events])
    rows = audit_trail(warehouse, DAY)
    assert [row["event_id"] for row in rows] == [str(e.event_id) for e in reversed(events)]
    key, user, login, throttled, refused, rejected, accepted = rows
    assert key == {
        "at": "2026-11-24T09:06:00+08:00",
        "station": "WS-R03",
        "what": "device",
        "kind": "device_key.revoked",
        "actor": "cli:root",
        "role": "",
        "accepted": True,
        "outcome": "revoked",
        "reason": "",
        "detail": "stolen",
        "subject": "kiosk:WS-R03-K1",
        "command_id": "",
        "event_id": str(events[6].event_id),
    }
    assert (user["what"], user["kind"], user["subject"], user["station"]) == (
        "user",
        "user.created",
        "li",
        "WS-C",
    )
    assert (login["kind"], login["accepted"], login["outcome"], login["reason"]) == (
        "login.page",
        True,
        "succeeded",
        "",
    )
    assert (login["actor"], login["role"], login["detail"]) == ("wang", "admin", "from 10.0.0.7")
    assert (throttled["reason"], throttled["detail"]) == (
        "throttled",
        "from 10.0.0.7; retry in 60 s; 4 more refused from this address since the last record",
    )
    assert (refused["kind"], refused["outcome"], refused["reason"]) == (
        "login.token",
        "refused",
        "wrong_password",
    )
    assert (rejected["what"], rejected["outcome"], rejected["reason"], rejected["detail"]) == (
        "command",
        "rejected",
        "not_published",
        "a-1 is not published",
    )
    assert (accepted["outcome"], accepted["subject"], accepted["command_id"]) == (
        "waitlisted",
        "c0",
        "c0",
    )

    def ids(**filters: object) -> list[str]:
        return [row["kind"] for row in audit_trail(warehouse, DAY, **filters)]  # type: ignore[arg-type]

    assert ids(what="login") == ["login.page", "login.page", "login.token"]
    assert ids(what="user") == ["user.created"]
    assert ids(what="device") == ["device_key.revoked"]
    assert ids(what="command", accepted=False) == ["registration.register"]
    assert ids(accepted=False) == ["login.page", "login.token", "registration.register"]
    assert ids(station="WS-R03") == [
        "device_key.revoked",
        "registration.register",
        "registration.register",
    ]
    assert ids(actor="wang", what="login", accepted=True) == ["login.page"]
    assert ids(limit=2) == ["device_key.revoked", "user.created"]
    later = Period(at(5), at(60))
    assert len(audit_trail(warehouse, later)) == 2
