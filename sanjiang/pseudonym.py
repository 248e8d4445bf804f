"""Keyed pseudonyms for residents: HMAC-SHA256 of the resident's identifier with a secret key.

Raw identifiers (card numbers, phone numbers) never leave the kiosk: only the pseudonym does.
The same key gives the same pseudonym, so a resident's visits link up without naming them;
without the key the pseudonym cannot be reversed or recomputed from a guessed identifier.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from sanjiang.keyfile import load_or_create_key
from sanjiang.settings import Settings


class Pseudonymizer:
    """Maps resident identifiers to 32-hex-digit pseudonyms under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key

    def __call__(self, resident_id: str) -> str:
        normalized = unicodedata.normalize("NFKC", resident_id).strip().upper()
        if not normalized:
            raise ValueError("empty resident identifier")
        digest = hmac.new(self._key, normalized.encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    def __repr__(self) -> str:  # never print the key
        return "Pseudonymizer(<secret>)"


def pseudonymizer_for(settings: Settings) -> Pseudonymizer:
    """The deployment's pseudonymizer: the configured key, else the key file under var/."""
    if settings.pseudonym_key is not None:
        return Pseudonymizer(bytes.fromhex(settings.pseudonym_key.get_secret_value().strip()))
    return Pseudonymizer(load_or_create_key(settings.secrets_dir / "pseudonym.key"))
