-- Latest state of activities, bookings and registrations, folded from their events at query
-- time (argMax by (occurred_at, event_id), so ties resolve the same way everywhere). These sets
-- are small (thousands of rows a month); the type-first ORDER BY of events makes them cheap.
CREATE VIEW IF NOT EXISTS {db}.activity_state AS
SELECT
    activity_id,
    argMaxIf(station_id, (occurred_at, event_id), type = 'activity.published') AS station_id,
    argMaxIf(category, (occurred_at, event_id), type = 'activity.published') AS category,
    argMaxIf(program, (occurred_at, event_id), type = 'activity.published') AS program,
    argMaxIf(venue_id, (occurred_at, event_id),
             type IN ('activity.published', 'activity.updated') AND venue_id != '') AS venue_id,
    argMaxIf(starts_at, (occurred_at, event_id),
             type IN ('activity.published', 'activity.updated') AND starts_at IS NOT NULL) AS starts_at,
    argMaxIf(ends_at, (occurred_at, event_id),
             type IN ('activity.published', 'activity.updated') AND ends_at IS NOT NULL) AS ends_at,
    argMaxIf(capacity, (occurred_at, event_id),
             type IN ('activity.published', 'activity.updated') AND capacity > 0) AS capacity,
    countIf(type = 'activity.published') > 0 AS published,
    countIf(type = 'activity.cancelled') > 0 AS cancelled,
    minIf(occurred_at, type = 'activity.designed') AS designed_at,
    minIf(occurred_at, type = 'activity.published') AS published_at
FROM {db}.events
WHERE type IN ('activity.designed', 'activity.published', 'activity.updated', 'activity.cancelled')
GROUP BY activity_id;

CREATE VIEW IF NOT EXISTS {db}.booking_state AS
SELECT
    booking_id,
    argMaxIf(station_id, (occurred_at, event_id), type = 'booking.requested') AS station_id,
    argMaxIf(venue_id, (occurred_at, event_id), type = 'booking.confirmed') AS venue_id,
    argMaxIf(starts_at, (occurred_at, event_id), type = 'booking.confirmed') AS starts_at,
    argMaxIf(ends_at, (occurred_at, event_id), type = 'booking.confirmed') AS ends_at,
    countIf(type = 'booking.requested') > 0 AS requested,
    countIf(type = 'booking.confirmed') > 0 AS confirmed,
    countIf(type = 'booking.rejected') > 0 AS rejected,
    countIf(type = 'booking.cancelled') > 0 AS cancelled,
    countIf(type = 'booking.no_show') > 0 AS no_show
FROM {db}.events
WHERE type IN ('booking.requested', 'booking.confirmed', 'booking.rejected',
               'booking.cancelled', 'booking.no_show')
GROUP BY booking_id;

CREATE VIEW IF NOT EXISTS {db}.registration_state AS
SELECT
    registration_id,
    argMaxIf(activity_id, (occurred_at, event_id), type = 'registration.submitted') AS activity_id,
    argMaxIf(resident, (occurred_at, event_id), type = 'registration.submitted') AS resident,
    minIf(occurred_at, type = 'registration.submitted') AS registered_at,
    countIf(type = 'registration.submitted') > 0 AS submitted,
    countIf(type = 'registration.cancelled') > 0 AS cancelled
FROM {db}.events
WHERE type IN ('registration.submitted', 'registration.cancelled')
GROUP BY registration_id;
