-- Whether an activity requires registration (activity.designed v3, activity.published and
-- activity.updated v2): a typed column of the events, like the other activity attributes, and
-- its latest value in activity_states and the activity_state view. Judging conflicts reads it
-- (sanjiang/conflicts.py: a check-in without a place at an activity that requires one).
--
-- The events column is NULL where an event does not carry the field: every other type, and an
-- update that leaves it as it was. A design or publication of a version before the field
-- requires none (false), as the catalog reads it. Rows stored before this migration are read
-- through the column's DEFAULT, computed from their payload; the sink writes it.
ALTER TABLE {db}.events
    ADD COLUMN IF NOT EXISTS registration_required Nullable(Bool)
    DEFAULT multiIf(
        type IN ('activity.designed', 'activity.published'),
        ifNull(JSONExtract(payload, 'registration_required', 'Nullable(Bool)'), false),
        type = 'activity.updated',
        JSONExtract(payload, 'registration_required', 'Nullable(Bool)'),
        NULL)
    AFTER capacity;

-- The latest value, kept as the other fields are (see 0006): the max of (occurred_at, event_id,
-- value), the smallest tuple for an event that does not set it. Rows written before this
-- migration hold the column's default, (1970-01-01, nil UUID, false), which every real event
-- beats and which reads as false. The view is made again with the column, so migrating feeds
-- it every activity event stored (max and min are idempotent: the rows fed again change
-- nothing).
ALTER TABLE {db}.activity_states
    ADD COLUMN IF NOT EXISTS required_v
        SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), UUID, Bool))
    AFTER capacity_v;

DROP VIEW IF EXISTS {db}.activity_states_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.activity_states_mv TO {db}.activity_states AS
SELECT
    activity_id,
    max(if(type = 'activity.published',
           (occurred_at, event_id, station_id, category, program),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            '', '', ''))) AS published_v,
    max(if(type IN ('activity.published', 'activity.updated') AND venue_id != '',
           (occurred_at, event_id, venue_id),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            ''))) AS venue_v,
    max(if(type IN ('activity.published', 'activity.updated') AND starts_at IS NOT NULL,
           (occurred_at, event_id, assumeNotNull(starts_at)),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            toDateTime64('1900-01-01', 3, 'UTC')))) AS starts_v,
    max(if(type IN ('activity.published', 'activity.updated') AND ends_at IS NOT NULL,
           (occurred_at, event_id, assumeNotNull(ends_at)),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            toDateTime64('1900-01-01', 3, 'UTC')))) AS ends_v,
    max(if(type IN ('activity.published', 'activity.updated') AND capacity > 0,
           (occurred_at, event_id, capacity),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            toUInt32(0)))) AS capacity_v,
    max(if(type IN ('activity.published', 'activity.updated')
               AND registration_required IS NOT NULL,
           (occurred_at, event_id, assumeNotNull(registration_required)),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            false))) AS required_v,
    max(type = 'activity.published') AS published,
    max(type = 'activity.cancelled') AS cancelled,
    min(if(type = 'activity.designed', occurred_at, NULL)) AS designed_at,
    min(if(type = 'activity.published', occurred_at, NULL)) AS published_at
FROM {db}.events
WHERE type IN ('activity.designed', 'activity.published', 'activity.updated', 'activity.cancelled')
GROUP BY activity_id;

DROP VIEW IF EXISTS {db}.activity_state;

CREATE VIEW {db}.activity_state AS
SELECT
    activity_id,
    max(published_v).3 AS station_id,
    max(published_v).4 AS category,
    max(published_v).5 AS program,
    max(venue_v).3 AS venue_id,
    CAST(if(isNull(nullIf(max(starts_v).2, toUUID('00000000-0000-0000-0000-000000000000'))),
            NULL, max(starts_v).3) AS Nullable(DateTime64(3, 'UTC'))) AS starts_at,
    CAST(if(isNull(nullIf(max(ends_v).2, toUUID('00000000-0000-0000-0000-000000000000'))),
            NULL, max(ends_v).3) AS Nullable(DateTime64(3, 'UTC'))) AS ends_at,
    max(capacity_v).3 AS capacity,
    toUInt8(max(published)) AS published,
    toUInt8(max(cancelled)) AS cancelled,
    ifNull(min(designed_at), toDateTime64(0, 3, 'UTC')) AS designed_at,
    ifNull(min(published_at), toDateTime64(0, 3, 'UTC')) AS published_at,
    toUInt8(max(required_v).3) AS registration_required
FROM {db}.activity_states
GROUP BY activity_id
