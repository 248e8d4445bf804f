"""Free local ports for processes a test, benchmark or tool starts on 127.0.0.1."""

from __future__ import annotations

import random
import socket


def free_port() -> int:
    """A free port below the ephemeral range, so no client socket can be handed it meanwhile."""
    while True:
        port = random.randint(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
