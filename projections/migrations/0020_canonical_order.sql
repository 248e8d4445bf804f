-- "Latest" and "first" are one order everywhere, live and here (DESIGN.md): occurred_at to the
-- microsecond, then event_id in its canonical text order. Until now the warehouse ranked events
-- by occurred_at to the millisecond (the DateTime64(3) column, which stays: it is in the sorting
-- and partition keys) and by event_id as a ClickHouse UUID, which compares an id's second half
-- before its first: for UUIDv7 ids of one millisecond, whose first half counts up (a process's
-- ids, the events one decision writes), that order is the random second half's. So two
-- evaluations, or two updates, of one millisecond could be decided otherwise than live.
--
-- occurred_at_us is the instant to the microsecond (projections/rows.py writes it). Rows stored
-- before this migration read their millisecond (the default) until `sanjiang replay` rebuilds
-- the warehouse from the log. The order is the tuple (occurred_at_us, toString(event_id)): the
-- canonical text is lowercase hex at fixed places, so it sorts as the 128-bit id does (RFC 9562;
-- tests/warehouse/test_order.py holds both to it).
ALTER TABLE {db}.events
    ADD COLUMN IF NOT EXISTS occurred_at_us DateTime64(6, 'UTC') DEFAULT occurred_at
    AFTER occurred_at;

-- The state tables of 0006, 0014, 0015 and 0016 keep versions as tuples whose first two
-- elements are that order: rebuilt with (DateTime64(6), String, …) instead of (DateTime64(3),
-- UUID or String, …), from the events stored (migrate backfills a materialized view's table),
-- and their views with them. "Nothing yet" is the empty id: an event that does not carry the
-- field contributes (1900-01-01, '', defaults), which any real event beats.
DROP VIEW IF EXISTS {db}.activity_state;
DROP VIEW IF EXISTS {db}.booking_state;
DROP VIEW IF EXISTS {db}.registration_state;
DROP VIEW IF EXISTS {db}.activity_states_mv;
DROP VIEW IF EXISTS {db}.booking_states_mv;
DROP VIEW IF EXISTS {db}.registration_states_mv;
DROP VIEW IF EXISTS {db}.activity_checkins_mv;
DROP VIEW IF EXISTS {db}.activity_rules_mv;
DROP TABLE IF EXISTS {db}.activity_states;
DROP TABLE IF EXISTS {db}.booking_states;
DROP TABLE IF EXISTS {db}.registration_states;
DROP TABLE IF EXISTS {db}.activity_checkins;
DROP TABLE IF EXISTS {db}.activity_rules;

CREATE TABLE {db}.activity_states
(
    activity_id   String,
    -- station_id, category, program of the latest activity.published
    published_v   SimpleAggregateFunction(max,
                      Tuple(DateTime64(6, 'UTC'), String, String, String, String)),
    venue_v       SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, String)),
    starts_v      SimpleAggregateFunction(max,
                      Tuple(DateTime64(6, 'UTC'), String, DateTime64(3, 'UTC'))),
    ends_v        SimpleAggregateFunction(max,
                      Tuple(DateTime64(6, 'UTC'), String, DateTime64(3, 'UTC'))),
    capacity_v    SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, UInt32)),
    -- whether it requires registration (0015)
    required_v    SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, Bool)),
    published     SimpleAggregateFunction(max, UInt8),
    cancelled     SimpleAggregateFunction(max, UInt8),
    designed_at   SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    published_at  SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY activity_id;

CREATE MATERIALIZED VIEW {db}.activity_states_mv TO {db}.activity_states AS
SELECT
    activity_id,
    max(if(type = 'activity.published',
           (occurred_at_us, toString(event_id), station_id, category, program),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', '', '', ''))) AS published_v,
    max(if(type IN ('activity.published', 'activity.updated') AND venue_id != '',
           (occurred_at_us, toString(event_id), venue_id),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', ''))) AS venue_v,
    max(if(type IN ('activity.published', 'activity.updated') AND starts_at IS NOT NULL,
           (occurred_at_us, toString(event_id), assumeNotNull(starts_at)),
           (toDateTime64('1900-01-01', 6, 'UTC'), '',
            toDateTime64('1900-01-01', 3, 'UTC')))) AS starts_v,
    max(if(type IN ('activity.published', 'activity.updated') AND ends_at IS NOT NULL,
           (occurred_at_us, toString(event_id), assumeNotNull(ends_at)),
           (toDateTime64('1900-01-01', 6, 'UTC'), '',
            toDateTime64('1900-01-01', 3, 'UTC')))) AS ends_v,
    max(if(type IN ('activity.published', 'activity.updated') AND capacity > 0,
           (occurred_at_us, toString(event_id), capacity),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', toUInt32(0)))) AS capacity_v,
    max(if(type IN ('activity.published', 'activity.updated')
               AND registration_required IS NOT NULL,
           (occurred_at_us, toString(event_id), assumeNotNull(registration_required)),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', false))) AS required_v,
    max(type = 'activity.published') AS published,
    max(type = 'activity.cancelled') AS cancelled,
    min(if(type = 'activity.designed', occurred_at, NULL)) AS designed_at,
    min(if(type = 'activity.published', occurred_at, NULL)) AS published_at
FROM {db}.events
WHERE type IN ('activity.designed', 'activity.published', 'activity.updated', 'activity.cancelled')
GROUP BY activity_id;

CREATE TABLE {db}.booking_states
(
    booking_id   String,
    -- station_id of the latest booking.requested
    requested_v  SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, String)),
    -- venue_id, starts_at, ends_at of the latest booking.confirmed
    confirmed_v  SimpleAggregateFunction(max,
                     Tuple(DateTime64(6, 'UTC'), String, String, DateTime64(3, 'UTC'),
                           DateTime64(3, 'UTC'))),
    requested    SimpleAggregateFunction(max, UInt8),
    confirmed    SimpleAggregateFunction(max, UInt8),
    rejected     SimpleAggregateFunction(max, UInt8),
    cancelled    SimpleAggregateFunction(max, UInt8),
    no_show      SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY booking_id;

CREATE MATERIALIZED VIEW {db}.booking_states_mv TO {db}.booking_states AS
SELECT
    booking_id,
    max(if(type = 'booking.requested',
           (occurred_at_us, toString(event_id), station_id),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', ''))) AS requested_v,
    max(if(type = 'booking.confirmed',
           (occurred_at_us, toString(event_id), venue_id, assumeNotNull(starts_at),
            assumeNotNull(ends_at)),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', '', toDateTime64('1900-01-01', 3, 'UTC'),
            toDateTime64('1900-01-01', 3, 'UTC')))) AS confirmed_v,
    max(type = 'booking.requested') AS requested,
    max(type = 'booking.confirmed') AS confirmed,
    max(type = 'booking.rejected') AS rejected,
    max(type = 'booking.cancelled') AS cancelled,
    max(type = 'booking.no_show') AS no_show
FROM {db}.events
WHERE type IN ('booking.requested', 'booking.confirmed', 'booking.rejected',
               'booking.cancelled', 'booking.no_show')
GROUP BY booking_id;

-- activity_id is the one each event names (see 0006).
CREATE TABLE {db}.registration_states
(
    activity_id      String,
    registration_id  String,
    -- activity_id and resident of the latest registration.submitted
    submitted_v      SimpleAggregateFunction(max,
                         Tuple(DateTime64(6, 'UTC'), String, String, String)),
    registered_at    SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    submitted        SimpleAggregateFunction(max, UInt8),
    cancelled        SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY (activity_id, registration_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW {db}.registration_states_mv TO {db}.registration_states AS
SELECT
    activity_id,
    registration_id,
    max(if(type = 'registration.submitted',
           (occurred_at_us, toString(event_id), activity_id, resident),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', '', ''))) AS submitted_v,
    min(if(type = 'registration.submitted', occurred_at, NULL)) AS registered_at,
    max(type = 'registration.submitted') AS submitted,
    max(type = 'registration.cancelled') AS cancelled
FROM {db}.events
WHERE type IN ('registration.submitted', 'registration.cancelled')
GROUP BY activity_id, registration_id;

-- Each resident's first check-in naming each activity (see 0014), first by the same order.
CREATE TABLE {db}.activity_checkins
(
    activity_id  String,
    resident     String,
    first_v      SimpleAggregateFunction(min, Tuple(DateTime64(6, 'UTC'), String))
)
ENGINE = AggregatingMergeTree
ORDER BY (activity_id, resident);

CREATE MATERIALIZED VIEW {db}.activity_checkins_mv TO {db}.activity_checkins AS
SELECT
    activity_id,
    resident,
    min((occurred_at_us, toString(event_id))) AS first_v
FROM {db}.events
WHERE type = 'checkin.recorded' AND activity_id != '' AND resident != ''
GROUP BY activity_id, resident;

-- What judging check-ins reads of the decisions (see 0016), latest by the same order.
CREATE TABLE {db}.activity_rules
(
    activity_id  String,
    published    SimpleAggregateFunction(max, UInt8),
    cancelled    SimpleAggregateFunction(max, UInt8),
    capacity_v   SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, UInt32)),
    required_v   SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, Bool))
)
ENGINE = AggregatingMergeTree
ORDER BY activity_id
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW {db}.activity_rules_mv TO {db}.activity_rules AS
SELECT
    activity_id,
    max(type = 'activity.published') AS published,
    max(type = 'activity.cancelled') AS cancelled,
    max(if(capacity > 0,
           (occurred_at_us, toString(event_id), capacity),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', toUInt32(0)))) AS capacity_v,
    max(if(registration_required IS NOT NULL,
           (occurred_at_us, toString(event_id), assumeNotNull(registration_required)),
           (toDateTime64('1900-01-01', 6, 'UTC'), '', false))) AS required_v
FROM {db}.events
WHERE type IN ('activity.published', 'activity.updated', 'activity.cancelled')
GROUP BY activity_id;

-- The views of 0006 (and 0015), same names, columns and answers, over the rebuilt tables.
CREATE VIEW {db}.activity_state AS
SELECT
    activity_id,
    max(published_v).3 AS station_id,
    max(published_v).4 AS category,
    max(published_v).5 AS program,
    max(venue_v).3 AS venue_id,
    CAST(if(max(starts_v).2 = '', NULL, max(starts_v).3) AS Nullable(DateTime64(3, 'UTC')))
        AS starts_at,
    CAST(if(max(ends_v).2 = '', NULL, max(ends_v).3) AS Nullable(DateTime64(3, 'UTC')))
        AS ends_at,
    max(capacity_v).3 AS capacity,
    toUInt8(max(published)) AS published,
    toUInt8(max(cancelled)) AS cancelled,
    ifNull(min(designed_at), toDateTime64(0, 3, 'UTC')) AS designed_at,
    ifNull(min(published_at), toDateTime64(0, 3, 'UTC')) AS published_at,
    toUInt8(max(required_v).3) AS registration_required
FROM {db}.activity_states
GROUP BY activity_id;

CREATE VIEW {db}.booking_state AS
SELECT
    booking_id,
    max(requested_v).3 AS station_id,
    max(confirmed_v).3 AS venue_id,
    CAST(if(max(confirmed_v).2 = '', NULL, max(confirmed_v).4)
         AS Nullable(DateTime64(3, 'UTC'))) AS starts_at,
    CAST(if(max(confirmed_v).2 = '', NULL, max(confirmed_v).5)
         AS Nullable(DateTime64(3, 'UTC'))) AS ends_at,
    toUInt8(max(requested)) AS requested,
    toUInt8(max(confirmed)) AS confirmed,
    toUInt8(max(rejected)) AS rejected,
    toUInt8(max(cancelled)) AS cancelled,
    toUInt8(max(no_show)) AS no_show
FROM {db}.booking_states
GROUP BY booking_id;

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
