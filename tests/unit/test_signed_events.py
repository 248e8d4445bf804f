"""Signed events: the publisher's MAC, the key everyone shares, and the sink's two paths.

The sink builds a signed, current-version record's row from its JSON (no pydantic); every
other record goes the full way (parse, upcast, validate, dead-letter). Both must give the very
same row bytes for the same event.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings

from projections.rows import encode_batch, encode_rows, event_row
from projections.sink import Poison, decode_record, decode_records
from sanjiang.events import Event, decode_event, encode_event
from sanjiang.kafka.signing import SIGNATURE_HEADER, EventSigner, signer_for
from sanjiang.settings import ConfigError, load_settings
from tests import simulated
from tests.strategies import events
from tests.unit.test_upcasting import V1_EVALUATION

SIGNER = EventSigner(b"0123456789abcdef" * 2)


@dataclass
class Record:
    """What the sink reads of an aiokafka ConsumerRecord."""

    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int = 3
    offset: int = 41


def signed(value: bytes, signer: EventSigner = SIGNER) -> Record:
    return Record(value, signer.headers(value))


@pytest.fixture(scope="module")
def day() -> list[Event]:
    """One simulated day: every kind of event the network emits, as the platform stamps them."""
    emissions = simulated.emissions(date(2026, 11, 16), days=1, seed=5)
    return [e.event.model_copy(update={"received_at": e.emit_at}) for e in emissions]


# -- the signature ----------------------------------------------------------------------------


def test_signature_covers_every_byte_of_the_value() -> None:
    value = b'{"type":"checkin.recorded"}'
    headers = SIGNER.headers(value)
    assert SIGNER.verify(value, headers)
    assert not SIGNER.verify(value + b" ", headers)
    assert not SIGNER.verify(value.replace(b"checkin", b"checkou"), headers)
    assert not SIGNER.verify(value, [])
    assert not SIGNER.verify(value, [("other", headers[0][1])])
    assert not SIGNER.verify(value, headers + headers)  # two signatures: never ours
    assert not EventSigner(b"another key, 32 bytes long......").verify(value, headers)


def test_default_key_is_one_private_file_that_every_process_reads(tmp_path: Path) -> None:
    settings = load_settings(var_dir=tmp_path)
    first, second = signer_for(settings), signer_for(settings)
    assert first.sign(b"x") == second.sign(b"x")
    key_file = tmp_path / "secrets" / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind
    assert "secret" in repr(first) and key_file.read_text().strip() not in repr(first)


def test_configured_key_is_used_and_placeholders_are_refused(tmp_path: Path) -> None:
    key = "8c1f2e9a4b7d03e6f5a1c2d3e4f50617" * 2
    settings = load_settings(var_dir=tmp_path, signing_key=key)
    assert signer_for(settings).sign(b"x") == EventSigner(bytes.fromhex(key)).sign(b"x")
    assert not (tmp_path / "secrets").exists()
    assert load_settings(var_dir=tmp_path, signing_key="").signing_key is None  # empty = unset
    with pytest.raises(ConfigError, match="SANJIANG_SIGNING_KEY"):
        load_settings(signing_key="changeme")
    with pytest.raises(ConfigError, match="SANJIANG_SIGNING_KEY"):
        load_settings(signing_key="00" * 32)


# -- the sink's two paths give one row --------------------------------------------------------


def full_path_row(event: Event) -> bytes:
    """The row as the full path makes it: validate the encoded event again, then build."""
    return orjson.dumps(event_row(decode_event(encode_event(event)), 3, 41))


def test_signed_rows_equal_validated_rows_for_a_simulated_day(day: list[Event]) -> None:
    assert {e.type for e in day} >= {"activity.published", "checkin.recorded", "kiosk.heartbeat"}
    records = [signed(encode_event(e)) for e in day]
    fast = decode_records(records, SIGNER)
    slow = decode_records([Record(r.value) for r in records], SIGNER)
    assert (fast.signed, slow.signed, fast.poison, slow.poison) == (len(day), 0, [], [])
    assert encode_rows(fast.rows) == encode_rows(slow.rows)
    assert encode_batch(fast.rows) == encode_batch(slow.rows)
    assert [orjson.dumps(r) for r in fast.rows] == [full_path_row(e) for e in day]


@settings(max_examples=300, deadline=None)
@given(events())
def test_signed_row_equals_validated_row_for_any_event(event: Event) -> None:
    row, fast = decode_record(signed(encode_event(event)), SIGNER)
    assert fast and not isinstance(row, Poison)
    assert orjson.dumps(row) == full_path_row(event)


def test_a_tampered_value_takes_the_full_path(day: list[Event]) -> None:
    event = next(e for e in day if e.type == "evaluation.submitted")
    record = signed(encode_event(event))
    # Still a valid event once changed: kept, but validated, not trusted.
    record.value = record.value.replace(b'"late":false', b'"late":true')
    row, fast = decode_record(record, SIGNER)
    assert not fast and not isinstance(row, Poison) and row["late"] is True
    # Changed into an invalid event: dead-lettered with the validation's reason.
    record.value = record.value.replace(b'"rating":', b'"rating":9')
    poison, fast = decode_record(record, SIGNER)
    assert not fast and isinstance(poison, Poison) and poison.reason == "invalid"
    assert "rating" in poison.detail


def test_a_signature_from_another_deployment_takes_the_full_path(day: list[Event]) -> None:
    other = EventSigner(b"a key of another deployment 32b.")
    row, fast = decode_record(signed(encode_event(day[0]), other), SIGNER)
    assert not fast and not isinstance(row, Poison)
    assert orjson.dumps(row) == full_path_row(day[0])


def test_signed_garbage_is_still_dead_lettered() -> None:
    for value, reason in [
        (b"not json", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"type":"no.such.event","schema_version":1}', "unknown_type"),
        (b'{"type":"checkin.recorded","schema_version":1}', "invalid"),
    ]:
        poison, fast = decode_record(signed(value), SIGNER)
        assert isinstance(poison, Poison) and (poison.reason, fast) == (reason, False), value


def test_a_signed_old_version_is_still_upcast() -> None:
    row, fast = decode_record(signed(V1_EVALUATION), SIGNER)
    assert not fast and not isinstance(row, Poison)
    assert (row["schema_version"], row["rating"]) == (2, 4)  # score 8 -> 4 stars
    assert orjson.loads(row["payload"]) == {"activity_id": "act-9", "rating": 4, "comment": "很好"}
    assert orjson.dumps(row) == orjson.dumps(event_row(decode_event(V1_EVALUATION), 3, 41))


def test_signature_header_name_is_stable() -> None:
    # Records already in the log carry this name: renaming it sends them all the slow way.
    # (It was sanjiang-hmac-sha256 until the MAC became keyed BLAKE2b, for the live fold.)
    assert SIGNATURE_HEADER == "sanjiang-mac-blake2b"
