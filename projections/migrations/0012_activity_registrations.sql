-- The registrations filed under each activity as two sets (submitted, cancelled), kept by a
-- materialized view (backfilled on migrate), so the fill rate reads one row per supplied
-- activity instead of folding each of their registrations. A registration counts when it was
-- submitted and never cancelled under the activities asked about — the same rule as folding
-- registration_states over those activities. Sets are idempotent: an event stored twice
-- changes nothing.
CREATE TABLE IF NOT EXISTS {db}.activity_registrations
(
    activity_id  String,
    submitted    SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    cancelled    SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
ORDER BY activity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.activity_registrations_mv
TO {db}.activity_registrations AS
SELECT
    activity_id,
    groupUniqArrayIf(registration_id, type = 'registration.submitted') AS submitted,
    groupUniqArrayIf(registration_id, type = 'registration.cancelled') AS cancelled
FROM {db}.events
WHERE type IN ('registration.submitted', 'registration.cancelled')
GROUP BY activity_id;
