-- subject_history: every access to one subject's data with occurred_at in
-- [from, to) at millisecond precision, oldest first, ties by event_id
-- (Reader.SubjectHistory: "who looked at my records").
--
-- access_by_subject is ordered by (subject_id, occurred_at, event_id), so
-- the subject and the whole seconds of the range select a few index
-- granules; the millisecond bounds then cut exactly. An event written twice
-- (Kafka redelivery) sits there twice until parts merge, and its copies are
-- identical: LIMIT 1 BY event_id keeps one.
--
-- Parameters, in order: subject token; first and last whole second of the
-- range (from rounded down, to minus 1 ms rounded down); from and to in Unix
-- milliseconds (half-open).
-- params: 'p_abc', 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT
    event_id,
    occurred_at,
    occurred_ms,
    org,
    source,
    actor_id,
    actor_type,
    actor_role,
    actor_department,
    action,
    subject_type,
    categories,
    record_count,
    purpose,
    relationship,
    outcome
FROM ${db}.access_by_subject
WHERE subject_id = ?
    AND occurred_at >= toDateTime(?)
    AND occurred_at <= toDateTime(?)
    AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
    AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
ORDER BY occurred_at, occurred_ms, event_id
LIMIT 1 BY event_id
