-- Latest state of activities, bookings and registrations, kept by materialized views as events
-- are inserted, instead of folding all of history on every query (0003's views did that).
--
-- argMax by (occurred_at, event_id) is kept as the max of a tuple (occurred_at, event_id,
-- value…): plain columns, cheaper to read and merge than serialized aggregate states. An event
-- that does not carry the field contributes the smallest tuple, (1900-01-01, nil UUID, default),
-- which any real event beats (event ids are UUIDv7, never nil); the views read "nothing yet"
-- from the nil id, exactly as argMaxIf returns its default when no row matches. Every function
-- kept here (max, min) is idempotent: an event counted twice, or a backfill overlapping the
-- view, changes nothing.
--
-- ORDER BY the entity id: views and queries that ask for a set of ids (`WHERE activity_id IN
-- …`) read only the granules that can hold them, since a filter on the views' GROUP BY key is
-- pushed down into them. Registrations are ordered by the activity each event names first, so
-- an activity's registrations are one range (precision's fill rate reads just those).
CREATE TABLE IF NOT EXISTS {db}.activity_states
(
    activity_id   String,
    -- station_id, category, program of the latest activity.published
    published_v   SimpleAggregateFunction(max,
                      Tuple(DateTime64(3, 'UTC'), UUID, String, String, String)),
    venue_v       SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    starts_v      SimpleAggregateFunction(max,
                      Tuple(DateTime64(3, 'UTC'), UUID, DateTime64(3, 'UTC'))),
    ends_v        SimpleAggregateFunction(max,
                      Tuple(DateTime64(3, 'UTC'), UUID, DateTime64(3, 'UTC'))),
    capacity_v    SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), UUID, UInt32)),
    published     SimpleAggregateFunction(max, UInt8),
    cancelled     SimpleAggregateFunction(max, UInt8),
    designed_at   SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    published_at  SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY activity_id;

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
    max(type = 'activity.published') AS published,
    max(type = 'activity.cancelled') AS cancelled,
    min(if(type = 'activity.designed', occurred_at, NULL)) AS designed_at,
    min(if(type = 'activity.published', occurred_at, NULL)) AS published_at
FROM {db}.events
WHERE type IN ('activity.designed', 'activity.published', 'activity.updated', 'activity.cancelled')
GROUP BY activity_id;

CREATE TABLE IF NOT EXISTS {db}.booking_states
(
    booking_id   String,
    -- station_id of the latest booking.requested
    requested_v  SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), UUID, String)),
    -- venue_id, starts_at, ends_at of the latest booking.confirmed
    confirmed_v  SimpleAggregateFunction(max,
                     Tuple(DateTime64(3, 'UTC'), UUID, String, DateTime64(3, 'UTC'),
                           DateTime64(3, 'UTC'))),
    requested    SimpleAggregateFunction(max, UInt8),
    confirmed    SimpleAggregateFunction(max, UInt8),
    rejected     SimpleAggregateFunction(max, UInt8),
    cancelled    SimpleAggregateFunction(max, UInt8),
    no_show      SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY booking_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.booking_states_mv TO {db}.booking_states AS
SELECT
    booking_id,
    max(if(type = 'booking.requested',
           (occurred_at, event_id, station_id),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            ''))) AS requested_v,
    max(if(type = 'booking.confirmed',
           (occurred_at, event_id, venue_id, assumeNotNull(starts_at), assumeNotNull(ends_at)),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            '', toDateTime64('1900-01-01', 3, 'UTC'), toDateTime64('1900-01-01', 3, 'UTC'))))
        AS confirmed_v,
    max(type = 'booking.requested') AS requested,
    max(type = 'booking.confirmed') AS confirmed,
    max(type = 'booking.rejected') AS rejected,
    max(type = 'booking.cancelled') AS cancelled,
    max(type = 'booking.no_show') AS no_show
FROM {db}.events
WHERE type IN ('booking.requested', 'booking.confirmed', 'booking.rejected',
               'booking.cancelled', 'booking.no_show')
GROUP BY booking_id;

-- activity_id is the one each event names (a cancellation names it too); the view groups by
-- registration_id alone, so a registration whose events name different activities still folds
-- exactly as in 0003.
CREATE TABLE IF NOT EXISTS {db}.registration_states
(
    activity_id      String,
    registration_id  String,
    -- activity_id and resident of the latest registration.submitted
    submitted_v      SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), UUID, String, String)),
    registered_at    SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    submitted        SimpleAggregateFunction(max, UInt8),
    cancelled        SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY (activity_id, registration_id)
-- Small granules: a period's activities pick out a few rows each from a table of millions.
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.registration_states_mv TO {db}.registration_states AS
SELECT
    activity_id,
    registration_id,
    max(if(type = 'registration.submitted',
           (occurred_at, event_id, activity_id, resident),
           (toDateTime64('1900-01-01', 3, 'UTC'), toUUID('00000000-0000-0000-0000-000000000000'),
            '', ''))) AS submitted_v,
    min(if(type = 'registration.submitted', occurred_at, NULL)) AS registered_at,
    max(type = 'registration.submitted') AS submitted,
    max(type = 'registration.cancelled') AS cancelled
FROM {db}.events
WHERE type IN ('registration.submitted', 'registration.cancelled')
GROUP BY activity_id, registration_id;


-- The views of 0003, same names, columns and answers, now over the state tables.
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
    ifNull(min(published_at), toDateTime64(0, 3, 'UTC')) AS published_at
FROM {db}.activity_states
GROUP BY activity_id;

DROP VIEW IF EXISTS {db}.booking_state;

CREATE VIEW {db}.booking_state AS
SELECT
    booking_id,
    max(requested_v).3 AS station_id,
    max(confirmed_v).3 AS venue_id,
    CAST(if(isNull(nullIf(max(confirmed_v).2, toUUID('00000000-0000-0000-0000-000000000000'))),
            NULL, max(confirmed_v).4) AS Nullable(DateTime64(3, 'UTC'))) AS starts_at,
    CAST(if(isNull(nullIf(max(confirmed_v).2, toUUID('00000000-0000-0000-0000-000000000000'))),
            NULL, max(confirmed_v).5) AS Nullable(DateTime64(3, 'UTC'))) AS ends_at,
    toUInt8(max(requested)) AS requested,
    toUInt8(max(confirmed)) AS confirmed,
    toUInt8(max(rejected)) AS rejected,
    toUInt8(max(cancelled)) AS cancelled,
    toUInt8(max(no_show)) AS no_show
FROM {db}.booking_states
GROUP BY booking_id;

DROP VIEW IF EXISTS {db}.registration_state;

CREATE VIEW {db}.registration_state AS
SELECT
    registration_id,
    max(submitted_v).3 AS activity_id,
    max(submitted_v).4 AS resident,
    ifNull(min(registered_at), toDateTime64(0, 3, 'UTC')) AS registered_at,
    toUInt8(max(submitted)) AS submitted,
    toUInt8(max(cancelled)) AS cancelled
FROM {db}.registration_states
GROUP BY registration_id
