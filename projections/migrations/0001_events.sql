-- The append-only event log in the warehouse: one row per event_id (the sink drops ids it has
-- already written), typed columns for what queries filter and group on, the payload in full.
--
-- ORDER BY (type, station_id, occurred_at): almost every query selects one or a few event
-- types, then a scope (station), then a period — so the primary index prunes by all three.
-- PARTITION BY month of occurred_at: periods map to few partitions; old months can be moved
-- or dropped whole. Late events land in their own (older) month, as they should.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id         UUID,
    type             LowCardinality(String),
    schema_version   UInt16,
    occurred_at      DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    station_id       LowCardinality(String),
    source           LowCardinality(String),
    resident         String,
    late             Bool,
    venue_id         LowCardinality(String),
    activity_id      String,
    booking_id       String,
    registration_id  String,
    visit_id         String,
    demand_id        String,
    category         LowCardinality(String),
    program          LowCardinality(String),
    rating           UInt8,
    capacity         UInt32,
    starts_at        Nullable(DateTime64(3, 'UTC')),
    ends_at          Nullable(DateTime64(3, 'UTC')),
    age_band         LowCardinality(String),
    minor            Bool,
    payload          String,
    kafka_partition  Int32,
    kafka_offset     Int64,
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (type, station_id, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Every event_id written, ordered by id: the sink's "seen already?" lookup reads only this.
CREATE TABLE IF NOT EXISTS {db}.event_ids
(
    event_id     UUID,
    occurred_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY event_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_ids_mv TO {db}.event_ids AS
SELECT event_id, occurred_at FROM {db}.events;

-- Sink progress per topic partition (what was last written; Kafka's commit follows it).
CREATE TABLE IF NOT EXISTS {db}.sink_progress
(
    topic       String,
    partition   Int32,
    offset      Int64,
    written_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY (topic, partition);
