"""Keyed pseudonyms for residents: HMAC-SHA256 of the resident's identifier with a secret key.

Raw identifiers (card numbers, phone numbers) never leave the kiosk: only the pseudonym does.
The same key gives the same pseudonym, so a resident's visits link up without naming them;
without the key the pseudonym cannot be reversed or recomputed from a guessed identifier.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from pathlib import Path

from sanjiang.settings import Settings

KEY_BYTES = 32


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


def load_or_create_key(path: Path) -> bytes:
    """Read the deployment's key file, creating a random one (mode 0600) on first use."""
    if path.is_file():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 16:
            raise ValueError(f"{path}: key too short")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def pseudonymizer_for(settings: Settings) -> Pseudonymizer:
    """The deployment's pseudonymizer: the configured key, else the key file under var/."""
    if settings.pseudonym_key is not None:
        return Pseudonymizer(bytes.fromhex(settings.pseudonym_key.get_secret_value().strip()))
    return Pseudonymizer(load_or_create_key(settings.secrets_dir / "pseudonym.key"))
