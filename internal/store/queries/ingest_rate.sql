-- ingest_rate: events per minute of received_at, source and kind
-- ("access", "device"), for received_at in [from, to) at millisecond
-- precision (Reader.IngestRate); ordered by minute, source, kind.
--
-- Each side groups by event_id, so an event counts once however many
-- copies were written; should copies differ in received_at (a sender that
-- resent an event_id), the earliest in the range counts. received_at is not
-- in either table's key: the range is a scan (of two narrow columns and
-- the event ids).
--
-- Parameters, in order: for access_events and then for device_events, the
-- first and last whole second of the range and from and to in Unix
-- milliseconds (half-open).
-- params: 1700000000, 1700086399, 1700000000000, 1700086400000, 1700000000, 1700086399, 1700000000000, 1700086400000
SELECT
    toUInt64(intDiv(first_received, 60000) * 60) AS minute_start,
    src,
    kind,
    toUInt64(count()) AS events
FROM
(
    SELECT
        event_id,
        any(source) AS src,
        'access' AS kind,
        min(toUInt64(received_at) * 1000 + received_ms) AS first_received
    FROM ${db}.access_events
    WHERE received_at >= toDateTime(?)
        AND received_at <= toDateTime(?)
        AND toUInt64(received_at) * 1000 + received_ms >= ?
        AND toUInt64(received_at) * 1000 + received_ms < ?
    GROUP BY event_id
    UNION ALL
    SELECT
        event_id,
        any(source) AS src,
        'device' AS kind,
        min(toUInt64(received_at) * 1000 + received_ms) AS first_received
    FROM ${db}.device_events
    WHERE received_at >= toDateTime(?)
        AND received_at <= toDateTime(?)
        AND toUInt64(received_at) * 1000 + received_ms >= ?
        AND toUInt64(received_at) * 1000 + received_ms < ?
    GROUP BY event_id
)
GROUP BY minute_start, src, kind
ORDER BY minute_start, src, kind
