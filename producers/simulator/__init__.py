"""Deterministic simulator of the Wusong station network: pure event generation, no I/O.

``simulate`` yields the emissions (event + when it is handed to the platform) that the kiosks
and staff consoles of the network would produce over some days: the service loop (demands,
registrations, check-ins, evaluations), the management loop (activity design, publishing,
changes), venue bookings and kiosk heartbeats, with kiosk outages (late uploads) and
duplicate deliveries. Same arguments, same events.

Modules: ``config`` (the figures), ``population`` (residents, groups, haunts), ``rhythms``
(daily and weekly curves), ``clock`` (local time, opening hours), ``programs`` (the service
programs), ``activities`` (staff: the management loop), ``participation`` (registrations,
attendance, evaluations), ``visits`` (drop-ins), ``bookings``, ``demands``, ``reservations``
(who holds a venue), ``kiosks`` / ``heartbeats`` / ``emitter`` (devices and delivery),
``world`` (run state and agenda), ``draws`` (random draws), ``engine`` (the stream).
"""

from producers.simulator.config import SimulationConfig
from producers.simulator.emitter import Emission
from producers.simulator.engine import simulate
from producers.simulator.kiosks import kiosks

__all__ = ["Emission", "SimulationConfig", "kiosks", "simulate"]
