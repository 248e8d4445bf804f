"""Compute bytes from this process's memory in a forked child, off the event loop.

The stream worker's checkpoint serializes its whole state (~0.15 s for a day of 320k events),
which held the fold and every live view for as long. Forked, the child sees the state exactly as
it was at the fork (copy-on-write: the parent goes on folding and cannot change what the child
reads), serializes it and sends the bytes back through a pipe; the parent's pause is the fork
itself (page tables only: milliseconds). Redis's background save works the same way.

The child runs nothing but the given function: no event loop, no signal handlers of the
parent's, no ``atexit`` (it leaves with ``os._exit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable

#: bytes read from the pipe at a time
_CHUNK = 1 << 20


class ForkedError(RuntimeError):
    """The child failed, was killed or took too long; nothing it wrote is used."""


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "win32"


def _child(write_fd: int, make: Callable[[], bytes]) -> None:
    """In the child: compute, write everything, leave without running the parent's code."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)  # the parent's event loop's self-pipe is not ours to write
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        gc.disable()  # short-lived: a collection would only touch (and copy) shared pages
        view = memoryview(make())
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0
    finally:
        os._exit(code)


def _read_all(read_fd: int) -> bytes:
    chunks = []
    while chunk := os.read(read_fd, _CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


async def in_child(make: Callable[[], bytes], timeout_s: float) -> bytes:
    """``make()`` computed in a child forked now, from the memory as it is now. Raises
    ``ForkedError`` if the child fails or takes longer than ``timeout_s``; a child not done
    when this returns (timed out, or this was cancelled) is killed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves in _child, never returns here
        os.close(read_fd)
        _child(write_fd, make)
    os.close(write_fd)
    # in a thread: os.read releases the GIL, so the loop (and the fold) goes on meanwhile
    reading = asyncio.ensure_future(asyncio.to_thread(_read_all, read_fd))
    try:
        data = await asyncio.wait_for(asyncio.shield(reading), timeout_s)
    except BaseException as e:  # timed out or cancelled: the child goes
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # its end of the pipe closes: the reader returns
        reading.add_done_callback(lambda _: os.close(read_fd))
        asyncio.get_running_loop().run_in_executor(None, os.waitpid, pid, 0)  # reaped
        if isinstance(e, TimeoutError):
            raise ForkedError(f"the child took longer than {timeout_s} s") from None
        raise
    os.close(read_fd)
    # in a thread too: a child that mapped a large heap takes a moment to leave
    _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise ForkedError(f"the child exited with {code}")
    return data
