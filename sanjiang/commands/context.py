"""What a decision is made with besides the state: the network, the taxonomy, the command, and
the one way decided events are built (ids derived from the command's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sanjiang.commands.decision import Reason, Rejected
from sanjiang.commands.model import Command
from sanjiang.commands.state import StationState
from sanjiang.events import Event, event_class_for
from sanjiang.events import payloads as p
from sanjiang.ids import uuid7_derived
from sanjiang.network import Network, Venue, load_network
from sanjiang.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True, slots=True)
class Reference:
    """Reference data the deciders read: the station network and the service taxonomy."""

    network: Network
    taxonomy: Taxonomy

    @classmethod
    def load(cls, network_file: Path | None = None) -> Reference:
        """The network (the packaged sample unless ``network_file``) and the taxonomy."""
        return cls(load_network(network_file), load_taxonomy())


@dataclass(slots=True)
class Decide:
    """One decision in the making: the command, the station's state (read only), reference
    data, and the events decided so far."""

    command: Command
    state: StationState
    ref: Reference
    events: list[Event] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        """The platform's time of the command: decisions never read the wall clock."""
        return self.command.issued_at

    def emit(self, payload: p.Payload, resident: str | None = None) -> Event:
        """Build the next event of this decision: its id derived from the command's."""
        cls = event_class_for(payload)
        command = self.command
        event = cls(
            event_id=uuid7_derived(command.command_id, len(self.events)),
            type=cls.TYPE,
            schema_version=cls.VERSION,
            occurred_at=command.issued_at,
            received_at=command.issued_at,
            station_id=command.station_id,
            source=command.source,
            resident=resident,
            payload=payload,
        )
        self.events.append(event)
        return event

    def venue(self, venue_id: str) -> Venue:
        """A venue of this station, or ``venue_unknown``."""
        network = self.ref.network
        if network.venue_station.get(venue_id) != self.state.station_id:
            raise Rejected(
                Reason.VENUE_UNKNOWN,
                f"venue {venue_id} is not a venue of station {self.state.station_id}",
                cause=venue_id,
            )
        return network.venues[venue_id]

    def expect_version(self, current: int) -> None:
        """Refuse when the asker saw another version than the current one."""
        expected = self.command.expected_version
        if expected is not None and expected != current:
            raise Rejected(
                Reason.VERSION_CONFLICT,
                f"it changed since you read it: version {current}, you expected {expected}",
                version=current,
            )
