"""HTTP ingest against the real broker: every kind of bad input gets its documented answer,
and every accepted event is in Kafka exactly as answered."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.services import key_store_path
from sanjiang.events import Event, decode_event, encode_event
from sanjiang.events import payloads as p
from sanjiang.events.codec import new_event
from sanjiang.kafka.topics import Topics
from sanjiang.settings import Settings
from tests.integration.kafka_helpers import consume

pytestmark = pytest.mark.integration

STATION = "WS-R03"
KIOSK = "WS-R03-K1"


def now() -> datetime:
    return datetime.now(UTC)


def checkin(
    occurred_at: datetime | None = None, station: str = STATION, source: str = f"kiosk:{KIOSK}"
) -> Event:
    return new_event(
        p.CheckinRecorded(visit_id="v1", venue_id=f"{station}-ROOM1", age_band="70-79"),
        station_id=station,
        source=source,
        occurred_at=occurred_at or now(),
        resident="0123456789abcdef0123456789abcdef",
    )


def body(*events: Event) -> bytes:
    return b"[" + b",".join(encode_event(e) for e in events) + b"]"


class Harness:
    def __init__(self, client: TestClient, settings: Settings, topics: Topics, key: str) -> None:
        self.client = client
        self.settings = settings
        self.topics = topics
        self.key = key

    def post(self, content: bytes | Iterator[bytes], key: str | None = None, **headers: str) -> Any:
        auth = {"Authorization": f"Bearer {key or self.key}"}
        headers.setdefault("content-type", "application/json")
        return self.client.post("/v1/events", content=content, headers={**auth, **headers})

    def kafka(self, topic: str, expected: int, group: str) -> list[Any]:
        return asyncio.run(consume(self.settings, topic, group, expected, timeout_s=15))


@contextmanager
def make_harness(
    kafka_settings: Settings, topics: Topics, tmp_path: Path, **overrides: Any
) -> Iterator[Harness]:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": topics.prefix, "var_dir": tmp_path, **overrides}
    )
    store = KeyStore(key_store_path(settings))
    key = store.add(KIOSK, STATION)
    store.close()
    with TestClient(create_app(settings)) as client:
        yield Harness(client, settings, topics, key)


@pytest.fixture
def api(kafka_settings: Settings, topics: Topics, tmp_path: Path) -> Iterator[Harness]:
    with make_harness(kafka_settings, topics, tmp_path) as harness:
        yield harness


def test_single_event_is_in_kafka_when_accepted(api: Harness, group_id: str) -> None:
    event = checkin()
    response = api.post(encode_event(event))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"index": 0, "status": "accepted", "event_id": str(event.event_id)}],
    }
    (record,) = api.kafka(api.topics.events, 1, group_id)
    stored = decode_event(record.value)
    assert stored.event_id == event.event_id
    assert stored.payload == event.payload
    assert stored.received_at is not None and not stored.late
    assert record.key == STATION.encode()


def test_batch_with_mixed_items_answers_each_and_dead_letters_the_rejected(
    api: Harness, group_id: str
) -> None:
    good, forged, twice = checkin(), checkin(station="WS-R04"), checkin()
    invalid = orjson.loads(encode_event(checkin()))
    invalid["payload"]["age_band"] = "ninety"
    content = (
        b"["
        + b",".join(
            [
                encode_event(good),
                encode_event(forged),
                encode_event(twice),
                encode_event(twice),
                orjson.dumps(invalid),
                b"42",
            ]
        )
        + b"]"
    )
    response = api.post(content)
    assert response.status_code == 202
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 1, 3)
    statuses = [(r["status"], r.get("reason")) for r in answer["results"]]
    assert statuses == [
        ("accepted", None),
        ("rejected", "forbidden_station"),
        ("accepted", None),
        ("duplicate", None),
        ("rejected", "invalid"),
        ("rejected", "not_an_object"),
    ]
    assert "payload.age_band" in answer["results"][4]["detail"]
    stored = {decode_event(r.value).event_id for r in api.kafka(api.topics.events, 2, group_id)}
    assert stored == {good.event_id, twice.event_id}
    dead = api.kafka(api.topics.deadletter, 3, group_id + "-dlq")
    assert sorted(dict(r.headers)["reason"] for r in dead) == [
        b"forbidden_station",
        b"invalid",
        b"not_an_object",
    ]
    assert all(dict(r.headers)["origin"] == f"kiosk:{KIOSK}".encode() for r in dead)


def test_ndjson_batch_and_malformed_line(api: Harness, group_id: str) -> None:
    a, b = checkin(), checkin()
    content = encode_event(a) + b"\n{broken\n\n" + encode_event(b) + b"\n"
    response = api.post(content, **{"content-type": "application/x-ndjson"})
    assert response.status_code == 202
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "rejected", "accepted"]
    assert response.json()["results"][1]["reason"] == "malformed_json"
    (dead,) = api.kafka(api.topics.deadletter, 1, group_id)
    assert (
        orjson.loads(dead.value)
        == {  # not JSON: only its size and a hash are kept
            "redacted": "not JSON",
            "bytes": 7,
            "sha256": hashlib.sha256(b"{broken").hexdigest()[:32],
        }
    )


def test_a_rejected_body_is_kept_redacted_and_small(api: Harness, group_id: str) -> None:
    """A valid event, then an invalid item over the broker's message size holding a name: the
    valid one is accepted (never 'nothing was accepted'), the other is answered and its dead
    letter keeps the shape, not the name, well under the broker's limit."""
    good = checkin()
    bad = orjson.loads(encode_event(checkin()))
    bad["payload"]["age_band"] = "ninety"
    bad["payload"]["name"] = "张三"
    bad["payload"]["phone"] = "13800138000"
    bad["payload"]["blob"] = "x" * 2_000_000  # over the broker's 1 MB message limit
    response = api.post(b"[" + encode_event(good) + b"," + orjson.dumps(bad) + b"]")
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["accepted"] == 1 and answer["rejected"] == 1
    assert answer["results"][1]["reason"] == "invalid"
    (dead,) = api.kafka(api.topics.deadletter, 1, group_id)
    assert len(dead.value) <= 4096
    kept = orjson.loads(dead.value)
    assert kept["type"] == "checkin.recorded" and kept["station_id"] == STATION
    assert kept["event_id"] == bad["event_id"]
    assert kept["payload"]["name"] == "<redacted: 2 chars>"
    assert kept["payload"]["phone"] == "<redacted: 11 chars>"
    assert kept["payload"]["age_band"] == "ninety"  # a code field: kept, it shows what was wrong
    assert "张三".encode() not in dead.value and b"13800138000" not in dead.value
    assert dict(dead.headers)["reason"] == b"invalid"


def test_twenty_thousand_invalid_items_are_answered_and_dead_lettered_in_batches(
    kafka_settings: Settings, topics: Topics, tmp_path: Path, group_id: str
) -> None:
    with make_harness(
        kafka_settings, topics, tmp_path, ingest_max_body_bytes=64 * 1024 * 1024
    ) as api:
        items = [{"type": "checkin.recorded", "schema_version": 1, "n": i} for i in range(20_000)]
        response = api.post(orjson.dumps(items))
        assert response.status_code == 400
        answer = response.json()
        assert answer["rejected"] == 20_000 and answer["accepted"] == 0
        dead = api.kafka(api.topics.deadletter, 20_000, group_id)
    assert len(dead) == 20_000
    assert {dict(r.headers)["reason"] for r in dead} == {b"invalid"}


def test_duplicate_across_requests_is_accepted_once(api: Harness, group_id: str) -> None:
    event = checkin()
    assert api.post(encode_event(event)).json()["accepted"] == 1
    again = api.post(encode_event(event))
    assert again.status_code == 202
    assert again.json()["results"][0]["status"] == "duplicate"
    records = api.kafka(api.topics.events, 2, group_id)
    assert len(records) == 1


def test_late_event_inside_the_window_is_accepted_and_flagged(api: Harness, group_id: str) -> None:
    event = checkin(now() - timedelta(hours=30))
    assert api.post(encode_event(event)).status_code == 202
    (record,) = api.kafka(api.topics.events, 1, group_id)
    stored = decode_event(record.value)
    assert stored.late is True
    assert stored.occurred_at == event.occurred_at  # the kiosk's time is kept


def _mutated(change: Any) -> bytes:
    raw = orjson.loads(encode_event(checkin()))
    change(raw)
    return orjson.dumps(raw)


@pytest.mark.parametrize(
    ("case", "content", "status", "reason", "message"),
    [
        ("malformed json", b'{"type": ', 400, "malformed_json", "not valid JSON"),
        ("not an object", b'"hello"', 400, "not_an_object", "JSON object"),
        (
            "wrong type of value",
            _mutated(lambda r: r["payload"].update(venue_id=17)),
            400,
            "invalid",
            "payload.venue_id: Input should be a valid string",
        ),
        (
            "unknown type",
            _mutated(lambda r: r.update(type="checkin.teleported")),
            400,
            "unknown_type",
            "unknown event type",
        ),
        (
            "unknown version",
            _mutated(lambda r: r.update(schema_version=7)),
            400,
            "unknown_version",
            "newer than this platform knows",
        ),
        (
            "unknown station",
            _mutated(lambda r: r.update(station_id="WS-R99")),
            400,
            "unknown_station",
            "unknown station 'WS-R99'",
        ),
        (
            "forged station",
            _mutated(lambda r: r.update(station_id="WS-R04")),
            403,
            "forbidden_station",
            "may only emit for WS-R03",
        ),
        (
            "forged source",
            _mutated(lambda r: r.update(source="kiosk:WS-R03-K2")),
            403,
            "forbidden_source",
            "emits as 'kiosk:WS-R03-K1'",
        ),
        (
            "future",
            _mutated(lambda r: r.update(occurred_at=(now() + timedelta(hours=1)).isoformat())),
            400,
            "from_future",
            "ahead of the platform clock",
        ),
        (
            "too old",
            _mutated(lambda r: r.update(occurred_at=(now() - timedelta(days=30)).isoformat())),
            400,
            "too_old",
            "late-upload window",
        ),
        (
            "a staff decision",
            encode_event(
                new_event(
                    p.BookingNoShow(booking_id="b1"),
                    station_id=STATION,
                    source=f"kiosk:{KIOSK}",
                    occurred_at=now(),
                )
            ),
            403,
            "forbidden_type",
            "send a command instead",
        ),
        (
            "a decision only the deciders make",
            encode_event(
                new_event(
                    p.DemandAccepted(demand_id="d1"),
                    station_id=STATION,
                    source=f"kiosk:{KIOSK}",
                    occurred_at=now(),
                )
            ),
            403,
            "forbidden_type",
            "decided by the platform",
        ),
    ],
)
def test_bad_single_events(
    api: Harness, case: str, content: bytes, status: int, reason: str, message: str
) -> None:
    response = api.post(content)
    assert response.status_code == status, response.text
    answer = response.json()
    if "results" in answer:
        (result,) = answer["results"]
        assert result["reason"] == reason
        assert message in result["detail"]
        assert answer["accepted"] == 0
    else:
        assert answer["error"] == reason
        assert message in answer["detail"]


def test_authentication(api: Harness) -> None:
    content = encode_event(checkin())
    missing = api.client.post("/v1/events", content=content)
    assert missing.status_code == 401
    assert missing.json()["error"] == "missing_credentials"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert api.post(content, key="sjk_not-a-key").json()["error"] == "invalid_key"
    store = KeyStore(key_store_path(api.settings))
    assert store.revoke(KIOSK)
    store.close()
    revoked = api.post(content)
    assert revoked.status_code == 401
    assert revoked.json()["error"] == "revoked_key"


def test_oversize_bodies_are_refused_by_bytes(
    kafka_settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    with make_harness(
        kafka_settings, topics, tmp_path, ingest_max_body_bytes=4096, ingest_max_batch=5
    ) as api:
        big = body(*[checkin() for _ in range(20)])
        assert len(big) > 4096
        declared = api.post(big)
        assert declared.status_code == 413
        assert declared.json()["error"] == "payload_too_large"

        def chunks(data: bytes) -> Iterator[bytes]:  # chunked: no Content-Length to trust
            for i in range(0, len(data), 1000):
                yield data[i : i + 1000]

        chunked = api.post(chunks(big))
        assert chunked.status_code == 413
        many = api.post(body(*[checkin() for _ in range(6)]))
        assert many.status_code == 413
        assert many.json()["error"] == "batch_too_large"


def test_rate_limit_per_key(kafka_settings: Settings, topics: Topics, tmp_path: Path) -> None:
    with make_harness(
        kafka_settings, topics, tmp_path, ingest_rate_per_key=1.0, ingest_burst_per_key=5
    ) as api:
        assert api.post(body(*[checkin() for _ in range(5)])).status_code == 202
        limited = api.post(encode_event(checkin()))
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1


def test_openapi_documents_ingest(api: Harness) -> None:
    spec = api.client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/events"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert {"202", "400", "401", "403", "413", "429", "503"} <= set(operation["responses"])
    assert "Event" in spec["components"]["schemas"]
    assert "CheckinRecordedEvent" in spec["components"]["schemas"]
