-- alert_ids: the distinct ids of the alerts whose window_start is in
-- [from, to) at millisecond precision, in id order (Reader.AlertIDs: the
-- alerts `vigil rules backfill --source store` counts as already raised).
--
-- window_start is fixed for an alert id (an input of its hash), so every
-- version of an alert is in or out of the range together; GROUP BY keeps
-- one row per id.
--
-- Parameters, in order: first and last whole second of the range; from and
-- to in Unix milliseconds (half-open).
-- params: 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT alert_id
FROM ${db}.alerts
WHERE window_start >= toDateTime(?)
    AND window_start <= toDateTime(?)
    AND toUInt64(window_start) * 1000 + window_start_ms >= ?
    AND toUInt64(window_start) * 1000 + window_start_ms < ?
GROUP BY alert_id
ORDER BY alert_id
