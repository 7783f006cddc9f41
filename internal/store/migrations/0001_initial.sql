-- 0001_initial: the first schema of Vigil's system of record.
--
-- ${db} is replaced by the target database name before a statement runs
-- (Migrate checks the name is a plain identifier). Every statement is
-- idempotent (IF NOT EXISTS), so a migration that failed half-way, or that
-- two instances run at once, can simply run again.
--
-- Compatibility (DESIGN.md): every statement runs on ClickHouse 18.16 and on
-- current ClickHouse (scripts/chdb_check.py checks the latter). So: times are
-- DateTime('UTC') with a separate UInt16 *_ms column for the milliseconds of
-- the event contract (no DateTime64); booleans are UInt8 (no Bool); string
-- maps are two parallel arrays *_keys / *_values (no Map, no JSON); enums are
-- String (no LowCardinality, no Enum to ALTER when a value is added); absent
-- times are 1970-01-01 00:00:00 (zero); no TTL: retention drops whole
-- monthly partitions (internal/store/retention.go).
--
-- Why these engines and keys:
--
-- * Every table is PARTITION BY toYYYYMM(<a time fixed for the record's
--   id>), so retention can drop a month with ALTER TABLE … DROP PARTITION
--   and a redelivered copy of a record always lands in the same partition as
--   the first copy (ReplacingMergeTree only collapses rows inside one
--   partition). DateTime('UTC') makes the month the UTC month whatever the
--   server's time zone.
--
-- * Every table is a ReplacingMergeTree whose ORDER BY key ends with the
--   record's id and whose other key columns are fixed for that id (they are
--   part of the record the id names, or inputs of the id's hash). A row
--   written twice (Kafka redelivery after a crash, a retried batch) has the
--   same key and collapses to one row when parts merge. Merges are eventual,
--   so queries that must never show a duplicate also deduplicate (FINAL,
--   argMax(…, version) or LIMIT 1 BY id); the engine keeps the table from
--   growing with redeliveries.
--
-- * Records that change over time (alerts, incidents, notices: "the latest
--   record wins") have a version UInt64 column, the engine's version
--   parameter: the row with the largest version survives a merge. The sink
--   sets it to the Kafka offset of the record: one id is one record key, one
--   key stays on one partition, so a newer state has a larger offset.
--   Immutable events have no version: copies are identical.
--
-- * The lookup orderings the issue asks for are separate tables filled by
--   materialized views (TO <table>, so the target is an ordinary table that
--   retention and backups see by name): access_by_subject ordered by
--   (subject_id, occurred_at, event_id) for "who accessed this person's
--   data", access_by_actor by (org, actor_id, occurred_at, event_id) for
--   "what did this staff member touch". A view fires on every inserted
--   block, so a redelivered event is inserted into them again; they are
--   ReplacingMergeTree ending with event_id for the same reason as above.

-- access_events: one row per AccessEvent (vigil.access.v1).
-- ORDER BY (toStartOfHour(occurred_at), event_id): dedup by event_id (the
-- hour is fixed for an event: occurred_at is part of the record) while
-- time-range scans (ingest health, exports by period) read only the hours
-- asked for. Per-subject and per-actor lookups use the tables below.
CREATE TABLE IF NOT EXISTS ${db}.access_events (
    event_id String,
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    received_at DateTime('UTC'),
    received_ms UInt16,
    source String,
    org String,
    actor_id String,
    actor_type String,
    actor_role String,
    actor_department String,
    action String,
    subject_id String,
    subject_type String,
    subject_minor UInt8,
    subject_vip UInt8,
    subject_employee UInt8,
    categories Array(String),
    record_count UInt64,
    purpose String,
    relationship String,
    outcome String,
    client_ip String,
    client_user_agent String,
    client_device_id String,
    client_geo_country String,
    client_geo_region String,
    client_geo_city String,
    client_geo_lat Nullable(Float64),
    client_geo_lon Nullable(Float64),
    session_id String,
    request_id String,
    attr_keys Array(String),
    attr_values Array(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (toStartOfHour(occurred_at), event_id);

-- access_by_subject: "who accessed this person's data" (subject access
-- history). Ordered by subject token first so one person's history is one
-- contiguous range per month; logins without a subject are left out.
CREATE TABLE IF NOT EXISTS ${db}.access_by_subject (
    subject_id String,
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    event_id String,
    subject_type String,
    subject_minor UInt8,
    subject_vip UInt8,
    subject_employee UInt8,
    org String,
    source String,
    actor_id String,
    actor_type String,
    actor_role String,
    actor_department String,
    action String,
    categories Array(String),
    record_count UInt64,
    purpose String,
    relationship String,
    outcome String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (subject_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.access_by_subject_mv TO ${db}.access_by_subject AS
SELECT
    subject_id, occurred_at, occurred_ms, event_id, subject_type, subject_minor, subject_vip,
    subject_employee, org, source, actor_id, actor_type, actor_role, actor_department, action,
    categories, record_count, purpose, relationship, outcome
FROM ${db}.access_events
WHERE subject_id != '';

-- access_by_actor: "what did this actor touch" (actor activity, top actors).
-- Actor ids are unique only within a tenant (the Kafka key is org/actor), so
-- org leads the key.
CREATE TABLE IF NOT EXISTS ${db}.access_by_actor (
    org String,
    actor_id String,
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    event_id String,
    actor_type String,
    actor_role String,
    actor_department String,
    action String,
    subject_id String,
    subject_type String,
    subject_minor UInt8,
    categories Array(String),
    record_count UInt64,
    relationship String,
    outcome String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (org, actor_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.access_by_actor_mv TO ${db}.access_by_actor AS
SELECT
    org, actor_id, occurred_at, occurred_ms, event_id, actor_type, actor_role, actor_department,
    action, subject_id, subject_type, subject_minor, categories, record_count, relationship, outcome
FROM ${db}.access_events;

-- device_events: one row per DeviceEvent (vigil.device.v1). Ordered by
-- device token (the Kafka key and what device-risk queries filter on), then
-- time, then event_id for dedup (device_id and occurred_at are fixed for an
-- event).
CREATE TABLE IF NOT EXISTS ${db}.device_events (
    event_id String,
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    received_at DateTime('UTC'),
    received_ms UInt16,
    source String,
    org String,
    account_id String,
    device_id String,
    kind String,
    device_model String,
    device_os String,
    device_os_version String,
    device_app_version String,
    signal_emulator UInt8,
    signal_rooted UInt8,
    signal_hook_framework UInt8,
    signal_debugger UInt8,
    signal_app_tampered UInt8,
    signal_proxy_or_vpn UInt8,
    signal_multi_open UInt8,
    signal_location_spoofed UInt8,
    signal_remote_control UInt8,
    network_ip String,
    network_carrier String,
    network_wifi_bssid String,
    location_lat Nullable(Float64),
    location_lon Nullable(Float64),
    location_accuracy_m Float64,
    outcome String,
    attr_keys Array(String),
    attr_values Array(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (device_id, occurred_at, event_id);

-- dead_letters: one row per DeadLetter (vigil.deadletter.v1). Partitioned by
-- received_at (the only time a rejected input surely has); ordered by hour
-- then dead_letter_id, like access_events ("dead letters by reason" over a
-- period).
CREATE TABLE IF NOT EXISTS ${db}.dead_letters (
    dead_letter_id String,
    received_at DateTime('UTC'),
    received_ms UInt16,
    source String,
    receiver String,
    kind String,
    reason String,
    problems Array(String),
    location String,
    event_id String,
    raw String,
    raw_bytes UInt64,
    truncated UInt8
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (toStartOfHour(received_at), dead_letter_id);

-- alerts: latest state of each Alert (vigil.alerts.v1). alert_id is a hash
-- of (rule_id, group_key, window_start), so rule_id and window_start are
-- fixed for an id: ordering by them first serves "alerts by rule and
-- severity over time" and still collapses copies of one alert_id.
CREATE TABLE IF NOT EXISTS ${db}.alerts (
    alert_id String,
    version UInt64,
    rule_id String,
    rule_title String,
    severity String,
    group_key String,
    window_start DateTime('UTC'),
    window_start_ms UInt16,
    window_end DateTime('UTC'),
    window_end_ms UInt16,
    first_seen DateTime('UTC'),
    first_seen_ms UInt16,
    last_seen DateTime('UTC'),
    last_seen_ms UInt16,
    count UInt64,
    distinct_subjects UInt64,
    categories Array(String),
    evidence Array(String),
    explanation String,
    actor_id String,
    device_id String,
    org String,
    status String
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (rule_id, window_start, alert_id);

-- incidents: latest full state of each Incident (vigil.incidents.v1),
-- partitioned by detected_at (fixed for an incident: when its first alert
-- was raised). The transitions are kept as parallel arrays in the record as
-- written; incident_transitions below gives the state history one row per
-- change.
CREATE TABLE IF NOT EXISTS ${db}.incidents (
    incident_id String,
    version UInt64,
    state String,
    detected_at DateTime('UTC'),
    detected_ms UInt16,
    aware_at DateTime('UTC'),
    aware_ms UInt16,
    alert_ids Array(String),
    actor_id String,
    org String,
    severity String,
    scope_people UInt64,
    scope_minors UInt64,
    scope_categories Array(String),
    scope_jurisdictions Array(String),
    transition_from Array(String),
    transition_to Array(String),
    transition_at Array(DateTime('UTC')),
    transition_ms Array(UInt16),
    transition_by Array(String),
    transition_reason Array(String)
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(detected_at)
ORDER BY incident_id;

-- incident_transitions: the state history, one row per transition, filled
-- from every incident record by ARRAY JOIN. An incident record repeats its
-- whole history, so (incident_id, seq) — seq is the 1-based position in the
-- history, which only grows — collapses the repeats; the same partition key
-- as incidents keeps an incident and its history in one month.
CREATE TABLE IF NOT EXISTS ${db}.incident_transitions (
    incident_id String,
    seq UInt32,
    version UInt64,
    detected_at DateTime('UTC'),
    from_state String,
    to_state String,
    at DateTime('UTC'),
    at_ms UInt16,
    changed_by String,
    reason String
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(detected_at)
ORDER BY (incident_id, seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.incident_transitions_mv TO ${db}.incident_transitions AS
SELECT
    incident_id,
    toUInt32(n) AS seq,
    version,
    detected_at,
    from_state,
    to_state,
    at,
    at_ms,
    changed_by,
    reason
FROM ${db}.incidents
ARRAY JOIN
    arrayEnumerate(transition_to) AS n,
    transition_from AS from_state,
    transition_to AS to_state,
    transition_at AS at,
    transition_ms AS at_ms,
    transition_by AS changed_by,
    transition_reason AS reason;

-- notices: latest state of each Notice (vigil.notices.v1). notice_id is a
-- hash of (incident_id, recipient_token, obligation), so incident_id is fixed
-- for an id: ordering by it first serves "delivery progress per incident
-- and channel". Partitioned by due_at, the deadline the notifier fixes when
-- it plans the notice; should it ever move a deadline across a month, the
-- two copies sit in two partitions and only query-side dedup (argMax by
-- version) merges them.
CREATE TABLE IF NOT EXISTS ${db}.notices (
    notice_id String,
    version UInt64,
    incident_id String,
    obligation String,
    regime String,
    recipient_token String,
    recipient_kind String,
    channel String,
    language String,
    due_at DateTime('UTC'),
    due_ms UInt16,
    state String,
    attempts UInt32,
    sent_at DateTime('UTC'),
    sent_ms UInt16,
    message_id String,
    last_error String
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(due_at)
ORDER BY (incident_id, notice_id);

-- deliveries: one row per delivery attempt of a notice, with the attempt's
-- latest known result, filled from notice records that report an attempt
-- (attempts > 0). Keyed by (incident_id, notice_id, attempt); the highest
-- version (the latest notice record) tells how that attempt ended.
CREATE TABLE IF NOT EXISTS ${db}.deliveries (
    incident_id String,
    notice_id String,
    attempt UInt32,
    version UInt64,
    due_at DateTime('UTC'),
    channel String,
    recipient_kind String,
    state String,
    sent_at DateTime('UTC'),
    sent_ms UInt16,
    message_id String,
    error String
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(due_at)
ORDER BY (incident_id, notice_id, attempt);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.deliveries_mv TO ${db}.deliveries AS
SELECT
    incident_id,
    notice_id,
    attempts AS attempt,
    version,
    due_at,
    channel,
    recipient_kind,
    state,
    sent_at,
    sent_ms,
    message_id,
    last_error AS error
FROM ${db}.notices
WHERE attempts > 0;
