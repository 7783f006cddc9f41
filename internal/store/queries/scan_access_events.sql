-- scan_access_events: every access event with occurred_at in [from, to)
-- at millisecond precision, optionally of one org, in event-time order
-- (occurred_at, event_id), every column of the event (Reader.ScanEvents,
-- merged with scan_device_events for `vigil rules backfill --source store`).
--
-- access_events is ordered by (toStartOfHour(occurred_at), event_id): the
-- whole seconds of the range select the hours; the millisecond bounds then
-- cut exactly. LIMIT 1 BY event_id keeps one copy of an event written twice
-- (copies are identical).
--
-- Parameters, in order: first and last whole second of the range; from and
-- to in Unix milliseconds (half-open); the org twice (empty: every org).
-- params: 1700000000, 1700086399, 1700000000000, 1700086400000, '', ''
SELECT
    event_id,
    occurred_at,
    occurred_ms,
    received_at,
    received_ms,
    source,
    org,
    actor_id,
    actor_type,
    actor_role,
    actor_department,
    action,
    subject_id,
    subject_type,
    subject_minor,
    subject_vip,
    subject_employee,
    categories,
    record_count,
    purpose,
    relationship,
    outcome,
    client_ip,
    client_user_agent,
    client_device_id,
    client_geo_country,
    client_geo_region,
    client_geo_city,
    client_geo_lat,
    client_geo_lon,
    session_id,
    request_id,
    attr_keys,
    attr_values
FROM ${db}.access_events
WHERE occurred_at >= toDateTime(?)
    AND occurred_at <= toDateTime(?)
    AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
    AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
    AND (? = '' OR org = ?)
ORDER BY occurred_at, occurred_ms, event_id
LIMIT 1 BY event_id
