"""Activities and their registrations: design (one or a weekly series), update, publish,
cancel; register with a waitlist, cancel a registration (the first waiting gets the place),
and release the places of no-shows at start + N minutes."""

from __future__ import annotations

from datetime import timedelta

from sanjiang.commands.context import Decide
from sanjiang.commands.decision import Accepted, Reason, Rejected
from sanjiang.commands.model import (
    CancelActivity,
    CancelRegistration,
    DesignActivity,
    DesignSeries,
    PublishActivity,
    Register,
    ReleaseNoShows,
    UpdateActivity,
)
from sanjiang.commands.state import Activity
from sanjiang.commands.venues import check_capacity, check_free, check_future, check_open
from sanjiang.events import payloads as p


def _activity(d: Decide, activity_id: str) -> Activity:
    activity = d.state.activities.get(activity_id)
    if activity is None:
        raise Rejected(
            Reason.NOT_FOUND,
            f"no activity {activity_id} at station {d.state.station_id}",
            cause=activity_id,
        )
    return activity


def _changeable(d: Decide, activity: Activity) -> None:
    if activity.status == "cancelled":
        raise Rejected(
            Reason.ACTIVITY_CANCELLED,
            f"activity {activity.activity_id} was cancelled",
            cause=activity.activity_id,
        )
    if activity.starts_at is not None and activity.starts_at <= d.now:
        raise Rejected(
            Reason.ACTIVITY_STARTED,
            f"activity {activity.activity_id} started at {activity.starts_at.isoformat()}",
            cause=activity.activity_id,
        )


def _check_categories(d: Decide, c: DesignActivity) -> None:
    if not d.ref.taxonomy.is_known(c.category, c.program):
        raise Rejected(
            Reason.UNKNOWN_CATEGORY,
            f"program {c.program!r} is not a program of category {c.category!r}",
        )


def _designed(d: Decide, c: DesignActivity, activity_id: str, week: int) -> p.ActivityDesigned:
    """One session's draft, checked: a new id, a venue of the station, open and big enough."""
    shift = timedelta(weeks=week)
    starts_at, ends_at = c.starts_at + shift, c.ends_at + shift
    if activity_id in d.state.activities:
        raise Rejected(Reason.DUPLICATE_ID, f"activity {activity_id} exists", cause=activity_id)
    venue = d.venue(c.venue_id)
    check_future(d, starts_at)
    check_capacity(venue, c.capacity)
    check_open(d, venue, starts_at, ends_at)
    return p.ActivityDesigned(
        activity_id=activity_id,
        title=c.title,
        category=c.category,
        program=c.program,
        target_groups=c.target_groups,
        planned_capacity=c.capacity,
        demand_ids=c.demand_ids,
        venue_id=venue.id,
        starts_at=starts_at,
        ends_at=ends_at,
        series_id=c.activity_id if isinstance(c, DesignSeries) else None,
        release_after_min=c.release_after_min,
        registration_required=c.registration_required,
    )


def design(d: Decide, c: DesignActivity) -> Accepted:
    _check_categories(d, c)
    d.emit(_designed(d, c, c.activity_id, 0))
    return Accepted(tuple(d.events), version=1)


def design_series(d: Decide, c: DesignSeries) -> Accepted:
    """Every session or none: a week that cannot be held names itself in the rejection."""
    _check_categories(d, c)
    drafts = []
    for week in range(c.weeks):
        try:
            drafts.append(_designed(d, c, f"{c.activity_id}-w{week + 1}", week))
        except Rejected as rejected:
            raise Rejected(
                rejected.reason, f"week {week + 1}: {rejected.detail}", rejected.cause
            ) from None
    for draft in drafts:
        d.emit(draft)
    return Accepted(tuple(d.events), version=1)


def update(d: Decide, c: UpdateActivity) -> Accepted:
    activity = _activity(d, c.activity_id)
    d.expect_version(activity.version)
    _changeable(d, activity)
    venue_id = c.venue_id or activity.venue_id
    starts_at = c.starts_at or activity.starts_at
    ends_at = c.ends_at or activity.ends_at
    capacity = c.capacity or activity.capacity
    if c.capacity is not None and c.capacity < len(activity.registered):
        raise Rejected(
            Reason.CAPACITY_BELOW_REGISTERED,
            f"{len(activity.registered)} residents hold a place; capacity {c.capacity} is less",
            cause=activity.activity_id,
        )
    if venue_id is not None:
        venue = d.venue(venue_id)
        check_capacity(venue, capacity)
        if starts_at is not None and ends_at is not None:
            check_future(d, starts_at)
            check_open(d, venue, starts_at, ends_at)
            if activity.status == "published":
                check_free(d, venue, starts_at, ends_at, ignore=activity.activity_id)
    d.emit(
        p.ActivityUpdated(
            activity_id=c.activity_id,
            **c.model_dump(include=c.model_fields_set - {"activity_id", "kind"}),
        )
    )
    version = activity.version + 1
    if activity.status == "published":
        version += _promote(d, activity, capacity - len(activity.registered))
    return Accepted(tuple(d.events), version=version)


def publish(d: Decide, c: PublishActivity) -> Accepted:
    activity = _activity(d, c.activity_id)
    d.expect_version(activity.version)
    _changeable(d, activity)
    if activity.status == "published":
        raise Rejected(
            Reason.ALREADY_PUBLISHED, f"{activity.activity_id} is published", activity.activity_id
        )
    if activity.venue_id is None or activity.starts_at is None or activity.ends_at is None:
        raise Rejected(Reason.INVALID_STATE, "a draft needs a venue and a time to be published")
    venue = d.venue(activity.venue_id)
    check_capacity(venue, activity.capacity)
    check_open(d, venue, activity.starts_at, activity.ends_at)
    check_free(d, venue, activity.starts_at, activity.ends_at, ignore=activity.activity_id)
    d.emit(
        p.ActivityPublished(
            activity_id=activity.activity_id,
            title=activity.title,
            category=activity.category,
            program=activity.program,
            venue_id=venue.id,
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            capacity=activity.capacity,
            target_groups=activity.target_groups,
            registration_required=activity.registration_required,
        )
    )
    return Accepted(tuple(d.events), version=activity.version + 1)


def cancel(d: Decide, c: CancelActivity) -> Accepted:
    """Cancelled, and every registration, placed or waiting, released with the reason."""
    activity = _activity(d, c.activity_id)
    d.expect_version(activity.version)
    if activity.status == "cancelled":
        raise Rejected(Reason.ACTIVITY_CANCELLED, f"{activity.activity_id} was cancelled already")
    if activity.ends_at is not None and activity.ends_at <= d.now:
        raise Rejected(Reason.INVALID_STATE, f"{activity.activity_id} is over")
    d.emit(p.ActivityCancelled(activity_id=activity.activity_id, reason=c.reason))
    reason = f"活动取消: {c.reason}" if c.reason else "活动取消"
    for who in [*activity.registered.values(), *(activity.waiting[r] for r in activity.waitlist)]:
        d.emit(
            p.RegistrationCancelled(
                registration_id=who.registration_id,
                activity_id=activity.activity_id,
                reason=reason,
            ),
            resident=who.resident,
        )
    return Accepted(tuple(d.events), version=activity.version + len(d.events))


def _promote(d: Decide, activity: Activity, places: int) -> int:
    """Give up to ``places`` places to the first waiting residents; how many were given."""
    given = 0
    for registration_id in activity.waitlist[: max(places, 0)]:
        who = activity.waiting[registration_id]
        d.emit(
            p.RegistrationSubmitted(
                registration_id=registration_id,
                activity_id=activity.activity_id,
                age_band=who.age_band,
                minor=who.minor,
            ),
            resident=who.resident,
        )
        given += 1
    return given


def register(d: Decide, c: Register) -> Accepted:
    """A place while there is one, else the waitlist (accepted, with the position)."""
    activity = _activity(d, c.activity_id)
    if c.registration_id in d.state.registrations:
        raise Rejected(
            Reason.DUPLICATE_ID, f"registration {c.registration_id} exists", c.registration_id
        )
    if activity.status == "draft":
        raise Rejected(Reason.NOT_PUBLISHED, f"{activity.activity_id} is not published yet")
    _changeable(d, activity)
    held = activity.active_registration_of(c.resident)
    if held is not None:
        raise Rejected(Reason.ALREADY_REGISTERED, "this resident is registered already", cause=held)
    if len(activity.registered) < activity.capacity and not activity.waitlist:
        d.emit(
            p.RegistrationSubmitted(
                registration_id=c.registration_id,
                activity_id=activity.activity_id,
                age_band=c.age_band,
                minor=c.minor,
            ),
            resident=c.resident,
        )
        return Accepted(tuple(d.events), version=activity.version + 1)
    position = len(activity.waitlist) + 1
    d.emit(
        p.RegistrationWaitlisted(
            registration_id=c.registration_id,
            activity_id=activity.activity_id,
            position=position,
            age_band=c.age_band,
            minor=c.minor,
        ),
        resident=c.resident,
    )
    return Accepted(
        tuple(d.events), version=activity.version + 1, outcome="waitlisted", position=position
    )


def cancel_registration(d: Decide, c: CancelRegistration) -> Accepted:
    """Cancelled; a place it held goes to the first waiting resident (until the activity ends)."""
    activity_id = d.state.registrations.get(c.registration_id)
    activity = d.state.activities.get(activity_id) if activity_id else None
    if activity is None:
        raise Rejected(Reason.NOT_FOUND, f"no registration {c.registration_id}", c.registration_id)
    d.expect_version(activity.version)
    who = activity.registered.get(c.registration_id) or activity.waiting.get(c.registration_id)
    if who is None:
        raise Rejected(
            Reason.INVALID_STATE, f"registration {c.registration_id} was cancelled already"
        )
    if activity.ends_at is not None and activity.ends_at <= d.now:
        raise Rejected(Reason.INVALID_STATE, f"{activity.activity_id} is over")
    d.emit(
        p.RegistrationCancelled(
            registration_id=c.registration_id, activity_id=activity.activity_id, reason=c.reason
        ),
        resident=who.resident,
    )
    freed = 1 if c.registration_id in activity.registered else 0
    promoted = _promote(d, activity, freed)
    return Accepted(tuple(d.events), version=activity.version + 1 + promoted)


def release_no_shows(d: Decide, c: ReleaseNoShows) -> Accepted:
    """At start + N minutes (per activity): places of registered residents not checked in are
    cancelled and given to the waitlist, in order. Once per activity."""
    activity = _activity(d, c.activity_id)
    if activity.status != "published":
        raise Rejected(Reason.INVALID_STATE, f"{activity.activity_id} is not published")
    assert activity.starts_at is not None
    assert activity.ends_at is not None
    due = activity.starts_at + timedelta(minutes=activity.release_after_min)
    if d.now < due:
        raise Rejected(Reason.TOO_EARLY, f"places are released at {due.isoformat()}")
    if activity.no_shows_released:
        raise Rejected(Reason.INVALID_STATE, f"{activity.activity_id}: released already")
    if activity.ends_at <= d.now:
        raise Rejected(Reason.INVALID_STATE, f"{activity.activity_id} is over")
    absent = [w for w in activity.registered.values() if w.resident not in activity.checked_in]
    d.emit(
        p.ActivityPlacesReleased(
            activity_id=activity.activity_id, registration_ids=[w.registration_id for w in absent]
        )
    )
    for who in absent:
        d.emit(
            p.RegistrationCancelled(
                registration_id=who.registration_id,
                activity_id=activity.activity_id,
                reason="no_show_released",
            ),
            resident=who.resident,
        )
    _promote(d, activity, len(absent))
    return Accepted(tuple(d.events), version=activity.version + len(d.events))
