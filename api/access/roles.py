"""Roles, grants and station scopes: what each kind of caller may do, decided without I/O.

Staff roles (a user has one):

- ``viewer``: reads live views, KPIs and history of the stations in scope.
- ``operator``: as viewer; runs the loops at the stations assigned to them (commands).
- ``manager``: as operator; also approves bookings, closes venues, dispatches and answers
  demands for their stations.
- ``analyst``: reads everything and runs analyst SQL (the whole network).
- ``admin``: manages users and devices; reads everything (the whole network); no SQL.

Which command each role may send is ``sanjiang.commands.access``.

Device keys: a ``kiosk`` only sends residents' actions (facts, and commands such as a
registration) and heartbeats for its station; a
``console`` also staff decisions, and reads its own station; an ``analyst`` key reads the whole
network and runs analyst SQL.

A scope is a set of station ids, or ``None`` for the whole network. Network-wide views (the
network's counters, rankings, reconciliation) need the whole network; a station's views need
that station.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args

Role = Literal["viewer", "operator", "manager", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
CallerKind = Literal["staff", "kiosk", "console", "analyst"]


class Grant(StrEnum):
    """A capability a route requires."""

    READ = "read"  # live views, SSE, KPIs, history, reconcile
    SQL = "sql"  # POST /v1/sql
    INGEST = "ingest"  # POST /v1/events (devices only)
    COMMAND = "command"  # POST /v1/commands (what each may ask: sanjiang.commands.access)
    ADMIN = "admin"  # users and devices


ROLE_GRANTS: dict[Role, frozenset[Grant]] = {
    "viewer": frozenset({Grant.READ}),
    "operator": frozenset({Grant.READ, Grant.COMMAND}),
    "manager": frozenset({Grant.READ, Grant.COMMAND}),
    "analyst": frozenset({Grant.READ, Grant.SQL}),
    "admin": frozenset({Grant.READ, Grant.ADMIN, Grant.COMMAND}),
}
DEVICE_GRANTS: dict[CallerKind, frozenset[Grant]] = {
    "kiosk": frozenset({Grant.INGEST, Grant.COMMAND}),
    "console": frozenset({Grant.INGEST, Grant.READ}),
    "analyst": frozenset({Grant.READ, Grant.SQL}),
}
#: Roles that always see the whole network (a station list makes no sense for them).
NETWORK_ROLES: frozenset[Role] = frozenset({"analyst", "admin"})


def role_scope(role: Role, stations: Iterable[str] | None) -> frozenset[str] | None:
    """The scope a user of this role with these stations has (None: the whole network)."""
    if role in NETWORK_ROLES or stations is None:
        return None
    return frozenset(stations)


@dataclass(frozen=True)
class Caller:
    """Who is asking: a staff user (by token or session) or a device (by key)."""

    kind: CallerKind
    name: str  #: username or device id
    grants: frozenset[Grant]
    scope: frozenset[str] | None  #: stations, or None for the whole network
    role: Role | None = None  #: staff only
    station_id: str | None = None  #: devices only: the station the key belongs to
    via: Literal["token", "session", "key"] = "key"

    @classmethod
    def staff(
        cls,
        name: str,
        role: Role,
        stations: Iterable[str] | None,
        via: Literal["token", "session"],
    ) -> Caller:
        return cls("staff", name, ROLE_GRANTS[role], role_scope(role, stations), role, None, via)

    @classmethod
    def device(cls, kind: CallerKind, device_id: str, station_id: str) -> Caller:
        scope = None if kind == "analyst" else frozenset({station_id})
        return cls(kind, device_id, DEVICE_GRANTS[kind], scope, None, station_id, "key")

    def can(self, grant: Grant) -> bool:
        return grant in self.grants

    @property
    def sees_network(self) -> bool:
        return self.scope is None

    def sees(self, station_id: str) -> bool:
        return self.scope is None or station_id in self.scope

    def describe(self) -> str:
        """For audit logs and error messages: ``staff alice (manager)`` or ``kiosk WS-R03-K1``."""
        return (
            f"staff {self.name} ({self.role})"
            if self.kind == "staff"
            else f"{self.kind} {self.name}"
        )
