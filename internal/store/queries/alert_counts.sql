-- alert_counts: distinct alerts by bucket of window_start, rule and
-- severity, for window_start in [from, to) at millisecond precision
-- (Reader.AlertCounts), each alert in its latest version: how many, how
-- many of them open, and the sum of their counts. Ordered by bucket,
-- rule_id, severity. Buckets start at multiples of the bucket length from
-- the Unix epoch (the length is whole minutes, so the milliseconds never
-- move an alert to another bucket).
--
-- The inner query keeps the latest version of each alert (argMax by
-- version; an older version written after a newer one loses). rule_id and
-- window_start are inputs of alert_id's hash, fixed for an id, so filtering
-- on window_start before the grouping is exact. Aliases never shadow a
-- column name.
--
-- Parameters, in order: the bucket length in seconds, twice; first and last
-- whole second of the range; from and to in Unix milliseconds (half-open).
-- params: 300, 300, 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT
    toUInt64(intDiv(start_sec, ?) * ?) AS bucket_start,
    rule,
    latest_severity,
    toUInt64(count()) AS alerts,
    toUInt64(countIf(latest_status = 'open')) AS open_alerts,
    toUInt64(sum(latest_count)) AS events
FROM
(
    SELECT
        alert_id,
        any(rule_id) AS rule,
        any(toUInt32(window_start)) AS start_sec,
        argMax(severity, version) AS latest_severity,
        argMax(status, version) AS latest_status,
        argMax(count, version) AS latest_count
    FROM ${db}.alerts
    WHERE window_start >= toDateTime(?)
        AND window_start <= toDateTime(?)
        AND toUInt64(window_start) * 1000 + window_start_ms >= ?
        AND toUInt64(window_start) * 1000 + window_start_ms < ?
    GROUP BY alert_id
)
GROUP BY bucket_start, rule, latest_severity
ORDER BY bucket_start, rule, latest_severity
