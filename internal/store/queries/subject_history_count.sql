-- subject_history_count: how many rows subject_history streams for the
-- same parameters (Reader.CountSubjectHistory): the distinct event_ids of
-- one subject with occurred_at in [from, to) at millisecond precision.
--
-- Parameters, in order: subject token; first and last whole second of the
-- range; from and to in Unix milliseconds (half-open).
-- params: 'p_abc', 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT toUInt64(uniqExact(event_id)) AS events
FROM ${db}.access_by_subject
WHERE subject_id = ?
    AND occurred_at >= toDateTime(?)
    AND occurred_at <= toDateTime(?)
    AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
    AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
