// Package event defines the records Vigil's stages exchange — the contract
// between collector, detector, sink and notifier — with their JSON form,
// their validation and their published JSON Schemas.
//
// # Topics (names and keys are defined in internal/bus)
//
// Every record is one JSON object per Kafka record, UTF-8, with snake_case
// keys; the Go types' json tags are the field names.
//
//	topic                 type         record key                   produced by
//	vigil.access.v1       AccessEvent  org "/" actor.id             collector
//	vigil.device.v1       DeviceEvent  device_id (a token)          collector
//	vigil.alerts.v1       Alert        group_key                    detector
//	vigil.incidents.v1    Incident     incident_id                  notifier
//	vigil.notices.v1      Notice       notice_id                    notifier
//
// Keys keep one actor's (or device's, group's, incident's, notice's)
// records in order on one partition. Incidents and notices are full-state
// records: the latest record for a key wins.
//
// # Access events (vigil.access.v1)
//
// One access to personal information (AccessEvent). Fields, with "req" for
// those every sender must set:
//
//	event_id       idempotency key, 1-128 bytes of [A-Za-z0-9._:-]; the collector assigns one when absent
//	occurred_at    req  when the access happened (see Timestamps)
//	received_at    when the collector accepted it; set by the collector
//	source         the system that logged it; set by the collector from the sender's credentials
//	org            req  tenant: hospital, clinic, business unit
//	actor          req  {id req, type req staff|doctor|service|admin|user, role, department}
//	action         req  read|search|export|print|download|update|delete|share|login|break_glass
//	subject        req except for login: {id req, type req patient|user|doctor, minor, vip, employee}
//	categories     req except for login, at least one, no duplicates: id_number|biometric|health|
//	               prescription|location|contact|device_id|chat|financial|account|minor_data
//	record_count   integer 0 to 10^12; 0 means not reported
//	purpose        free text: why
//	relationship   true|false|unknown — does the actor have a care or service relationship with
//	               the subject; absent is recorded as unknown
//	outcome        req  success|denied|error
//	client         {ip, user_agent, device_id, geo {country (ISO 3166-1 alpha-2), region, city, lat, lon}};
//	               geo.lat and geo.lon come together
//	session_id, request_id   the source system's ids, for tracing
//	attrs          string map, at most 64 entries, keys of [A-Za-z0-9._:-]
//
// A login touches no one's data, so its subject and categories may be
// omitted; a login to a specific account can still name it as subject.
//
// # Device-risk events (vigil.device.v1)
//
// One security-relevant step of an account on a device (DeviceEvent):
//
//	event_id, occurred_at req, received_at, source, org req   as for access events
//	account_id     req  the account (a token after the collector)
//	device_id      req  the device (a token after the collector)
//	kind           req  login|register|realname_auth|face_verify|payment|password_reset|
//	               sim_change|logout|bind_card|change_phone
//	device         {model, os, os_version, app_version}
//	signals        {emulator, rooted, hook_framework, debugger, app_tampered, proxy_or_vpn,
//	               multi_open, location_spoofed, remote_control}: true when detected
//	network        {ip, carrier, wifi_bssid (a token after the collector)}
//	location       {lat req, lon req, accuracy_m 0 to 2·10^7}, coarsened by the collector
//	outcome        req  success|failure|denied|error (failure: the user failed a check)
//	attrs          as for access events
//
// # Alerts, incidents and notices
//
// Alert, Incident and Notice are the records of the later stages; see
// their types. Their fields may grow within v1 (see Versioning).
//
// # Input and bus
//
// Senders post events without event_id, source and received_at if they
// wish; DecodeAccess and DecodeDevice accept that (the input level). The
// collector sets them, and every event on the bus must have them:
// ValidateAccess and ValidateDevice check that level, and are the check
// for events built in code. A source posted by a sender is replaced by the
// collector; a posted event_id is kept.
//
// # Timestamps
//
// Every time is a Timestamp: RFC 3339 in UTC with exactly millisecond
// precision, 2026-11-28T09:30:00.123Z. Input may use any RFC 3339 form
// (offset, any fraction digits); it is converted to UTC and truncated to the
// millisecond. Timestamps must lie in 1970–2099 (the system of record uses
// ClickHouse DateTime) and not more than Validator.MaxFutureSkew (default
// 24 h) ahead of the validator's clock.
//
// # Identifiers
//
//   - event_id: from the sender or NewEventID (a random UUIDv4); the sink
//     and every consumer deduplicate by it.
//   - alert_id: AlertID(rule_id, group_key, window_start), so re-evaluating
//     a window gives the same id.
//   - notice_id: NoticeID(incident_id, recipient_token, obligation), so a
//     crash and redelivery never send one recipient two notices for one
//     obligation.
//
// Both derived ids are the first 32 hex digits of SHA-256 over a domain
// string and the parts, each preceded by its length as a big-endian uint64.
//
// # Pseudonymous tokens
//
// The collector replaces identifiers of people and devices with keyed HMAC
// tokens before an event reaches Kafka: subject.id, account_id, device_id,
// client.device_id and network.wifi_bssid, and phone numbers, ID numbers,
// IMEI/IMSI, Android IDs and MAC addresses wherever a sender put them in
// attrs. Location is coarsened. Past the collector these fields hold
// tokens, never raw values (unless an operator explicitly allowed a field),
// and alerts, incidents and notices carry the same tokens (actor_id,
// device_id, recipient_token). The notifier resolves a token to contact
// details only at send time.
//
// # Limits
//
// The limits are constants in limits.go: MaxEventSize, MaxEventIDLen,
// MaxIDLen (identifiers), MaxStringLen (labels), MaxTextLen (free text),
// MaxAttrs, MaxAttrKeyLen, MaxRecordCount, MaxAccuracyM, MaxEvidence,
// MaxDepth, MaxProblems. Identifiers and labels must not contain control
// characters. Optional strings may be empty, which means absent.
//
// # Problems
//
// Decoding reports every problem, not just the first, each as "path:
// reason": "subject.id: required", "categories[2]: \"dna\" is not one of
// …", "actor.badge: unknown field". Unknown fields at any level, duplicate
// keys, wrong JSON types, invalid UTF-8 and values outside the rules are
// all rejected. A syntax error is reported alone.
//
// # Schemas
//
// schema/access.v1.json and schema/device.v1.json (Schema) publish the
// input-level rules as JSON Schema draft 2020-12 for senders. Tests keep
// them in agreement with the Go validator. JSON Schema cannot express
// everything: the Go validator also rejects duplicate keys, invalid UTF-8
// and unpaired surrogates, text over the byte limits (the schemas count
// characters), timestamps outside 1970–2099 or too far in the future, and
// oversized or too deeply nested input.
//
// # Versioning
//
// The version is part of the topic name and the schema name (.v1). Within
// a version, an optional field or an enum value may be added, provided
// every reader is upgraded before any writer uses it (the decoders reject
// unknown fields and values); nothing may be removed, renamed, retyped or
// made stricter. A change that breaks a reader, or that rejects input valid
// under v1, gets a new version: a new topic (vigil.access.v2), new types and
// a new schema, with both versions produced until every consumer has moved.
package event
