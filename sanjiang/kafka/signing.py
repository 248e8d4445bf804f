"""A deployment-keyed signature on the events the platform itself validated.

Every event reaches Kafka through :class:`~sanjiang.kafka.publisher.EventPublisher`, and only
after the platform built it as a validated event model (the HTTP ingest and the kiosk transport
validate and stamp ``received_at``; the console builds events from typed payloads). The
publisher adds a Kafka header ``sanjiang-mac-blake2b`` holding a keyed BLAKE2b-256 MAC over the
record's value bytes under the deployment's signing key. Keyed BLAKE2b is a MAC by design (no
HMAC construction needed) and costs less than half of HMAC-SHA256 here (0.7 against 1.7 µs for
a 400-byte event), which matters: the live fold verifies every record it reads.

Why: re-validating every record with pydantic was the warehouse sink's and the live fold's
largest cost. A record whose signature verifies is bytes that this platform encoded from a
valid event, unchanged since — so the sink may build its row from the JSON directly, and the
fold its ``Fact``. Nothing *inside* the value decides this (a producer could write any
``source`` or ``received_at``); only the key does, and the MAC covers every byte of the value.
Records without the header, with a wrong one, or with two of them take the full path: parse,
upcast, validate, and dead-letter if invalid.

What the signature does not cover: which code version validated the event. An event signed at an
older schema version is still upcast on read (the sink checks the version before trusting), and
a stricter model without a version bump would not re-check signed history — bump the version.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from sanjiang.keyfile import load_or_create_key
from sanjiang.settings import Settings

SIGNATURE_HEADER = "sanjiang-mac-blake2b"
_MAX_KEY = 64  #: BLAKE2b's key size; longer keys are hashed down to it, as HMAC does
KEY_FILE = "signing.key"


class EventSigner:
    """Signs and verifies record values under one deployment key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        key = key if len(key) <= _MAX_KEY else hashlib.blake2b(key).digest()
        # keyed once: a copy of this state skips the key block (and the keyword parsing)
        self._keyed = hashlib.blake2b(key=key, digest_size=32)

    def sign(self, value: bytes) -> bytes:
        """The keyed BLAKE2b MAC of ``value`` (32 bytes)."""
        mac = self._keyed.copy()
        mac.update(value)
        return mac.digest()

    def headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """The Kafka headers that vouch for ``value``."""
        return [(SIGNATURE_HEADER, self.sign(value))]

    def verify(self, value: bytes, headers: Sequence[tuple[str, bytes]]) -> bool:
        """True if ``headers`` hold exactly one signature header and it matches ``value``."""
        if len(headers) == 1:  # what the platform writes: no loop
            name, only = headers[0]
            return name == SIGNATURE_HEADER and hmac.compare_digest(only, self.sign(value))
        signature: bytes | None = None
        for name, data in headers:
            if name == SIGNATURE_HEADER:
                if signature is not None:
                    return False  # two signatures: not something this platform writes
                signature = data
        return signature is not None and hmac.compare_digest(signature, self.sign(value))

    def __repr__(self) -> str:  # never print the key
        return "EventSigner(<secret>)"


def signer_for(settings: Settings) -> EventSigner:
    """The deployment's signer: the configured key, else the key file under var/."""
    if settings.signing_key is not None:
        return EventSigner(bytes.fromhex(settings.signing_key.get_secret_value().strip()))
    return EventSigner(load_or_create_key(settings.secrets_dir / KEY_FILE))
