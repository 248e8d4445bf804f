"""Conflicts in the warehouse: the SQL that judges kiosk facts as ``sanjiang.conflicts`` defines.

The judgement of a fact depends on other events (the decisions about the activity it names,
the check-ins that rank residents or prove attendance), so it cannot be kept by a materialized
view as events arrive: it is computed when asked, for the facts of a period and scope, from
the events and from ``activity_checkins`` (migration 0014: each resident's first check-in
naming each activity, so an activity's ranking and attendance read a few rows).

The fragments below are WITH items for the KPI statements' templates (``projections.kpi.KpiSql``:
``{db}``, ``{start}``, ``{end}``, ``{stations}``, ``{venues}``, ``{venue_scope}``) plus two
placeholders of their own. They are written for chDB's costs, which are mostly fixed: a table read
or a subquery costs milliseconds whatever it reads, a common table expression is run again
wherever it is named, a scalar subquery once. So what the judgement needs is computed once, as
scalars, and looked up by hash (``transform`` on constant arrays); a statement without facts to
judge reads little more than before.

- ``{admit}``: which events the judgement may use. ``1`` for the KPIs (every stored event);
  ``ADMIT_IN_WINDOW`` for reconciliation: an event counts when it reached the platform by the
  end of its own local day's window (the day plus the grace, ``{grace_s:UInt32}`` seconds),
  which is what the live fold saw — facts and decisions alike, so a closed day is judged from
  the same events live and in the warehouse.
- ``{firsts}``: rows ``(activity_id, resident, first_v)`` with ``first_v`` = ``VERSION``
  of check-ins naming an activity: ``activity_checkins`` for the KPIs,
  ``FIRSTS_ADMITTED`` (the admitted check-ins themselves) for reconciliation.

Two relations come out: ``judged_checkins`` (``day``, ``station_id``, ``kind`` — ``''`` for
none — for every check-in of the period and scope, one kind each, the first that applies) and
``judged_evaluations`` (``rating`` and ``came`` per (resident, activity) pair of the period and
scope, or per (day, station, resident, activity) with ``by_day``: the latest evaluation's
rating, and whether the resident attended). Orders are ``projections.order.VERSION``
(occurred_at to the microsecond, event_id as text), as in the live fold.
"""

from __future__ import annotations

from projections.order import VERSION

#: Reconciliation: events that reached the platform within their own day's window, which
#: closes at the day's end plus the grace (an arrival at that instant is too late live;
#: ``received_at`` keeps milliseconds, so ``<`` here is the live fold's test to the
#: microsecond).
ADMIT_IN_WINDOW = (
    "received_at < toStartOfDay(occurred_at, 'Asia/Shanghai') + INTERVAL 1 DAY"
    " + toIntervalSecond({grace_s:UInt32})"
)
#: Reconciliation: check-ins naming an activity, among the admitted events.
FIRSTS_ADMITTED = (
    """(
            SELECT activity_id, resident, """
    + VERSION
    + """ AS first_v
            FROM {db}.events
            WHERE type = 'checkin.recorded' AND activity_id != '' AND resident != ''
              AND {admit})"""
)
#: The KPIs: the stored first check-ins (every event).
FIRSTS_STORED = "{db}.activity_checkins"


def _member(key: str, keys: str) -> str:
    """``key`` is one of the array ``keys`` (a constant: a scalar or made of scalars), by a
    hash lookup: ``transform`` hashes a constant array once, where ``has`` compares with each
    element and ``IN (SELECT arrayJoin(…))`` costs a subquery (milliseconds on chDB). Not
    inside a lambda over another array: a lambda copies the constants it names per element."""
    return f"transform({key}, {keys}, arrayMap(k -> 1, {keys}), 0) = 1"


#: WITH items judging every check-in of the period and scope: ``judged_checkins`` (``day``,
#: ``station_id``, ``resident``, ``owner`` — the station of its venue, ``''`` if unknown —,
#: ``kind``). What the judgement reads is computed once, as scalars: the network's venues and
#: their stations, ``decided`` (activity_id, published, places) for
#: the activities the check-ins name, and ``beyond``, the ids of the first check-ins of
#: residents ranked past the capacity of a published one (as text).
CHECKINS_JUDGED = f"""
    (SELECT groupArray((venue_id, station_id)) FROM {{db}}.venues) AS network_venues,
    arrayMap(v -> v.1, network_venues) AS venue_ids,
    arrayMap(v -> v.2, network_venues) AS venue_owners,
    (
        SELECT groupArray((activity_id, published, places))
        FROM (
            SELECT activity_id, max(type = 'activity.published') AS published,
                   argMaxIf(capacity, {VERSION}, capacity > 0) AS places
            FROM {{db}}.events
            WHERE type IN ('activity.published', 'activity.updated')
              AND activity_id IN (
                    SELECT activity_id FROM {{db}}.events
                    WHERE type = 'checkin.recorded'
                      AND occurred_at >= {{start}} AND occurred_at < {{end}}
                      AND station_id IN {{stations}}
                      AND ({{venue_scope}} = 0 OR venue_id IN {{venues}})
                      AND activity_id != '' AND {{admit}})
              AND {{admit}}
            GROUP BY activity_id
        )
    ) AS decided,
    arrayMap(d -> d.1, arrayFilter(d -> d.2 = 1, decided)) AS published_ids,
    arrayFilter(d -> d.2 = 1 AND d.3 > 0, decided) AS capped,
    (
        SELECT groupArray(first.2)
        FROM (
            SELECT activity_id, first,
                   row_number() OVER (PARTITION BY activity_id ORDER BY first) AS place
            FROM (
                SELECT activity_id, min(first_v) AS first
                FROM {{firsts}}
                WHERE activity_id IN (SELECT arrayJoin(arrayMap(d -> d.1, capped)))
                GROUP BY activity_id, resident
            )
        )
        WHERE place > transform(activity_id, arrayMap(d -> d.1, capped),
                                arrayMap(d -> toUInt64(d.3), capped), toUInt64(0))
    ) AS beyond,
    judged_checkins AS (
        SELECT toDate(occurred_at, 'Asia/Shanghai') AS day, station_id, resident,
               transform(venue_id, venue_ids, venue_owners, '') AS owner,
               multiIf(owner = '', 'unknown_venue',
                       owner != station_id, 'venue_of_other_station',
                       activity_id != '' AND NOT {_member("activity_id", "published_ids")},
                       'unknown_activity',
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
    the latest. Computed once, as scalars: ``evaluated`` (resident, activity_id, rating[, day,
    station_id]); ``named``, the pairs (as ``'resident activity'``) with a check-in naming the
    activity; and only for the others (``unresolved``: usually none, kiosks name the activity),
    ``held`` (activity_id, venue, starts, ends) and ``present``, the pairs with a check-in at
    the venue during it. Without unresolved pairs nothing more is read."""
    keys = "toDate(occurred_at, 'Asia/Shanghai') AS day, station_id, " if by_day else ""
    kept = "day, station_id, " if by_day else ""
    row = (
        "(resident, activity_id, rating, day, station_id)"
        if by_day
        else "(resident, activity_id, rating)"
    )
    columns = "e.4 AS day, e.5 AS station_id, " if by_day else ""
    unresolved = _member("concat(e.1, ' ', e.2)", "named")
    return f"""
    (
        SELECT groupArray({row})
        FROM (
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
        )
    ) AS evaluated,
    -- the pairs with a check-in naming the activity (any time, any station)
    (
        SELECT groupUniqArray(concat(resident, ' ', activity_id))
        FROM {{firsts}}
        WHERE activity_id IN (SELECT arrayJoin(arrayMap(e -> e.2, evaluated)))
    ) AS named,
    (
        SELECT groupArray(e) FROM (SELECT arrayJoin(evaluated) AS e)
        WHERE e.1 != '' AND NOT {unresolved}
    ) AS unresolved,
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
    arrayDistinct(arrayConcat(named, present)) AS attended,
    judged_evaluations AS (
        SELECT {columns}e.3 AS rating, {came("e")} AS came
        FROM (SELECT arrayJoin(evaluated) AS e)
    )"""


def came(element: str) -> str:
    """Whether the resident of ``element`` (an item of ``evaluated``) attended its activity."""
    pair = f"concat({element}.1, ' ', {element}.2)"
    return f"({element}.1 != '' AND {_member(pair, 'attended')})"


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
