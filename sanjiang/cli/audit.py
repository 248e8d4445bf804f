"""The command line's audit: ``sanjiang user`` and ``sanjiang kiosk`` write a ``user.changed`` or
``device_key.changed`` event (built by ``api.access.audit``) for every change they make, through
the project's one producer (``EventPublisher``: signed, ``acks=all``), as the API writes its own.
The actor is ``cli:<OS user>``, with no role (whoever runs the command line on the deployment's
host holds its secrets); ``--reason`` adds why.

When Kafka cannot be reached (not started, no topics yet, credentials refused):

- **a change that gives access** — an account created or enabled, a password set, a key issued —
  is not made: the command says so, in Chinese and English, and exits 1 (no access may be given
  that the audit trail does not show). Such a change and its event go together: the command
  first connects and finds the event topic (``CONNECT_TIMEOUT_S``), then makes the change in a
  transaction of the accounts' (or keys') database that is committed only once Kafka
  acknowledged the event, and rolled back if it did not within ``SEND_TIMEOUT_S`` (so the
  database is locked for the change and the send only). A send that timed out may, rarely,
  still have reached the broker: the event then tells of a change that was rolled back, which
  the message says is possible.
- **a change that takes access away** — an account disabled, a key revoked — is made at once,
  Kafka or not: refusing to lock out a stolen key because the log is down would be worse. If its
  event cannot be written the command says so in a warning and exits 0 (the change asked for was
  made); the warning names what to record by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import NoReturn

from pydantic import ValidationError

from api.access.audit import cli_actor, network_station
from sanjiang.cli.common import console, fail
from sanjiang.events import Event
from sanjiang.kafka.publisher import EventPublisher
from sanjiang.network import load_network
from sanjiang.settings import Settings

#: How long the command line tries to reach Kafka and find the event topic.
CONNECT_TIMEOUT_S = 10.0
#: How long it waits for Kafka to acknowledge an audit event (the producer's request timeout).
SEND_TIMEOUT_S = 5.0
#: Longest ``--reason`` (the payloads' ``Note``).
MAX_REASON = 500


class AuditUnavailableError(Exception):
    """The audit event could not be written; the message says why."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "Kafka did not answer in time"
    return str(exc) or type(exc).__name__


class CliAudit:
    """Writes the command line's audit events (one short-lived producer per command)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.actor = cli_actor()
        #: the station of acts on staff accounts (``api.access.audit``: the flagship center)
        self.center = network_station(load_network(settings.network_file))
        self._runner = asyncio.Runner()
        self._publisher: EventPublisher | None = None

    def __enter__(self) -> CliAudit:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> str | None:
        """Connect to Kafka and find the event topic: None once ready, else why it cannot."""
        if self._publisher is not None:
            return None
        try:
            self._publisher = self._runner.run(self._open())
        except Exception as exc:
            return _why(exc)
        return None

    def write(self, event: Event) -> None:
        """Write ``event`` and wait for Kafka's acknowledgement (``AuditUnavailableError``)."""
        problem = self.connect()
        if problem is not None:
            raise AuditUnavailableError(problem)
        assert self._publisher is not None
        try:
            self._runner.run(asyncio.wait_for(self._publisher.publish(event), 2 * SEND_TIMEOUT_S))
        except Exception as exc:
            raise AuditUnavailableError(_why(exc)) from exc

    def close(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                self._runner.run(asyncio.wait_for(self._publisher.stop(), SEND_TIMEOUT_S))
            self._publisher = None
        self._runner.close()

    async def _open(self) -> EventPublisher:
        """A started publisher that knows the event topic (its producer is made in the loop)."""
        publisher = EventPublisher(self.settings, request_timeout_ms=int(SEND_TIMEOUT_S * 1000))
        try:
            await asyncio.wait_for(self._ready(publisher), CONNECT_TIMEOUT_S)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(publisher.stop(), SEND_TIMEOUT_S)
            raise
        return publisher

    @staticmethod
    async def _ready(publisher: EventPublisher) -> None:
        await publisher.start()
        await publisher.ready()


def open_audit(settings: Settings) -> CliAudit:
    """The audit writer of one command (tests replace it)."""
    return CliAudit(settings)


def reason_of(reason: str | None) -> str:
    """A ``--reason`` as the audit keeps it (stripped, bounded)."""
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        fail(f"--reason has at most {MAX_REASON} characters")
    return text


def granting(
    audit: CliAudit,
    transaction: AbstractContextManager[object],
    change: Callable[[], Event],
) -> Event:
    """Make a change that gives access, together with its audit event or not at all:
    ``change`` makes it inside ``transaction`` and returns its event, which Kafka must
    acknowledge before the transaction commits. Exits 1 (nothing changed) if it cannot."""
    problem = audit.connect()
    if problem is not None:
        _refuse(problem)
    try:
        with transaction:
            event = change()
            audit.write(event)
    except AuditUnavailableError as exc:
        _refuse(str(exc), sent=True)
    return event


def taking_away(audit: CliAudit, change: Callable[[], Event], done: str) -> bool:
    """Make a change that takes access away at once (``change`` makes it and returns its event),
    then write its audit event; if that fails, warn (the change stands). True if written."""
    try:
        event = change()
    except ValidationError as exc:  # made, but no event can tell it (an id from before ids
        _unwritten(done, f"no event can name it: {exc.errors()[0]['msg']}")  # were checked)
        return False
    try:
        audit.write(event)
    except AuditUnavailableError as exc:
        _unwritten(
            done,
            f"{exc}; record it by hand: {event.type} {event.event_id}, by {audit.actor} at "
            f"{event.occurred_at.isoformat()}",
        )
        return False
    return True


def _unwritten(done: str, why: str) -> None:
    console.print(
        "[yellow]warning:[/yellow] 更改已完成，但审计事件未能写入 Kafka，请另行记录。\n"
        f"{done}, but its audit event could not be written to Kafka ({why}); the change stands."
    )


def _refuse(problem: str, sent: bool = False) -> NoReturn:
    maybe = (
        " (a send that timed out may still reach the broker: then the trail shows a change "
        "that was not made)"
        if sent
        else ""
    )
    fail(
        "审计事件无法写入 Kafka，未作任何更改。\n"
        f"The audit event could not be written to Kafka ({problem}), so nothing was changed"
        f"{maybe}. Start the platform (`sanjiang up`, or `sanjiang kafka start` and "
        "`sanjiang topics ensure`) and try again."
    )
