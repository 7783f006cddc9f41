-- actor_activity: what one actor touched per UTC hour of occurred_at and
-- data category, for occurred_at in [from, to) at millisecond precision
-- (Reader.ActorActivity): events, distinct non-empty subjects, the sum of
-- record_count and the denied events, one row per (hour, category) that has
-- events, ordered by hour then category.
--
-- The inner query unrolls categories and groups by (event_id, category):
-- one row per event and category however many copies of the event were
-- written and however often the event names the category. Events without
-- categories (logins) unroll to nothing. Aliases never shadow a column name
-- (ClickHouse 18.16 would substitute the aggregate into WHERE).
--
-- Parameters, in order: org; actor id; first and last whole second of the
-- range; from and to in Unix milliseconds (half-open).
-- params: 'hosp-1', 'staff-42', 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT
    toUInt64(intDiv(at_sec, 3600) * 3600) AS hour_start,
    category,
    toUInt64(count()) AS events,
    toUInt64(uniqExactIf(subject, subject != '')) AS subjects,
    toUInt64(sum(records)) AS records_total,
    toUInt64(countIf(result = 'denied')) AS denied
FROM
(
    SELECT
        event_id,
        category,
        any(toUInt32(occurred_at)) AS at_sec,
        any(subject_id) AS subject,
        any(record_count) AS records,
        any(outcome) AS result
    FROM ${db}.access_by_actor
    ARRAY JOIN categories AS category
    WHERE org = ?
        AND actor_id = ?
        AND occurred_at >= toDateTime(?)
        AND occurred_at <= toDateTime(?)
        AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
        AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
    GROUP BY event_id, category
)
GROUP BY hour_start, category
ORDER BY hour_start, category
