-- 0001_initial: the embedded store's first schema. It holds what
-- internal/store/migrations/0001_initial.sql holds in ClickHouse, shaped for
-- SQLite:
--
-- * Times are INTEGER milliseconds since the Unix epoch, UTC (the event
--   contract's precision); an absent time is NULL.
-- * Lists (categories, problems, alert ids, evidence) and string maps
--   (attrs) are JSON text; category lists are stored sorted and unique, so
--   queries can expand them with json_each.
-- * Each record is one row by its id. Immutable records (events, dead
--   letters) are written with INSERT … ON CONFLICT DO NOTHING, so a
--   redelivered copy changes nothing. Changing records (alerts, incidents,
--   notices) carry the version the sink gives them (the Kafka offset) and
--   are upserted only when the new version is higher, so an older state
--   written late never replaces a newer one.
-- * The ClickHouse lookup tables filled by materialized views
--   (access_by_subject, access_by_actor) are indexes here; the views that
--   explode records (incident_transitions, deliveries) are tables the writer
--   fills in the same transaction.
--
-- Migrate runs this file in one transaction with the row that records it in
-- schema_migrations.

-- access_events: one row per AccessEvent (vigil.access.v1).
CREATE TABLE access_events (
    event_id TEXT NOT NULL UNIQUE,
    occurred_ms INTEGER NOT NULL,
    received_ms INTEGER,
    source TEXT NOT NULL,
    org TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    actor_department TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_minor INTEGER NOT NULL,
    subject_vip INTEGER NOT NULL,
    subject_employee INTEGER NOT NULL,
    categories TEXT NOT NULL,
    record_count INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    relationship TEXT NOT NULL,
    outcome TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    client_user_agent TEXT NOT NULL,
    client_device_id TEXT NOT NULL,
    client_geo_country TEXT NOT NULL,
    client_geo_region TEXT NOT NULL,
    client_geo_city TEXT NOT NULL,
    client_geo_lat REAL,
    client_geo_lon REAL,
    session_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    attrs TEXT NOT NULL
);

-- "Who accessed this person's data": one subject's history is one range of
-- this index, in the order SubjectHistory returns. Logins without a subject
-- are left out (the partial index's condition; queries repeat it).
CREATE INDEX access_by_subject ON access_events (subject_id, occurred_ms, event_id)
    WHERE subject_id != '';

-- "What did this actor touch": actor ids are unique within an org only.
CREATE INDEX access_by_actor ON access_events (org, actor_id, occurred_ms, event_id);

-- Windows over all actors (TopActors) and ingest health (IngestRate).
CREATE INDEX access_by_occurred ON access_events (occurred_ms);
CREATE INDEX access_by_received ON access_events (received_ms);

-- device_events: one row per DeviceEvent (vigil.device.v1).
CREATE TABLE device_events (
    event_id TEXT NOT NULL UNIQUE,
    occurred_ms INTEGER NOT NULL,
    received_ms INTEGER,
    source TEXT NOT NULL,
    org TEXT NOT NULL,
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    device_model TEXT NOT NULL,
    device_os TEXT NOT NULL,
    device_os_version TEXT NOT NULL,
    device_app_version TEXT NOT NULL,
    signal_emulator INTEGER NOT NULL,
    signal_rooted INTEGER NOT NULL,
    signal_hook_framework INTEGER NOT NULL,
    signal_debugger INTEGER NOT NULL,
    signal_app_tampered INTEGER NOT NULL,
    signal_proxy_or_vpn INTEGER NOT NULL,
    signal_multi_open INTEGER NOT NULL,
    signal_location_spoofed INTEGER NOT NULL,
    signal_remote_control INTEGER NOT NULL,
    network_ip TEXT NOT NULL,
    network_carrier TEXT NOT NULL,
    network_wifi_bssid TEXT NOT NULL,
    location_lat REAL,
    location_lon REAL,
    location_accuracy_m REAL NOT NULL,
    outcome TEXT NOT NULL,
    attrs TEXT NOT NULL
);

CREATE INDEX device_by_device ON device_events (device_id, occurred_ms, event_id);
CREATE INDEX device_by_received ON device_events (received_ms);

-- dead_letters: one row per DeadLetter (vigil.deadletter.v1).
CREATE TABLE dead_letters (
    dead_letter_id TEXT NOT NULL UNIQUE,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    receiver TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    problems TEXT NOT NULL,
    location TEXT NOT NULL,
    event_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    raw_bytes INTEGER NOT NULL,
    truncated INTEGER NOT NULL
);

CREATE INDEX dead_letters_by_received ON dead_letters (received_ms);

-- alerts: the latest version of each Alert (vigil.alerts.v1).
CREATE TABLE alerts (
    alert_id TEXT NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    severity TEXT NOT NULL,
    group_key TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    window_end_ms INTEGER,
    first_seen_ms INTEGER,
    last_seen_ms INTEGER,
    count INTEGER NOT NULL,
    distinct_subjects INTEGER NOT NULL,
    categories TEXT NOT NULL,
    evidence TEXT NOT NULL,
    explanation TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    org TEXT NOT NULL,
    status TEXT NOT NULL
);

CREATE INDEX alerts_by_window ON alerts (window_start_ms);

-- incidents: the latest version of each Incident (vigil.incidents.v1); its
-- state history is in incident_transitions, replaced with the row.
CREATE TABLE incidents (
    incident_id TEXT NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    detected_ms INTEGER NOT NULL,
    aware_ms INTEGER,
    alert_ids TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    org TEXT NOT NULL,
    severity TEXT NOT NULL,
    scope_people INTEGER NOT NULL,
    scope_minors INTEGER NOT NULL,
    scope_categories TEXT NOT NULL,
    scope_jurisdictions TEXT NOT NULL
);

CREATE INDEX incidents_by_detected ON incidents (detected_ms, incident_id);

-- incident_transitions: the state history of the latest version of each
-- incident, one row per change; seq is the 1-based position.
CREATE TABLE incident_transitions (
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    at_ms INTEGER,
    changed_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
) WITHOUT ROWID;

-- notices: the latest version of each Notice (vigil.notices.v1).
CREATE TABLE notices (
    notice_id TEXT NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    incident_id TEXT NOT NULL,
    obligation TEXT NOT NULL,
    regime TEXT NOT NULL,
    recipient_token TEXT NOT NULL,
    recipient_kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    language TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    sent_ms INTEGER,
    message_id TEXT NOT NULL,
    last_error TEXT NOT NULL
);

CREATE INDEX notices_by_incident ON notices (incident_id, channel);

-- deliveries: one row per delivery attempt of a notice with the attempt's
-- latest known result, from every notice version that reports an attempt
-- (attempts > 0); the highest version of an attempt wins.
CREATE TABLE deliveries (
    notice_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    version INTEGER NOT NULL,
    incident_id TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    channel TEXT NOT NULL,
    recipient_kind TEXT NOT NULL,
    state TEXT NOT NULL,
    sent_ms INTEGER,
    message_id TEXT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (notice_id, attempt)
) WITHOUT ROWID;
