"""What the kiosk page needs of the API besides routes: the sealing key pair, and the open visits
its check-outs close.

**Sealing.** The page never holds the deployment's pseudonym key. It seals a resident's
identifier (card or QR number) as soon as it is typed, with the platform's RSA-OAEP (SHA-256,
3072-bit) public key, through WebCrypto, and keeps only the sealed text in its outbox. The OAEP
label binds the sealed text to the action it was made for (``sanjiang-kiosk-v1|<station>|<action
id>``), so a sealed identifier copied out of a kiosk's storage opens for no other action and no
other station (and its own action is deduplicated by id). Only the API holds the private key
(``<var>/secrets/kiosk_seal.pem``, mode 0600, made on first use like the other keys): it opens
the identifier, turns it into the resident's pseudonym and drops it; the identifier is never
logged, stored or sent on.

**Visits.** A check-out names the visit its check-in opened. The page cannot pair them itself
without keeping something derived from the card number, so the API does: a check-in accepted
from the page opens a visit for (station, pseudonym); the resident's next check-out at that
station closes the latest one. Open visits are kept in ``<var>/kiosk_visits.db`` (pseudonyms
only, as Kafka has them) for a day.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sanjiang.settings import Settings

SEAL_ALG = "RSA-OAEP-256"
SEAL_BITS = 3072
LABEL_PREFIX = "sanjiang-kiosk-v1"
#: the longest identifier a kiosk may seal (characters)
MAX_IDENTIFIER = 64
#: how long an open visit waits for its check-out
VISIT_TTL_S = 24 * 3600


class SealError(ValueError):
    """A sealed identifier that does not open (other key, other action, tampered)."""


def seal_label(station_id: str, action_id: str) -> bytes:
    """The OAEP label that binds a sealed identifier to one action of one station."""
    return f"{LABEL_PREFIX}|{station_id}|{action_id}".encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """The platform's side of sealing: publishes the public key, opens sealed identifiers."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._key = private_key
        self.spki = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        #: which key sealed a text (the first 16 hex digits of the public key's SHA-256)
        self.kid = hashlib.sha256(self.spki).hexdigest()[:16]

    def public(self) -> dict[str, str]:
        """What the page needs to seal: algorithm, key id, SPKI in base64."""
        return {
            "alg": SEAL_ALG,
            "kid": self.kid,
            "spki": base64.b64encode(self.spki).decode(),
            "label": f"{LABEL_PREFIX}|<station>|<action id>",
        }

    def seal(self, identifier: str, station_id: str, action_id: str) -> str:
        """Seal as the page does (for tests and SDKs): ``<kid>.<base64url ciphertext>``."""
        ciphertext = self._key.public_key().encrypt(
            identifier.encode(), _oaep(seal_label(station_id, action_id))
        )
        return f"{self.kid}.{_b64url(ciphertext)}"

    def open(self, sealed: str, station_id: str, action_id: str) -> str:
        """The identifier sealed for this action of this station; ``SealError`` otherwise."""
        kid, _, body = sealed.partition(".")
        if kid != self.kid:
            raise SealError("sealed with another key: reload the kiosk page")
        try:
            plain = self._key.decrypt(_unb64url(body), _oaep(seal_label(station_id, action_id)))
            identifier = plain.decode()
        except (ValueError, UnicodeDecodeError):
            raise SealError("the sealed identifier does not open for this action") from None
        identifier = identifier.strip()
        if not identifier or len(identifier) > MAX_IDENTIFIER:
            raise SealError(f"an identifier is 1-{MAX_IDENTIFIER} characters")
        return identifier


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label
    )


def seal_key_path(settings: Settings) -> Path:
    return settings.secrets_dir / "kiosk_seal.pem"


def load_or_create_sealer(path: Path) -> Sealer:
    """The deployment's sealing key (PKCS#8 PEM), made on first use: written to a private
    temporary file and hard-linked into place, so processes starting together agree on one."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=SEAL_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            with contextlib.suppress(FileExistsError):  # another process was first: use its
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < SEAL_BITS:
        raise ValueError(f"{path}: not an RSA key of {SEAL_BITS} bits or more")
    return Sealer(loaded)


@dataclass(frozen=True)
class OpenVisit:
    visit_id: str
    venue_id: str


class Visits:
    """Open visits of residents checked in from a kiosk page, by (station, pseudonym). A
    check-out sent again (its answer was lost) finds the visit it closed, so it is answered as
    the duplicate it is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(self._connect()) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS visits (station_id TEXT NOT NULL,"
                " resident TEXT NOT NULL, visit_id TEXT NOT NULL PRIMARY KEY,"
                " venue_id TEXT NOT NULL, opened_at REAL NOT NULL, closed_by TEXT)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS by_resident ON visits (station_id, resident)")
            db.execute("CREATE INDEX IF NOT EXISTS by_checkout ON visits (closed_by)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def opened(self, station_id: str, resident: str, visit_id: str, venue_id: str) -> None:
        """A check-in opened ``visit_id`` (again: nothing changes)."""
        now = time.time()
        with contextlib.closing(self._connect()) as db:
            db.execute("DELETE FROM visits WHERE opened_at < ?", (now - VISIT_TTL_S,))
            db.execute(
                "INSERT OR IGNORE INTO visits VALUES (?, ?, ?, ?, ?, NULL)",
                (station_id, resident, visit_id, venue_id, now),
            )

    def close(self, station_id: str, resident: str, checkout_id: str) -> OpenVisit | None:
        """The visit check-out ``checkout_id`` closes: the one it closed already, else the
        resident's latest open visit at the station (None if there is none)."""
        with contextlib.closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = (
                    db.execute(
                        "SELECT visit_id, venue_id FROM visits WHERE closed_by = ?", (checkout_id,)
                    ).fetchone()
                    or db.execute(
                        "SELECT visit_id, venue_id FROM visits"
                        " WHERE station_id = ? AND resident = ? AND closed_by IS NULL"
                        " AND opened_at >= ? ORDER BY opened_at DESC LIMIT 1",
                        (station_id, resident, time.time() - VISIT_TTL_S),
                    ).fetchone()
                )
                if row is not None:
                    db.execute(
                        "UPDATE visits SET closed_by = ? WHERE visit_id = ?", (checkout_id, row[0])
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return None if row is None else OpenVisit(row[0], row[1])

    def reopen(self, checkout_id: str) -> None:
        """The check-out was not stored after all: its visit is open again."""
        with contextlib.closing(self._connect()) as db:
            db.execute("UPDATE visits SET closed_by = NULL WHERE closed_by = ?", (checkout_id,))


def visits_path(settings: Settings) -> Path:
    return settings.var_dir / "kiosk_visits.db"
