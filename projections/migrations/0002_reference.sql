-- Reference data from the repository (station network, taxonomy), reloaded on every migrate
-- so queries can join it: venues with their opening hours, stations with populations.
CREATE TABLE IF NOT EXISTS {db}.stations
(
    station_id   String,
    kind         LowCardinality(String),
    name         String,
    lat          Float64,
    lon          Float64,
    population   UInt32
)
ENGINE = MergeTree
ORDER BY station_id;

CREATE TABLE IF NOT EXISTS {db}.venues
(
    venue_id     String,
    station_id   String,
    name         String,
    kind         LowCardinality(String),
    capacity     UInt32,
    bookable     Bool
)
ENGINE = MergeTree
ORDER BY venue_id;

-- One row per opening interval: weekday 1 = Monday … 7 = Sunday, minutes after local midnight.
CREATE TABLE IF NOT EXISTS {db}.venue_hours
(
    venue_id     String,
    station_id   String,
    weekday      UInt8,
    open_min     UInt16,
    close_min    UInt16
)
ENGINE = MergeTree
ORDER BY (venue_id, weekday, open_min);

CREATE TABLE IF NOT EXISTS {db}.categories
(
    category     String,
    name         String,
    family       LowCardinality(String),
    family_name  String
)
ENGINE = MergeTree
ORDER BY category;
