"""Time-driven decisions: what is due in a station's state at a moment, as commands to send.

The deciders' worker asks this of the stations it holds every few seconds and sends what is
due as commands from the ``scheduler``, so they are decided like any other (once, in order,
audited):

- an activity under way whose release time (start + its ``release_after_min``) has come, with
  residents on its waitlist: ``activity.release_no_shows`` (with nobody waiting, late-comers
  keep their places);
- a dispatched demand past its due date, not yet marked: ``demand.mark_overdue``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sanjiang.commands.model import Body, MarkOverdue, ReleaseNoShows
from sanjiang.commands.state import StationState


def due_commands(state: StationState, now: datetime) -> list[Body]:
    """The scheduler's commands due in ``state`` at ``now``."""
    due: list[Body] = []
    for activity in state.activities.values():
        if (
            activity.status == "published"
            and not activity.no_shows_released
            and activity.waitlist
            and activity.starts_at is not None
            and activity.ends_at is not None
            and activity.starts_at + timedelta(minutes=activity.release_after_min)
            <= now
            < activity.ends_at
        ):
            due.append(ReleaseNoShows(activity_id=activity.activity_id))
    for demand in state.demands.values():
        dispatch = demand.dispatch
        if (
            demand.status == "dispatched"
            and dispatch is not None
            and not dispatch.overdue
            and dispatch.due_at <= now
        ):
            due.append(MarkOverdue(demand_id=demand.demand_id))
    return due
