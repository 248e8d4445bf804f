-- Each resident's first check-in naming each activity, kept by a materialized view (backfilled
-- on migrate), so judging conflicts (sanjiang/conflicts.py: who comes past an activity's
-- capacity, who attended the activity they evaluate) reads the few rows of the activities
-- asked about instead of every check-in ever stored.
--
-- first_v is (occurred_at, event_id as text) of that first check-in: the order "first" and
-- "latest" use everywhere (DESIGN.md: event ids in their canonical text order; a UUID column
-- compares otherwise). min is idempotent: an event stored twice, or a backfill overlapping
-- the view, changes nothing. Check-ins always carry a resident (the catalog requires one).
CREATE TABLE IF NOT EXISTS {db}.activity_checkins
(
    activity_id  String,
    resident     String,
    first_v      SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), String))
)
ENGINE = AggregatingMergeTree
ORDER BY (activity_id, resident);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.activity_checkins_mv TO {db}.activity_checkins AS
SELECT
    activity_id,
    resident,
    min((occurred_at, toString(event_id))) AS first_v
FROM {db}.events
WHERE type = 'checkin.recorded' AND activity_id != '' AND resident != ''
GROUP BY activity_id, resident;
