-- dead_letter_counts: dead letters with received_at in [from, to) at
-- millisecond precision by reason and source (Reader.DeadLetterCounts):
-- how many and the sum of raw_bytes, ordered by count descending, then
-- reason, then source.
--
-- The inner query groups by dead_letter_id: one row per dead letter however
-- many copies were written (copies are identical). dead_letters is ordered
-- by (hour of received_at, dead_letter_id), so the whole seconds of the
-- range select the hours asked for. Aliases never shadow a column name.
--
-- Parameters, in order: first and last whole second of the range; from and
-- to in Unix milliseconds (half-open).
-- params: 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT
    why,
    src,
    toUInt64(count()) AS letters,
    toUInt64(sum(size)) AS bytes
FROM
(
    SELECT
        dead_letter_id,
        any(reason) AS why,
        any(source) AS src,
        any(raw_bytes) AS size
    FROM ${db}.dead_letters
    WHERE received_at >= toDateTime(?)
        AND received_at <= toDateTime(?)
        AND toUInt64(received_at) * 1000 + received_ms >= ?
        AND toUInt64(received_at) * 1000 + received_ms < ?
    GROUP BY dead_letter_id
)
GROUP BY why, src
ORDER BY letters DESC, why, src
