"""Sealing a resident's identifier on the kiosk page (``api.kiosk``): only the platform's key
opens it, and only for the action and station it was sealed for; and the open visits that pair a
page's check-outs with its check-ins."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from api.kiosk import (
    SEAL_BITS,
    Sealer,
    SealError,
    Visits,
    load_or_create_sealer,
    seal_label,
)

ACTION = "01939f3c-7a1b-7c2d-8e3f-0123456789ab"
OTHER_ACTION = "01939f3c-7a1b-7c2d-8e3f-0123456789ac"


@pytest.fixture(scope="module")
def sealer(tmp_path_factory: pytest.TempPathFactory) -> Sealer:
    return load_or_create_sealer(tmp_path_factory.mktemp("secrets") / "kiosk_seal.pem")


def page_seal(public: dict[str, str], identifier: str, station: str, action: str) -> str:
    """Seal as the page's WebCrypto does: RSA-OAEP, SHA-256, the action's label, from the
    published SPKI alone."""
    key = serialization.load_der_public_key(base64.b64decode(public["spki"]))
    assert isinstance(key, rsa.RSAPublicKey)
    sealed = key.encrypt(
        identifier.encode(),
        padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()),
            algorithm=hashes.SHA256(),
            label=seal_label(station, action),
        ),
    )
    return public["kid"] + "." + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def test_what_the_page_seals_opens_for_its_action_only(sealer: Sealer) -> None:
    public = sealer.public()
    assert public["alg"] == "RSA-OAEP-256"
    sealed = page_seal(public, "31010019450101", "WS-G1", ACTION)
    assert "31010019450101" not in sealed
    assert sealer.open(sealed, "WS-G1", ACTION) == "31010019450101"
    with pytest.raises(SealError):
        sealer.open(sealed, "WS-G1", OTHER_ACTION)  # copied onto another action
    with pytest.raises(SealError):
        sealer.open(sealed, "WS-G2", ACTION)  # or to another station
    kid, _, body = sealed.partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SealError):
        sealer.open(f"{kid}.{flipped}", "WS-G1", ACTION)  # tampered
    with pytest.raises(SealError):
        sealer.open("0" * 16 + "." + body, "WS-G1", ACTION)  # another key's


def test_sealing_is_randomized(sealer: Sealer) -> None:
    """Two seals of one card differ: the sealed texts in an outbox cannot be linked."""
    assert sealer.seal("12345678", "WS-G1", ACTION) != sealer.seal("12345678", "WS-G1", ACTION)


def test_the_key_is_made_once_private_kept_and_its_own(sealer: Sealer, tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "kiosk_seal.pem"
    first = load_or_create_sealer(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_sealer(path)
    assert again.kid == first.kid
    assert first.open(again.seal("x1234", "S", ACTION), "S", ACTION) == "x1234"
    with pytest.raises(SealError):  # another deployment's key opens nothing of this one's
        sealer.open(first.seal("x1234", "S", ACTION), "S", ACTION)


def test_a_weak_key_is_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "weak.pem"
    path.write_bytes(
        weak.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match=str(SEAL_BITS)):
        load_or_create_sealer(path)


def test_a_check_out_closes_the_latest_open_visit_once(tmp_path: Path) -> None:
    visits = Visits(tmp_path / "visits.db")
    visits.opened("WS-G1", "a" * 32, "kv-1", "V1")
    visits.opened("WS-G1", "a" * 32, "kv-2", "V2")
    visits.opened("WS-G1", "a" * 32, "kv-2", "V2")  # a check-in sent again
    visits.opened("WS-G2", "a" * 32, "kv-3", "V3")
    closed = visits.close("WS-G1", "a" * 32, "out-1")
    assert closed is not None and (closed.visit_id, closed.venue_id) == ("kv-2", "V2")
    again = visits.close("WS-G1", "a" * 32, "out-1")  # the same check-out, sent again
    assert again == closed
    second = visits.close("WS-G1", "a" * 32, "out-2")
    assert second is not None and second.visit_id == "kv-1"
    assert visits.close("WS-G1", "a" * 32, "out-3") is None  # nothing left open here
    assert visits.close("WS-G1", "b" * 32, "out-4") is None  # nor for anyone else
    visits.reopen("out-2")  # its check-out was not stored after all
    reopened = visits.close("WS-G1", "a" * 32, "out-5")
    assert reopened is not None and reopened.visit_id == "kv-1"
