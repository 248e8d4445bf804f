-- What judging check-ins needs of the decisions, kept per activity by materialized views
-- (backfilled on migrate), so the judgement (sanjiang/conflicts.py; projections/conflicts.py)
-- reads the few rows of the activities a period's check-ins name instead of every activity and
-- registration event ever stored (the events table is sorted by type, station and time, so a
-- filter on activity_id reads a type's whole history).
--
-- activity_rules: whether an activity was published, whether it was cancelled, and the latest
-- capacity and registration rule its publications and updates set, as (occurred_at, event_id
-- as text, value): "latest" is the text order of event ids (DESIGN.md), as the judgement's own
-- argMax over the events used. An event that does not set a value contributes the smallest
-- tuple, (1900-01-01, '', 0 / false), which every real event beats and which reads as "none"
-- (capacity 0, no registration required). max is idempotent: an event stored twice, or a
-- backfill overlapping the view, changes nothing.
CREATE TABLE IF NOT EXISTS {db}.activity_rules
(
    activity_id  String,
    published    SimpleAggregateFunction(max, UInt8),
    cancelled    SimpleAggregateFunction(max, UInt8),
    capacity_v   SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String, UInt32)),
    required_v   SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String, Bool))
)
ENGINE = AggregatingMergeTree
ORDER BY activity_id
-- Small granules: a period's activities pick out a few rows each.
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.activity_rules_mv TO {db}.activity_rules AS
SELECT
    activity_id,
    max(type = 'activity.published') AS published,
    max(type = 'activity.cancelled') AS cancelled,
    max(if(capacity > 0,
           (occurred_at, toString(event_id), capacity),
           (toDateTime64('1900-01-01', 3, 'UTC'), '', toUInt32(0)))) AS capacity_v,
    max(if(registration_required IS NOT NULL,
           (occurred_at, toString(event_id), assumeNotNull(registration_required)),
           (toDateTime64('1900-01-01', 3, 'UTC'), '', false))) AS required_v
FROM {db}.events
WHERE type IN ('activity.published', 'activity.updated', 'activity.cancelled')
GROUP BY activity_id;

-- activity_places: each registration filed under an activity (by the activity each event
-- names), with the residents of its registration.submitted events and whether a
-- registration.cancelled naming that activity cancelled it. A resident holds a place in the
-- activity when one of its registrations names them and was never cancelled there. Sets and
-- max are idempotent.
CREATE TABLE IF NOT EXISTS {db}.activity_places
(
    activity_id      String,
    registration_id  String,
    residents        SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    cancelled        SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY (activity_id, registration_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.activity_places_mv TO {db}.activity_places AS
SELECT
    activity_id,
    registration_id,
    groupUniqArrayIf(resident, type = 'registration.submitted') AS residents,
    max(type = 'registration.cancelled') AS cancelled
FROM {db}.events
WHERE type IN ('registration.submitted', 'registration.cancelled')
GROUP BY activity_id, registration_id;
