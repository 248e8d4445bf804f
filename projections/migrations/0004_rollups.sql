-- Hourly rollup of every event by station, venue, category and activity, kept by a
-- materialized view as events are inserted, so dashboards never scan raw events.
-- Counts are exact because the sink writes each event_id once; distinct residents are kept
-- as uniqExact states so any period merges them correctly.
CREATE TABLE IF NOT EXISTS {db}.rollup_hourly
(
    hour         DateTime('UTC'),
    type         LowCardinality(String),
    station_id   LowCardinality(String),
    venue_id     LowCardinality(String),
    category     LowCardinality(String),
    activity_id  String,
    events       SimpleAggregateFunction(sum, UInt64),
    late_events  SimpleAggregateFunction(sum, UInt64),
    rating_sum   SimpleAggregateFunction(sum, UInt64),
    satisfied    SimpleAggregateFunction(sum, UInt64),
    residents    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (type, station_id, hour, venue_id, category, activity_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_hourly_mv TO {db}.rollup_hourly AS
SELECT
    toStartOfHour(occurred_at) AS hour,
    type,
    station_id,
    venue_id,
    category,
    activity_id,
    count() AS events,
    countIf(late) AS late_events,
    sum(rating) AS rating_sum,
    countIf(rating >= 4) AS satisfied,
    uniqExactState(resident) AS residents
FROM {db}.events
GROUP BY hour, type, station_id, venue_id, category, activity_id;

-- The same by day, for long periods.
CREATE TABLE IF NOT EXISTS {db}.rollup_daily
(
    day          Date,
    type         LowCardinality(String),
    station_id   LowCardinality(String),
    venue_id     LowCardinality(String),
    category     LowCardinality(String),
    activity_id  String,
    events       SimpleAggregateFunction(sum, UInt64),
    late_events  SimpleAggregateFunction(sum, UInt64),
    rating_sum   SimpleAggregateFunction(sum, UInt64),
    satisfied    SimpleAggregateFunction(sum, UInt64),
    residents    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (type, station_id, day, venue_id, category, activity_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_daily_mv TO {db}.rollup_daily AS
SELECT
    toDate(occurred_at, 'Asia/Shanghai') AS day,
    type,
    station_id,
    venue_id,
    category,
    activity_id,
    count() AS events,
    countIf(late) AS late_events,
    sum(rating) AS rating_sum,
    countIf(rating >= 4) AS satisfied,
    uniqExactState(resident) AS residents
FROM {db}.events
GROUP BY day, type, station_id, venue_id, category, activity_id;
