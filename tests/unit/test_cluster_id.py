"""KRaft cluster ids for the local broker: never read as a command-line option."""

from __future__ import annotations

import base64
import uuid

import pytest

from sanjiang.kafka.broker import new_cluster_id


def test_ids_are_22_url_safe_characters_and_unique() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_an_id_starting_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8 in the first byte encodes to "-" first: CI once failed formatting with such an id
    draws = iter([uuid.UUID(bytes=b"\xf8" + b"\x00" * 15), uuid.UUID(int=7)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    assert base64.urlsafe_b64encode(b"\xf8" + b"\x00" * 15).startswith(b"-")
    assert (
        new_cluster_id() == base64.urlsafe_b64encode(uuid.UUID(int=7).bytes).rstrip(b"=").decode()
    )
