"""Deployment secrets kept in key files under ``<var_dir>/secrets`` when not configured.

Several processes of one deployment (API, sink, stream worker, simulator) may start at the same
moment and all need the same key, so creation is atomic: the key is written to a private
temporary file and hard-linked into place, which fails if another process got there first — the
loser then reads the winner's key. A reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

KEY_BYTES = 32
MIN_KEY_BYTES = 16


def load_or_create_key(path: Path) -> bytes:
    """Read the deployment's key file, creating a random one (mode 0600) on first use."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            with contextlib.suppress(FileExistsError):  # another process was first: use its key
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: key too short")
    return key
