-- actor_history_count: how many rows actor_history streams for the same
-- parameters (Reader.CountActorHistory): the distinct event_ids of one
-- actor with occurred_at in [from, to) at millisecond precision.
--
-- Parameters, in order: org; actor id; first and last whole second of the
-- range; from and to in Unix milliseconds (half-open).
-- params: 'hosp-1', 'staff-42', 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT toUInt64(uniqExact(event_id)) AS events
FROM ${db}.access_by_actor
WHERE org = ?
    AND actor_id = ?
    AND occurred_at >= toDateTime(?)
    AND occurred_at <= toDateTime(?)
    AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
    AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
