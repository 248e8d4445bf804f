"""Hypothesis strategies for the event catalog: any valid event of any type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

from hypothesis import strategies as st

from sanjiang.events import EVENT_TYPES, Event
from sanjiang.events import payloads as p
from sanjiang.events.types import MINOR_AGE_BANDS, AgeBand, TargetGroup
from sanjiang.ids import uuid7_from_rng

idents = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
taxonomy_ids = st.from_regex(r"\A[a-z][a-z0-9_]{0,39}\Z")
usernames = st.from_regex(r"\A[a-z][a-z0-9._-]{1,39}\Z")
notes = st.text(max_size=120).map(str.strip)
titles = st.text(min_size=1, max_size=80).map(str.strip).filter(bool)
capacities = st.integers(1, 5000)
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.builds(
    lambda ts, tz: datetime.fromtimestamp(ts, UTC).astimezone(tz),
    st.integers(1_600_000_000_000_000, 2_000_000_000_000_000).map(lambda us: us / 1_000_000),
    offsets,
)
durations = st.integers(60, 7 * 24 * 3600).map(lambda s: timedelta(seconds=s))
target_groups = st.lists(st.sampled_from(get_args(TargetGroup)), min_size=1, max_size=6)


@st.composite
def resident_facts(draw: st.DrawFn) -> dict[str, Any]:
    band = draw(st.none() | st.sampled_from(get_args(AgeBand)))
    minor = band in MINOR_AGE_BANDS if band is not None else draw(st.booleans())
    return {"age_band": band, "minor": minor}


@st.composite
def interval(draw: st.DrawFn) -> dict[str, datetime]:
    start = draw(instants)
    return {"starts_at": start, "ends_at": start + draw(durations)}


def _fields(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(strategies)


def _merge(*parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(*parts).map(lambda ds: {k: v for d in ds for k, v in d.items()})


@st.composite
def activity_update(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {"activity_id": draw(idents)}
    options = draw(
        st.sets(
            st.sampled_from(["title", "venue_id", "interval", "capacity", "registration_required"]),
            min_size=1,
        )
    )
    if "title" in options:
        data["title"] = draw(titles)
    if "venue_id" in options:
        data["venue_id"] = draw(idents)
    if "interval" in options:
        data.update(draw(interval()))
    if "capacity" in options:
        data["capacity"] = draw(capacities)
    if "registration_required" in options:
        data["registration_required"] = draw(st.booleans())
    return data


PAYLOAD_DATA: dict[type[p.Payload], st.SearchStrategy[dict[str, Any]]] = {
    p.DemandSubmitted: _merge(
        _fields(demand_id=idents, category=taxonomy_ids, summary=notes), resident_facts()
    ),
    p.DemandVoted: _merge(_fields(demand_id=idents, category=taxonomy_ids), resident_facts()),
    p.ActivityDesigned: _merge(
        _fields(
            activity_id=idents,
            title=titles,
            category=taxonomy_ids,
            program=taxonomy_ids,
            target_groups=target_groups,
            planned_capacity=capacities,
            demand_ids=st.lists(idents, max_size=3),
            venue_id=st.none() | idents,
            series_id=st.none() | idents,
            release_after_min=st.integers(0, 240),
            registration_required=st.booleans(),
        ),
        st.just({}) | interval(),
    ),
    p.ActivityPublished: _merge(
        _fields(
            activity_id=idents,
            title=titles,
            category=taxonomy_ids,
            program=taxonomy_ids,
            venue_id=idents,
            capacity=capacities,
            target_groups=target_groups,
            registration_required=st.booleans(),
        ),
        interval(),
    ),
    p.ActivityUpdated: activity_update(),
    p.ActivityCancelled: _fields(activity_id=idents, reason=notes),
    p.RegistrationSubmitted: _merge(
        _fields(registration_id=idents, activity_id=idents), resident_facts()
    ),
    p.RegistrationWaitlisted: _merge(
        _fields(registration_id=idents, activity_id=idents, position=st.integers(1, 100_000)),
        resident_facts(),
    ),
    p.BookingCheckedIn: _fields(booking_id=idents),
    p.ActivityPlacesReleased: _fields(
        activity_id=idents, registration_ids=st.lists(idents, max_size=3)
    ),
    p.VenueClosureScheduled: _merge(
        _fields(
            closure_id=idents,
            venue_id=idents,
            reason=notes,
            collides_with=st.lists(idents, max_size=3),
        ),
        interval(),
    ),
    p.VenueClosureLifted: _fields(closure_id=idents, venue_id=idents),
    p.DemandAccepted: _fields(demand_id=idents),
    p.DemandDispatched: _fields(demand_id=idents, dispatch_id=idents, unit=titles, due_at=instants),
    p.DemandOverdue: _fields(demand_id=idents, dispatch_id=idents),
    p.DemandAnswered: _fields(demand_id=idents, answer=titles),
    p.DemandLinked: _fields(
        demand_id=idents, activity_ids=st.lists(idents, min_size=1, max_size=3)
    ),
    p.DemandClosed: _fields(demand_id=idents, reason=notes),
    p.CommandDecided: _fields(
        command_id=idents,
        kind=idents,
        accepted=st.booleans(),
        outcome=st.none() | idents,
        position=st.none() | st.integers(1, 100_000),
        reason=st.none() | idents,
        detail=notes,
        cause=st.none() | idents,
        actor=idents,
        role=idents,
        event_ids=st.lists(idents, max_size=3),
        version=st.integers(0, 1000),
    ),
    p.LoginAttempted: st.one_of(
        _fields(accepted=st.just(True), reason=st.none()),
        _fields(
            accepted=st.just(False),
            reason=st.sampled_from(["unknown_user", "wrong_password", "disabled", "throttled"]),
        ),
    ).flatmap(
        lambda outcome: _fields(
            actor=st.just("") | usernames,
            role=st.none() | st.sampled_from(["viewer", "operator", "admin"]),
            via=st.sampled_from(["token", "page"]),
            address=st.sampled_from(["127.0.0.1", "::1", "testclient", "unknown"]),
            detail=notes,
            repeated=st.integers(0, 10_000),
        ).map(lambda fields: {**fields, **outcome})
    ),
    p.UserChanged: _fields(
        actor=idents,
        role=st.none() | st.just("admin"),
        username=usernames,
        change=st.sampled_from(["created", "password_changed", "disabled", "enabled"]),
        account_role=st.sampled_from(["viewer", "operator", "manager", "analyst", "admin"]),
        stations=st.none() | st.lists(idents, min_size=1, max_size=3),
        note=notes,
    ),
    p.DeviceKeyChanged: _fields(
        actor=idents,
        role=st.none() | st.just("admin"),
        device_id=st.from_regex(r"\A[A-Za-z0-9._-]{1,40}\Z"),
        kind=st.sampled_from(["kiosk", "console", "analyst"]),
        change=st.sampled_from(["issued", "revoked"]),
        note=notes,
    ),
    p.RegistrationCancelled: _fields(registration_id=idents, activity_id=idents, reason=notes),
    p.BookingRequested: _merge(
        _fields(booking_id=idents, venue_id=idents, attendees=capacities, purpose=notes), interval()
    ),
    p.BookingConfirmed: _merge(_fields(booking_id=idents, venue_id=idents), interval()),
    p.BookingRejected: _fields(booking_id=idents, reason=notes),
    p.BookingCancelled: _fields(booking_id=idents, reason=notes),
    p.BookingNoShow: _fields(booking_id=idents),
    p.CheckinRecorded: _merge(
        _fields(
            visit_id=idents,
            venue_id=idents,
            activity_id=st.none() | idents,
            booking_id=st.none() | idents,
        ),
        resident_facts(),
    ),
    p.CheckoutRecorded: _fields(visit_id=idents, venue_id=idents),
    p.EvaluationSubmitted: _fields(activity_id=idents, rating=st.integers(1, 5), comment=notes),
    p.KioskHeartbeat: _fields(
        kiosk_id=idents,
        app_version=idents,
        outbox_pending=st.integers(0, 10_000),
        uptime_s=st.integers(0, 10_000_000),
    ),
}

PAYLOAD_OF: dict[str, type[p.Payload]] = {
    name: cls.model_fields["payload"].annotation  # type: ignore[misc]
    for name, cls in EVENT_TYPES.items()
}
sources = st.sampled_from(["api", "console", "console:staff-7"]) | st.from_regex(
    r"\Akiosk:[A-Za-z0-9._-]{1,40}\Z"
)
event_ids = st.builds(uuid7_from_rng, st.integers(0, 2**48 - 1), st.integers(0, 2**74 - 1))


@st.composite
def events(draw: st.DrawFn, event_type: str | None = None) -> Event:
    """Any valid event (of ``event_type`` if given)."""
    name = event_type or draw(st.sampled_from(sorted(EVENT_TYPES)))
    cls = EVENT_TYPES[name]
    payload_cls = PAYLOAD_OF[name]
    return cls(
        event_id=draw(event_ids),
        type=name,
        schema_version=cls.VERSION,
        occurred_at=draw(instants),
        received_at=draw(st.none() | instants),
        station_id=draw(idents),
        source=draw(sources),
        resident=draw(
            st.from_regex(r"\A[0-9a-f]{32}\Z")
            if cls.RESIDENT_REQUIRED
            else st.none() | st.from_regex(r"\A[0-9a-f]{32}\Z")
        ),
        late=draw(st.booleans()),
        payload=payload_cls(**draw(PAYLOAD_DATA[payload_cls])),
    )
