-- top_actors: actors ranked over a window of occurred_at, [from, to) at
-- millisecond precision, optionally within one org (Reader.TopActors).
-- Per actor: all events (logins included), distinct non-empty subjects,
-- events touching a sensitive category and the distinct non-empty subjects
-- of those, and the sum of record_count. Ordered by the ranking's figure
-- descending (subjects or sensitive events), then events descending, then
-- org, then actor_id; at most limit rows.
--
-- The inner query groups by (org, actor_id, event_id): one row per event
-- however many copies were written. Aliases never shadow a column name.
--
-- Parameters, in order: the sensitive categories (event.SensitiveCategories);
-- org twice (empty for every org); first and last whole second of the range;
-- from and to in Unix milliseconds (half-open); the ranking ('subjects' or
-- 'sensitive'); the limit.
-- params: ['id_number', 'biometric', 'health'], 'hosp-1', 'hosp-1', 1700000000, 1700086399, 1700000000000, 1700086400000, 'subjects', 10
SELECT
    org_id,
    actor,
    toUInt64(count()) AS events,
    toUInt64(uniqExactIf(subject, subject != '')) AS subjects,
    toUInt64(countIf(sensitive = 1)) AS sensitive_events,
    toUInt64(uniqExactIf(subject, sensitive = 1 AND subject != '')) AS sensitive_subjects,
    toUInt64(sum(records)) AS records_total
FROM
(
    SELECT
        org AS org_id,
        actor_id AS actor,
        event_id,
        any(subject_id) AS subject,
        any(record_count) AS records,
        max(hasAny(categories, CAST(? AS Array(String)))) AS sensitive
    FROM ${db}.access_by_actor
    WHERE (? = '' OR org = ?)
        AND occurred_at >= toDateTime(?)
        AND occurred_at <= toDateTime(?)
        AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
        AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
    GROUP BY org, actor_id, event_id
)
GROUP BY org_id, actor
ORDER BY if(? = 'subjects', subjects, sensitive_events) DESC, events DESC, org_id, actor
LIMIT ?
