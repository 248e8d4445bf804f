-- Operational tables for the dashboards (设备运行, live panels), written by the ops sink
-- (projections/ops_sink.py) from the live, alerts, dead-letter and telemetry topics. They are
-- copies for display: Kafka stays the record. Each table's sorting key is its identity, so a
-- record written twice (a crash before the offset commit) collapses on merge; queries read
-- them with FINAL or argMax.

-- The stream worker's latest document per live view (occupancy now, open alerts, kiosks).
CREATE TABLE IF NOT EXISTS {db}.live_views
(
    view      String,
    as_of     DateTime64(3, 'UTC'),
    document  String
)
ENGINE = ReplacingMergeTree(as_of)
ORDER BY view;

-- Alerts as they open and close; one row per (key, start) in its latest state.
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    key         String,
    kind        LowCardinality(String),
    severity    LowCardinality(String),
    scope       String,
    reason      String,
    started_at  DateTime64(3, 'UTC'),
    ended_at    Nullable(DateTime64(3, 'UTC')),
    version     Int64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (key, started_at);

-- Rejected events with the reason (the dead-letter topic's headers); the body is kept short.
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    rejected_at      DateTime64(3, 'UTC'),
    reason           LowCardinality(String),
    detail           String,
    origin           String,
    body             String,
    kafka_partition  Int32,
    kafka_offset     Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(rejected_at)
ORDER BY (kafka_partition, kafka_offset);

-- Kiosk heartbeats (the telemetry topic), kept 30 days.
CREATE TABLE IF NOT EXISTS {db}.kiosk_heartbeats
(
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    kiosk_id        LowCardinality(String),
    station_id      LowCardinality(String),
    app_version     LowCardinality(String),
    outbox_pending  UInt32,
    uptime_s        UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(occurred_at)
ORDER BY (kiosk_id, occurred_at)
TTL toDateTime(occurred_at) + INTERVAL 30 DAY;

-- End offsets of the events topic sampled over time; with sink_progress they give the
-- warehouse sink's lag.
CREATE TABLE IF NOT EXISTS {db}.topic_offsets
(
    sampled_at  DateTime64(3, 'UTC'),
    topic       LowCardinality(String),
    partition   Int32,
    end_offset  Int64
)
ENGINE = MergeTree
ORDER BY (topic, sampled_at, partition)
TTL toDateTime(sampled_at) + INTERVAL 30 DAY;
