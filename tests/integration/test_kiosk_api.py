"""The kiosk page's side of the API on the real broker, without a browser: who may pair a kiosk
and what the pairing leaves in the browser; what the kiosk cookie can and cannot do; residents'
commands from the page decided by the deciders (a place, then the waitlist with its position,
once per command id); a resident's own registrations and demands, looked up with their card;
sealed identifiers bound to their action."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from api.kiosk import seal_label
from sanjiang.events import decode_event
from sanjiang.ids import uuid7
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from tests.access import PASSWORD, add_user, bearer, device_key, staff_token
from tests.api_process import api_process, deciders_process
from tests.integration.kafka_helpers import read_to_end

pytestmark = pytest.mark.integration
SH = ZoneInfo("Asia/Shanghai")
STATION = "WS-G1"
KIOSK = {"X-Sanjiang-Kiosk": "1"}


@dataclass
class Platform:
    settings: Settings
    url: str
    manager: str  #: a WS-G1 manager's token
    kiosk: str  #: a WS-G1 kiosk key (the page's credential, sent here as a bearer token)


@pytest.fixture(scope="module")
def platform(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    var = tmp_path_factory.mktemp("kiosk-api")
    with (
        api_process(kafka_settings, var, hosts_sink=True, SANJIANG_COMMAND_TIMEOUT_S="60") as s,
        deciders_process(s) as worker,
    ):
        platform = Platform(
            settings=s,
            url=f"http://127.0.0.1:{s.api_port}",
            manager=staff_token(s, "manager", [STATION]),
            kiosk=device_key(s, f"{STATION}-KX", STATION, "kiosk"),
        )
        deadline = time.monotonic() + 120
        probe = {"station_id": STATION, "command": {"kind": "demand.close", "demand_id": "p"}}
        while (answer := command(platform, probe)).status_code == 504:  # the worker joins
            assert worker.poll() is None and time.monotonic() < deadline, "no deciders"
        assert answer.status_code == 404, answer.text
        yield platform


def command(platform: Platform, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{platform.url}/v1/commands",
        json={"command_id": str(uuid7()), **body},
        headers=bearer(platform.manager),
        timeout=90,
    )


def kiosk_post(platform: Platform, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        platform.url + path, json=body, headers=bearer(platform.kiosk) | KIOSK, timeout=90
    )


def seal(config: dict[str, Any], identifier: str, action_id: str) -> str:
    """As the page seals (WebCrypto RSA-OAEP-256), from what ``/v1/kiosk/config`` publishes."""
    key = serialization.load_der_public_key(base64.b64decode(config["seal"]["spki"]))
    assert isinstance(key, rsa.RSAPublicKey)
    sealed = key.encrypt(
        identifier.encode(),
        padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()),
            algorithm=hashes.SHA256(),
            label=seal_label(config["station"]["id"], action_id),
        ),
    )
    kid: str = config["seal"]["kid"]
    return kid + "." + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def config_of(platform: Platform) -> dict[str, Any]:
    answer = httpx.get(f"{platform.url}/v1/kiosk/config", headers=bearer(platform.kiosk))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def log_in(client: httpx.Client, username: str) -> str:
    """Log in on the login page; the pairing form's CSRF token."""
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD, "next": "/kiosk/pair"}
    )
    assert answer.status_code == 303, answer.text
    form = client.get("/kiosk/pair")
    assert form.status_code == 200, form.text
    return form.text.split('name="csrf" value="')[1].split('"')[0]


def test_pairing_sets_an_httponly_kiosk_cookie_and_ends_the_staff_session(
    platform: Platform,
) -> None:
    operator = add_user(platform.settings, "operator", [STATION])
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        csrf = log_in(client, operator)
        assert "吴淞第一网格" in client.get("/kiosk/pair").text
        form = {"csrf": csrf, "station_id": STATION, "device_id": "WS-G1-PAIRED"}
        assert client.post("/kiosk/pair", data=form | {"csrf": "forged"}).status_code == 403
        cross = client.post("/kiosk/pair", data=form, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        other = client.post("/kiosk/pair", data=form | {"station_id": "WS-G2"})
        assert other.status_code == 403 and "无权" in other.text
        paired = client.post("/kiosk/pair", data=form)
        assert paired.status_code == 303 and paired.headers["location"] == "/kiosk"
        cookies = paired.headers.get_list("set-cookie")
        kiosk = next(c for c in cookies if c.startswith("sj_kiosk="))
        assert "HttpOnly" in kiosk and "SameSite=strict" in kiosk and "Secure" not in kiosk
        assert any(c.startswith("sj_session=") and "Max-Age=0" in c for c in cookies)
        key = kiosk.split(";")[0].removeprefix("sj_kiosk=").strip('"')
    with httpx.Client(base_url=platform.url, timeout=30, cookies={"sj_kiosk": key}) as page:
        config = page.get("/v1/kiosk/config")
        assert config.status_code == 200, config.text
        assert config.json()["device_id"] == "WS-G1-PAIRED"
        assert "pseudonym" not in config.text.lower()
        heartbeat = {
            "event_id": str(uuid7()),
            "type": "kiosk.heartbeat",
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"app_version": "t1", "outbox_pending": 0, "uptime_s": 1},
        }
        without_header = page.post("/v1/kiosk/events", json=heartbeat)
        assert without_header.status_code == 403  # what a form of another site could send
        assert without_header.json()["error"] == "csrf_failed"
        assert page.post("/v1/kiosk/events", json=heartbeat, headers=KIOSK).status_code == 202
        # the kiosk's cookie is no credential anywhere else
        assert page.get("/v1/auth/me").status_code == 401
    # pairing again the same device replaces the key only when asked
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        csrf = log_in(client, operator)
        form = {"csrf": csrf, "station_id": STATION, "device_id": "WS-G1-PAIRED"}
        assert client.post("/kiosk/pair", data=form).status_code == 409
        assert client.post("/kiosk/pair", data=form | {"replace": "1"}).status_code == 303
    revoked = httpx.get(f"{platform.url}/v1/kiosk/config", cookies={"sj_kiosk": key})
    assert revoked.status_code == 401 and revoked.json()["error"] == "not_paired"
    topic = Topics(platform.settings.topic_prefix, platform.settings.event_partitions).events
    deadline = time.monotonic() + 30
    while True:
        records = asyncio.run(
            read_to_end(platform.settings, topic, platform.settings.event_partitions)
        )
        changes = [
            (e.payload.change, e.payload.actor)  # type: ignore[attr-defined]
            for e in map(decode_event, (r.value for r in records))
            if e.type == "device_key.changed" and e.payload.device_id == "WS-G1-PAIRED"  # type: ignore[attr-defined]
        ]
        if len(changes) >= 3 or time.monotonic() > deadline:
            break
    assert changes == [("issued", operator), ("revoked", operator), ("issued", operator)]


def test_a_viewer_pairs_nothing(platform: Platform) -> None:
    viewer = add_user(platform.settings, "viewer", [STATION])
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        csrf = log_in(client, viewer)
        answer = client.post(
            "/kiosk/pair", data={"csrf": csrf, "station_id": STATION, "device_id": "WS-G1-V"}
        )
        assert answer.status_code == 403 and "sj_kiosk" not in answer.headers.get("set-cookie", "")


def test_only_a_kiosk_key_is_a_kiosk(platform: Platform) -> None:
    assert httpx.get(f"{platform.url}/v1/kiosk/config").status_code == 401
    console = device_key(platform.settings, "WS-G1-CONSOLE-T", STATION, "console")
    answer = httpx.get(f"{platform.url}/v1/kiosk/config", headers=bearer(console))
    assert answer.status_code == 403


def test_residents_register_wait_and_look_themselves_up(platform: Platform) -> None:
    day = datetime.now(SH).date() + timedelta(days=2)
    while day.weekday() >= 5:  # a weekday, when the sample venues are open
        day += timedelta(days=1)
    starts = datetime(day.year, day.month, day.day, 14, tzinfo=SH)
    activity = {
        "kind": "activity.design",
        "activity_id": "kiosk-small-class",
        "title": "智能手机小班课",
        "category": "science_practice",
        "program": "kepu_practice",
        "venue_id": "WS-G1-ACT",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 1,
        "target_groups": ["elderly"],
    }
    assert command(platform, {"station_id": STATION, "command": activity}).status_code == 200
    publish = {"kind": "activity.publish", "activity_id": "kiosk-small-class"}
    assert command(platform, {"station_id": STATION, "command": publish}).status_code == 200
    config = config_of(platform)

    def register(card: str) -> tuple[str, httpx.Response]:
        command_id = str(uuid7())
        body = {
            "command_id": command_id,
            "resident_sealed": seal(config, card, command_id),
            "command": {
                "kind": "registration.register",
                "registration_id": f"kr-{command_id.replace('-', '')}",
                "activity_id": "kiosk-small-class",
            },
        }
        return command_id, kiosk_post(platform, "/v1/kiosk/commands", body)

    first_id, first = register("CARD-0001")
    assert first.status_code == 200 and first.json()["outcome"] == "done", first.text
    _, second = register("CARD-0002")
    assert second.json()["outcome"] == "waitlisted" and second.json()["position"] == 1
    again = kiosk_post(
        platform,
        "/v1/kiosk/commands",
        {
            "command_id": first_id,
            "resident_sealed": seal(config, "CARD-0001", first_id),
            "command": {
                "kind": "registration.register",
                "registration_id": f"kr-{first_id.replace('-', '')}",
                "activity_id": "kiosk-small-class",
            },
        },
    )
    assert again.json() == first.json()  # decided once
    demand_id = "D-KIOSK-1"
    demand_command = str(uuid7())
    demand = kiosk_post(
        platform,
        "/v1/kiosk/commands",
        {
            "command_id": demand_command,
            "resident_sealed": seal(config, "CARD-0002", demand_command),
            "command": {
                "kind": "demand.submit",
                "demand_id": demand_id,
                "category": "fitness_wellness",
            },
        },
    )
    assert demand.status_code == 200, demand.text
    # a staff decision is no kiosk's to ask
    refused = kiosk_post(
        platform,
        "/v1/kiosk/commands",
        {"command_id": str(uuid7()), "command": {"kind": "demand.accept", "demand_id": demand_id}},
    )
    assert refused.status_code == 403

    def lookup(card: str) -> dict[str, Any]:
        lookup_id = str(uuid7())
        answer = kiosk_post(
            platform,
            "/v1/kiosk/lookup",
            {"lookup_id": lookup_id, "resident_sealed": seal(config, card, lookup_id)},
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    deadline = time.monotonic() + 60
    while not ((second_found := lookup("CARD-0002"))["demands"]):  # the sink's delay
        assert time.monotonic() < deadline, second_found
        time.sleep(0.3)
    first_found = lookup("CARD-0001")
    assert [(r["activity_id"], r["status"]) for r in first_found["registrations"]] == [
        ("kiosk-small-class", "registered")
    ]
    assert first_found["demands"] == []  # another resident's demand is not theirs
    [waiting] = second_found["registrations"]
    assert waiting["status"] == "waitlisted" and waiting["status_label"] == "候补第 1 位"
    assert [d["demand_id"] for d in second_found["demands"]] == [demand_id]
    by_id = httpx.get(
        f"{platform.url}/v1/kiosk/demands/{demand_id}", headers=bearer(platform.kiosk)
    )
    assert by_id.status_code == 200 and by_id.json()["status_label"] == "已提交"
    assert "resident" not in by_id.text
    listed = config_of(platform)["activities"]
    assert [(a["activity_id"], a["registered"], a["waitlisted"]) for a in listed] == [
        ("kiosk-small-class", 1, 1)
    ]


def test_a_sealed_card_opens_for_its_own_action_only(platform: Platform) -> None:
    config = config_of(platform)
    made_for = str(uuid7())
    event_id = str(uuid7())
    body = {
        "event_id": event_id,
        "type": "checkin.recorded",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"venue_id": "WS-G1-ACT"},
        "resident_sealed": seal(config, "CARD-0003", made_for),
    }
    answer = kiosk_post(platform, "/v1/kiosk/events", body)
    assert answer.status_code == 422 and answer.json()["error"] == "bad_seal"
    checkout_id = str(uuid7())
    checkout = {
        "event_id": checkout_id,
        "type": "checkout.recorded",
        "occurred_at": datetime.now(UTC).isoformat(),
        "resident_sealed": seal(config, "CARD-0004", checkout_id),
    }
    nothing_open = kiosk_post(platform, "/v1/kiosk/events", checkout)
    assert nothing_open.status_code == 409 and nothing_open.json()["error"] == "no_open_visit"
    body["resident_sealed"] = seal(config, "CARD-0003", event_id)
    assert kiosk_post(platform, "/v1/kiosk/events", body).json()["status"] == "accepted"
    assert kiosk_post(platform, "/v1/kiosk/events", body).json()["status"] == "duplicate"
