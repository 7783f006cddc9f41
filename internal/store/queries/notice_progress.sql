-- notice_progress: notice delivery progress per incident and channel, each
-- notice in its latest version (Reader.NoticeProgress): the total, how many
-- in each state, how many neither sent nor skipped are due before now, and
-- the sum of delivery attempts. One incident's notices, or every
-- incident's; ordered by incident_id then channel.
--
-- notice_id is a hash of (incident_id, recipient, obligation), so
-- incident_id is fixed for a notice and the inner query groups by both
-- (the order key of notices) and keeps the latest version of everything
-- else (argMax by version; the channel and due time may change between
-- versions). Aliases never shadow a column name.
--
-- Parameters, in order: now in Unix milliseconds; the incident id twice
-- (empty for every incident).
-- params: 1700000000000, 'inc-1', 'inc-1'
SELECT
    incident_id,
    latest_channel,
    toUInt64(count()) AS total,
    toUInt64(countIf(latest_state = 'planned')) AS planned,
    toUInt64(countIf(latest_state = 'approved')) AS approved,
    toUInt64(countIf(latest_state = 'sending')) AS sending,
    toUInt64(countIf(latest_state = 'sent')) AS sent,
    toUInt64(countIf(latest_state = 'failed')) AS failed,
    toUInt64(countIf(latest_state = 'skipped')) AS skipped,
    toUInt64(countIf(latest_state NOT IN ('sent', 'skipped') AND latest_due < ?)) AS overdue,
    toUInt64(sum(latest_attempts)) AS attempts_total
FROM
(
    SELECT
        incident_id,
        notice_id,
        argMax(channel, version) AS latest_channel,
        argMax(state, version) AS latest_state,
        argMax(toUInt64(due_at) * 1000 + due_ms, version) AS latest_due,
        argMax(attempts, version) AS latest_attempts
    FROM ${db}.notices
    WHERE ? = '' OR incident_id = ?
    GROUP BY incident_id, notice_id
)
GROUP BY incident_id, latest_channel
ORDER BY incident_id, latest_channel
