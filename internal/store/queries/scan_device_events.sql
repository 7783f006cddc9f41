-- scan_device_events: every device event with occurred_at in [from, to)
-- at millisecond precision, optionally of one org, in event-time order
-- (occurred_at, event_id), every column of the event (Reader.ScanEvents,
-- merged with scan_access_events).
--
-- device_events is ordered by device first, so this reads the months of
-- the range (the partitions) and filters; backfills are rare, bounded
-- reads. LIMIT 1 BY event_id keeps one copy of an event written twice.
--
-- Parameters, in order: first and last whole second of the range; from and
-- to in Unix milliseconds (half-open); the org twice (empty: every org).
-- params: 1700000000, 1700086399, 1700000000000, 1700086400000, 'hosp-1', 'hosp-1'
SELECT
    event_id,
    occurred_at,
    occurred_ms,
    received_at,
    received_ms,
    source,
    org,
    account_id,
    device_id,
    kind,
    device_model,
    device_os,
    device_os_version,
    device_app_version,
    signal_emulator,
    signal_rooted,
    signal_hook_framework,
    signal_debugger,
    signal_app_tampered,
    signal_proxy_or_vpn,
    signal_multi_open,
    signal_location_spoofed,
    signal_remote_control,
    network_ip,
    network_carrier,
    network_wifi_bssid,
    location_lat,
    location_lon,
    location_accuracy_m,
    outcome,
    attr_keys,
    attr_values
FROM ${db}.device_events
WHERE occurred_at >= toDateTime(?)
    AND occurred_at <= toDateTime(?)
    AND toUInt64(occurred_at) * 1000 + occurred_ms >= ?
    AND toUInt64(occurred_at) * 1000 + occurred_ms < ?
    AND (? = '' OR org = ?)
ORDER BY occurred_at, occurred_ms, event_id
LIMIT 1 BY event_id
