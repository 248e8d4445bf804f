"""Tunable figures of the network simulator, with the defaults it ships with.

The defaults give about 5,800 events a day over the 39-station sample network (about 150 per
station; from about 4,500 on the first day of a run to about 8,000 on Saturdays), plus about
5,500 kiosk heartbeats; see the module docstrings of ``population``, ``visits``,
``activities``, ``participation``, ``bookings``, ``demands`` and ``kiosks`` for the figures
each one uses.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SimulationConfig:
    """What the simulated network looks like and how unreliable its kiosks are.

    Rates named ``*_rate`` are probabilities (0..1); ``*_per_day`` are Poisson means.
    """

    #: Share of each residential station's population that uses the stations at all.
    active_share: float = 0.07
    #: Multiplier on every group's daily drop-in visit rate (see ``visits``).
    dropin_scale: float = 1.0
    #: Activities held per day, per station kind (Poisson means).
    center_activities_per_day: float = 10.0
    grid_activities_per_day: float = 3.0
    residential_activities_per_day: float = 1.3
    partner_activities_per_day: float = 0.7
    #: Multiplier on the booking-request rates of bookable venues (see ``bookings``).
    booking_scale: float = 1.0
    #: Registrants who come to the activity (scaled per group, see ``activities``).
    show_up_rate: float = 0.85
    #: Registrations cancelled by the resident before the activity.
    registration_cancel_rate: float = 0.07
    #: Published activities later changed (time or capacity) / cancelled by staff.
    activity_update_rate: float = 0.08
    activity_cancel_rate: float = 0.03
    #: Visitors who check out (the others forget).
    checkout_rate: float = 0.87
    #: Attendees who rate the activity, and evaluations later revised by the same resident.
    evaluation_rate: float = 0.5
    evaluation_revision_rate: float = 0.06
    #: Confirmed bookings cancelled by the resident / not used (no-show).
    booking_cancel_rate: float = 0.1
    booking_no_show_rate: float = 0.08
    #: Per drop-in visit: the visitor submits a demand / votes on one at the kiosk.
    demand_submit_rate: float = 0.09
    demand_vote_rate: float = 0.22
    #: Share of kiosk emissions sent a second time with the same event_id.
    duplicate_rate: float = 0.005
    #: Probability that a kiosk goes offline (once) on a given day, and how long for.
    outage_rate_per_kiosk_day: float = 0.03
    outage_min_minutes: int = 30
    outage_max_minutes: int = 300
    #: Kiosk heartbeat period, seconds.
    heartbeat_interval_s: int = 300

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") or f.name == "active_share":
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{f.name} must be within 0..1, got {value}")
            elif value < 0:
                raise ValueError(f"{f.name} must not be negative, got {value}")
        if not 0 < self.outage_min_minutes <= self.outage_max_minutes:
            raise ValueError("need 0 < outage_min_minutes <= outage_max_minutes")
        if self.heartbeat_interval_s < 10:
            raise ValueError("heartbeat_interval_s must be at least 10")
