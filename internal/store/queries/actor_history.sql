-- actor_history: every event of one actor (org + actor id) with
-- occurred_at in [from, to) at millisecond precision, logins included,
-- oldest first, ties by event_id (Reader.ActorHistory).
--
-- access_by_actor is ordered by (org, actor_id, occurred_at, event_id): the
-- actor and the whole seconds of the range select a few index granules;
-- the millisecond bounds then cut exactly. LIMIT 1 BY event_id keeps one
-- copy of an event written twice (copies are identical).
--
-- Parameters, in order: org; actor id; first and last whole second of the
-- range; from and to in Unix milliseconds (half-open).
-- params: 'hosp-1', 'staff-42', 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT
    event_id,
    occurred_at,
    occurred_ms,
    actor_type,
    actor_role,
    actor_department,
    action,
    subject_id,
    subject_type,
    subject_minor,
    categories,
    record_count,
    relationship,
    outcome
FROM ${db}.access_by_actor
WHERE org = ?
    AND actor_id = ?
    AND occurred_at >= toDateTime(?)
    AND occurred_at <= toDateTime(?)
    AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
    AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
ORDER BY occurred_at, occurred_ms, event_id
LIMIT 1 BY event_id
