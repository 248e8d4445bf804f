"""Conflicts in the warehouse: the SQL that judges kiosk facts as ``sanjiang.conflicts`` defines.

The judgement of a fact depends on other events (the decisions about the activity it names,
the check-ins that rank residents or prove attendance), so it cannot be kept by a materialized
view as events arrive: it is computed when asked, for the facts of a period and scope, from
the events and from tables kept per activity: ``activity_checkins`` (migration 0014: each
resident's first check-in naming each activity, so an activity's ranking and attendance read a
few rows), ``activity_rules`` and ``activity_places`` (migration 0016: the decisions a
check-in is judged against, and the registrations that hold places). The events table is
sorted by type, station and time: a filter on ``activity_id`` there reads a type's whole
history (all activity decisions, all registrations), these tables read the period's
activities only.

The fragments below are WITH items for the KPI statements' templates (``projections.kpi.KpiSql``:
``{db}``, ``{start}``, ``{end}``, ``{stations}``, ``{venues}``, ``{venue_scope}``) plus four
placeholders of their own. They are written for chDB's costs, which are mostly fixed: a table read
or a subquery costs milliseconds whatever it reads, a common table expression is run again
wherever it is named, a scalar subquery once. So what the judgement needs is computed once, as
scalars, and looked up by hash (``transform`` on constant arrays); a statement without facts to
judge reads little more than before. Constants of thousands of elements are costly to derive
from (an ``arrayConcat`` of two took longer than the lookups it served): look each up as it
comes.

- ``{admit}``: which events the judgement may use. ``1`` for the KPIs (every stored event);
  ``ADMIT_IN_WINDOW`` for reconciliation: an event counts when it reached the platform by the
  end of its own local day's window (the day plus the grace, ``{grace_s:UInt32}`` seconds),
  which is what the live fold saw — facts and decisions alike, so a closed day is judged from
  the same events live and in the warehouse.
- ``{firsts}``: rows ``(activity_id, resident, first_v)`` with ``first_v`` = ``VERSION``
  (``projections.order``: occurred_at to the microsecond, event_id as text) of check-ins
  naming an activity: ``activity_checkins`` for the KPIs,
  ``FIRSTS_ADMITTED`` (the admitted check-ins themselves) for reconciliation.
- ``{rules}``: rows ``(activity_id, published, cancelled, capacity_v, required_v)`` to fold
  with max per activity (the latest capacity and registration rule as (occurred_at to the
  microsecond, event_id as text, value)): ``activity_rules`` (migration 0016) for the KPIs,
  ``RULES_ADMITTED`` (one row per admitted activity event) for reconciliation.
- ``{places}``: rows ``(activity_id, registration_id, residents, cancelled)`` to fold per
  registration filed under an activity: ``activity_places`` (migration 0016) for the KPIs,
  ``PLACES_ADMITTED`` (one row per admitted registration event) for reconciliation.

Two relations come out: ``judged_checkins`` (``day``, ``station_id``, ``kind`` — ``''`` for
none — for every check-in of the period and scope, one kind each, the first that applies) and
``judged_evaluations`` (``rating`` and ``came`` per (resident, activity) pair of the period and
scope, or per (day, station, resident, activity) with ``by_day``: the latest evaluation's
rating, and whether the resident attended). Orders are ``projections.order.VERSION``
(occurred_at to the microsecond, event_id as text), as in the live fold.
"""

from __future__ import annotations

from projections.order import NO_VERSION_ITEMS, VERSION, VERSION_ITEMS

#: Reconciliation: events that reached the platform within their own day's window, which
#: closes at the day's end plus the grace (an arrival at that instant is too late live;
#: ``received_at`` keeps milliseconds, so ``<`` here is the live fold's test to the
#: microsecond).
ADMIT_IN_WINDOW = (
    "received_at < toStartOfDay(occurred_at, 'Asia/Shanghai') + INTERVAL 1 DAY"
    " + toIntervalSecond({grace_s:UInt32})"
)
#: Reconciliation: check-ins naming an activity, among the admitted events.
FIRSTS_ADMITTED = f"""(
            SELECT activity_id, resident, {VERSION} AS first_v
            FROM {{db}}.events
            WHERE type = 'checkin.recorded' AND activity_id != '' AND resident != ''
              AND {{admit}})"""
#: The KPIs: the stored first check-ins (every event).
FIRSTS_STORED = "{db}.activity_checkins"
#: Reconciliation: the admitted activity decisions, a row each, as ``activity_rules`` keeps them
#: (an event that sets no capacity or rule gives the smallest tuple, which reads as none).
RULES_ADMITTED = f"""(
            SELECT activity_id, toUInt8(type = 'activity.published') AS published,
                   toUInt8(type = 'activity.cancelled') AS cancelled,
                   if(capacity > 0, ({VERSION_ITEMS}, capacity),
                      ({NO_VERSION_ITEMS}, toUInt32(0))) AS capacity_v,
                   if(registration_required IS NOT NULL,
                      ({VERSION_ITEMS}, assumeNotNull(registration_required)),
                      ({NO_VERSION_ITEMS}, false)) AS required_v
            FROM {{db}}.events
            WHERE type IN ('activity.published', 'activity.updated', 'activity.cancelled')
              AND {{admit}})"""
#: The KPIs: the stored decisions about activities (every event).
RULES_STORED = "{db}.activity_rules"
#: Reconciliation: the admitted registration events, a row each, as ``activity_places`` keeps
#: them.
PLACES_ADMITTED = """(
            SELECT activity_id, registration_id,
                   if(type = 'registration.submitted', [resident], []) AS residents,
                   toUInt8(type = 'registration.cancelled') AS cancelled
            FROM {db}.events
            WHERE type IN ('registration.submitted', 'registration.cancelled') AND {admit})"""
#: The KPIs: the stored registrations per activity (every event).
PLACES_STORED = "{db}.activity_places"


def _member(key: str, keys: str) -> str:
    """``key`` is one of the array ``keys`` (a constant: a scalar or made of scalars), by a
    hash lookup: ``transform`` hashes a constant array once, where ``has`` compares with each
    element and ``IN (SELECT arrayJoin(…))`` costs a subquery (milliseconds on chDB). Not
    inside a lambda over another array: a lambda copies the constants it names per element."""
    return f"transform({key}, {keys}, arrayMap(k -> 1, {keys}), 0) = 1"


#: WITH items judging every check-in of the period and scope: ``judged_checkins`` (``day``,
#: ``station_id``, ``resident``, ``owner`` — the station of its venue, ``''`` if unknown —,
#: ``kind``). What the judgement reads is computed once, as scalars: the network's venues and
#: their stations; ``decided`` (activity_id, published, places, whether it requires
#: registration now: its latest rule, and never cancelled) for the activities the check-ins
#: name, from ``{rules}``; for those that require registration, ``placed``, the residents
#: holding a place (as ``'resident activity'``: a registration submitted and never cancelled),
#: from ``{places}``; and ``flagged``, one read of the first check-ins (``{firsts}``) of the
#: published activities that require registration or have a capacity: the ids (as text) of the
#: first check-ins of residents holding no place at one that requires it (``unplaced``), and of
#: residents ranked past the capacity (``beyond``; only residents holding a place are ranked
#: when it requires registration).
CHECKINS_JUDGED = f"""
    (SELECT groupArray((venue_id, station_id)) FROM {{db}}.venues) AS network_venues,
    arrayMap(v -> v.1, network_venues) AS venue_ids,
    arrayMap(v -> v.2, network_venues) AS venue_owners,
    (
        SELECT groupArray((activity_id, published, places, required))
        FROM (
            SELECT activity_id, max(published) AS published, max(capacity_v).3 AS places,
                   (max(required_v).3 AND NOT max(cancelled)) AS required
            FROM {{rules}}
            WHERE activity_id IN (
                    SELECT activity_id FROM {{db}}.events
                    WHERE type = 'checkin.recorded'
                      AND occurred_at >= {{start}} AND occurred_at < {{end}}
                      AND station_id IN {{stations}}
                      AND ({{venue_scope}} = 0 OR venue_id IN {{venues}})
                      AND activity_id != '' AND {{admit}})
            GROUP BY activity_id
        )
    ) AS decided,
    arrayMap(d -> d.1, arrayFilter(d -> d.2 = 1, decided)) AS published_ids,
    arrayMap(d -> d.1, arrayFilter(d -> d.2 = 1 AND d.4, decided)) AS required_ids,
    arrayFilter(d -> d.2 = 1 AND (d.3 > 0 OR d.4), decided) AS judged,
    (
        SELECT groupUniqArray(concat(resident, ' ', activity_id))
        FROM (
            SELECT activity_id, groupUniqArrayArray(residents) AS holders
            FROM {{places}}
            WHERE activity_id IN (SELECT arrayJoin(required_ids))
            GROUP BY activity_id, registration_id
            HAVING max(cancelled) = 0
        )
        ARRAY JOIN holders AS resident
    ) AS placed,
    (
        SELECT (groupArrayIf(first.2, NOT ranked), groupArrayIf(first.2, ranked AND place > places))
        FROM (
            SELECT first, ranked,
                   transform(activity_id, arrayMap(d -> d.1, judged),
                             arrayMap(d -> toUInt64(d.3), judged), toUInt64(0)) AS places,
                   row_number() OVER (PARTITION BY activity_id, ranked ORDER BY first) AS place
            FROM (
                SELECT activity_id, resident, min(first_v) AS first,
                       NOT {_member("activity_id", "required_ids")}
                           OR {_member("concat(resident, ' ', activity_id)", "placed")} AS ranked
                FROM {{firsts}}
                WHERE activity_id IN (SELECT arrayJoin(arrayMap(d -> d.1, judged)))
                GROUP BY activity_id, resident
            )
        )
        WHERE NOT ranked OR (places > 0 AND place > places)
    ) AS flagged,
    flagged.1 AS unplaced,
    flagged.2 AS beyond,
    judged_checkins AS (
        SELECT toDate(occurred_at, 'Asia/Shanghai') AS day, station_id, resident,
               transform(venue_id, venue_ids, venue_owners, '') AS owner,
               multiIf(owner = '', 'unknown_venue',
                       owner != station_id, 'venue_of_other_station',
                       activity_id != '' AND NOT {_member("activity_id", "published_ids")},
                       'unknown_activity',
                       {_member("toString(event_id)", "unplaced")}, 'no_registration',
                       {_member("toString(event_id)", "beyond")}, 'over_capacity',
                       '') AS kind
        FROM {{db}}.events
        WHERE type = 'checkin.recorded'
          AND occurred_at >= {{start}} AND occurred_at < {{end}}
          AND station_id IN {{stations}}
          AND ({{venue_scope}} = 0 OR venue_id IN {{venues}})
          AND {{admit}}
    )"""


def evaluations_judged(by_day: bool) -> str:
    """WITH items judging the evaluations of the period and scope: ``judged_evaluations``
    (``rating``, ``came`` — whether the resident attended — and with ``by_day`` ``day`` and
    ``station_id``), one per (resident, activity) pair (per day and station with ``by_day``),
    the latest (``evaluated``). ``unresolved``, a scalar, holds the pairs (with a resident) of
    the period's evaluations in the stations (any venue: a superset of the scope's) without a
    check-in naming the activity, found with an ``IN`` set of the pairs (as ``'resident
    activity'``) that have one — usually none, kiosks name the activity. A pair attended when
    it has a resident and is not unresolved, or is ``present``: an unresolved pair with a
    check-in at the activity's venue during it, from ``held`` (activity_id, venue, starts,
    ends). So no array of thousands of pairs is ever built, and without unresolved pairs
    nothing more is read."""
    keys = "toDate(occurred_at, 'Asia/Shanghai') AS day, station_id, " if by_day else ""
    kept = "day, station_id, " if by_day else ""
    pair = "concat(resident, ' ', activity_id)"
    named = f"""(
            SELECT {pair} FROM {{firsts}}
            WHERE activity_id IN (
                    SELECT activity_id FROM {{db}}.events
                    WHERE type = 'evaluation.submitted'
                      AND occurred_at >= {{start}} AND occurred_at < {{end}}
                      AND station_id IN {{stations}} AND {{admit}}))"""
    return f"""
    evaluated AS (
        SELECT {keys}resident, activity_id,
               argMax(rating, {VERSION}) AS rating
        FROM {{db}}.events
        WHERE type = 'evaluation.submitted'
          AND occurred_at >= {{start}} AND occurred_at < {{end}}
          AND station_id IN {{stations}}
          AND {{admit}}
          AND ({{venue_scope}} = 0 OR activity_id IN (
                SELECT activity_id FROM {{db}}.activity_state
                WHERE activity_id IN (
                        SELECT activity_id FROM {{db}}.events
                        WHERE type = 'evaluation.submitted'
                          AND occurred_at >= {{start}} AND occurred_at < {{end}}
                          AND station_id IN {{stations}})
                  AND venue_id IN {{venues}}))
        GROUP BY {kept}resident, activity_id
    ),
    (
        SELECT groupUniqArray((resident, activity_id)) FROM {{db}}.events
        WHERE type = 'evaluation.submitted'
          AND occurred_at >= {{start}} AND occurred_at < {{end}}
          AND station_id IN {{stations}} AND {{admit}}
          AND resident != '' AND {pair} NOT IN {named}
    ) AS unresolved,
    arrayMap(e -> concat(e.1, ' ', e.2), unresolved) AS unresolved_pairs,
    arrayDistinct(arrayMap(e -> e.1, unresolved)) AS unresolved_residents,
    arrayDistinct(arrayMap(e -> e.2, unresolved)) AS unresolved_ids,
    -- where and when the activities of those were held, as decided (latest)
    (
        SELECT groupArray((activity_id, venue, starts, ends))
        FROM (
            SELECT activity_id,
                   argMaxIf(venue_id, {VERSION}, venue_id != '')
                       AS venue,
                   argMaxIf(assumeNotNull(starts_at), {VERSION},
                            starts_at IS NOT NULL) AS starts,
                   argMaxIf(assumeNotNull(ends_at), {VERSION},
                            ends_at IS NOT NULL) AS ends
            FROM {{db}}.events
            WHERE length(unresolved_ids) > 0
              AND type IN ('activity.published', 'activity.updated')
              AND {_member("activity_id", "unresolved_ids")}
              AND {{admit}}
            GROUP BY activity_id
            HAVING venue != '' AND countIf(starts_at IS NOT NULL) > 0
               AND countIf(ends_at IS NOT NULL) > 0
        )
    ) AS held,
    arrayDistinct(arrayMap(h -> h.2, held)) AS held_venues,
    -- ... and the pairs among them with a check-in at the venue during it (any station)
    (
        SELECT groupUniqArray(concat(resident, ' ', activity_id))
        FROM (
            SELECT resident,
                   arrayJoin(arrayMap(h -> h.1, arrayFilter(
                       h -> h.2 = venue_id AND occurred_at >= h.3 AND occurred_at < h.4, held)))
                       AS activity_id
            FROM {{db}}.events
            WHERE length(held) > 0
              AND type = 'checkin.recorded'
              AND occurred_at >= arrayMin(arrayMap(h -> h.3, held))
              AND occurred_at < arrayMax(arrayMap(h -> h.4, held))
              AND {_member("venue_id", "held_venues")}
              AND {_member("resident", "unresolved_residents")}
              AND {{admit}}
        )
    ) AS present,
    judged_evaluations AS (
        SELECT {kept}rating,
               (resident != '' AND (NOT {_member(pair, "unresolved_pairs")}
                                    OR {_member(pair, "present")})) AS came
        FROM evaluated
    )"""


#: Per local day and station: the check-ins of each kind of conflict (rows with some only).
CHECKIN_CONFLICTS_BY_DAY = f"""
WITH {CHECKINS_JUDGED}
SELECT day, station_id, kind, count() AS conflicts
FROM judged_checkins
WHERE kind != ''
GROUP BY day, station_id, kind
"""

#: Per local day and station: evaluations counted (their resident attended), satisfied ones,
#: and those left out (``not_attended``), one per (resident, activity) pair.
EVALUATIONS_BY_DAY = f"""
WITH {evaluations_judged(by_day=True)}
SELECT day, station_id, countIf(came) AS evaluations,
       countIf(came AND rating >= 4) AS satisfied_evaluations,
       countIf(NOT came) AS not_attended
FROM judged_evaluations
GROUP BY day, station_id
"""

#: Per local day, station and kind: every conflict (rows with some only).
CONFLICTS_BY_DAY = f"""
SELECT day, station_id, kind, conflicts
FROM ({CHECKIN_CONFLICTS_BY_DAY})
UNION ALL
SELECT day, station_id, 'not_attended' AS kind, not_attended AS conflicts
FROM ({EVALUATIONS_BY_DAY})
WHERE not_attended > 0
"""
