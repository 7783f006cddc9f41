package event_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// badCase is an invalid event and the exact problems it must produce.
type badCase struct {
	name string
	in   string
	want []string
	// goOnly says why JSON Schema cannot reach the validator's verdict on
	// this case; such cases are left out of the agreement test. Empty
	// means the schema must also reject the event.
	goOnly string
}

// Reasons for leaving a case out of the schema agreement test.
const (
	onlyDuplicateKeys = "JSON Schema sees parsed values: a duplicate key is already gone"
	onlyUTF8          = "JSON parsers hand the schema U+FFFD for invalid UTF-8 and unpaired surrogates"
	onlyClock         = "JSON Schema has no clock: future skew and the 1970-2099 range are Go-only"
	onlyBytes         = "JSON Schema's maxLength counts characters, the validator counts bytes"
	onlySize          = "JSON Schema has no limit on the size of the document"
)

// raw is JSON text used verbatim by set.
type raw = json.RawMessage

const enumActions = "read|search|export|print|download|update|delete|share|login|break_glass"
const enumCategories = "id_number|biometric|health|prescription|location|contact|device_id|chat|financial|account|minor_data"

func accessBadCases(t testing.TB) []badCase {
	b := baseAccess
	return []badCase{
		// Document level.
		{name: "empty input", in: "", want: []string{": empty input, want a JSON object"}},
		{name: "whitespace only", in: " \n\t", want: []string{": empty input, want a JSON object"}},
		{name: "array", in: "[" + b + "]", want: []string{": not a JSON object"}},
		{name: "null", in: "null", want: []string{": not a JSON object"}},
		{name: "string", in: `"event"`, want: []string{": not a JSON object"}},
		{name: "syntax error", in: replace(t, b, `"org":"hosp-1"`, `"org":hosp-1`),
			want: []string{`org: invalid JSON at byte 67: unexpected 'h', want a JSON value`}},
		{name: "truncated", in: b[:40], want: []string{"occurred_at: invalid JSON at byte 40: unterminated string"}},
		{name: "trailing comma", in: replace(t, b, `"outcome":"success"}`, `"outcome":"success",}`),
			want: []string{`: invalid JSON at byte 238: unexpected '}', want a string key`}},
		{name: "two objects", in: b + b, want: []string{": invalid JSON at byte 238: data after the JSON object"}},
		{name: "raw control character", in: replace(t, b, `"physician"`, "\"physi\tcian\""),
			want: []string{"actor.role: invalid JSON at byte 130: control character 0x9 in string, want it escaped"}},
		{name: "too large", in: b + strings.Repeat(" ", 70000),
			want: []string{": 70238 bytes, more than the limit of 65536"}, goOnly: onlySize},

		// Fields and types.
		{name: "occurred_at missing", in: del(t, b, "occurred_at"), want: []string{"occurred_at: required"}},
		{name: "occurred_at not RFC 3339", in: set(t, b, "occurred_at", "2026-11-28 09:30:00"),
			want: []string{"occurred_at: not RFC 3339"}},
		{name: "occurred_at bad month", in: set(t, b, "occurred_at", "2026-13-28T09:30:00Z"),
			want: []string{"occurred_at: not RFC 3339"}},
		{name: "occurred_at no zone", in: set(t, b, "occurred_at", "2026-11-28T09:30:00.123"),
			want: []string{"occurred_at: not RFC 3339"}},
		{name: "occurred_at leap second not at day end", in: set(t, b, "occurred_at", "2026-11-28T09:30:60Z"),
			want: []string{"occurred_at: not RFC 3339"}},
		{name: "occurred_at number", in: set(t, b, "occurred_at", 1764322200),
			want: []string{"occurred_at: wrong type: want string, got number"}},
		{name: "occurred_at 2 days ahead", in: set(t, b, "occurred_at", "2026-11-30T12:00:00.001Z"),
			want: []string{"occurred_at: more than 24h0m0s in the future"}, goOnly: onlyClock},
		{name: "occurred_at before 1970", in: set(t, b, "occurred_at", "1969-12-31T23:59:59.999Z"),
			want: []string{"occurred_at: must not be before 1970-01-01T00:00:00.000Z"}, goOnly: onlyClock},
		{name: "received_at ahead", in: set(t, b, "received_at", "2027-01-01T00:00:00+08:00"),
			want: []string{"received_at: more than 24h0m0s in the future"}, goOnly: onlyClock},
		{name: "org missing", in: del(t, b, "org"), want: []string{"org: required"}},
		{name: "org empty", in: set(t, b, "org", ""), want: []string{"org: must not be empty"}},
		{name: "org null", in: set(t, b, "org", nil), want: []string{"org: wrong type: want string, got null"}},
		{name: "actor missing", in: del(t, b, "actor"), want: []string{"actor: required"}},
		{name: "actor string", in: set(t, b, "actor", "staff-42"),
			want: []string{"actor: wrong type: want object, got string"}},
		{name: "actor.id missing", in: del(t, b, "actor.id"), want: []string{"actor.id: required"}},
		{name: "actor.id 257 bytes", in: set(t, b, "actor.id", strings.Repeat("a", 257)),
			want: []string{"actor.id: longer than 256 bytes"}},
		{name: "actor.id 258 bytes in 129 characters", in: set(t, b, "actor.id", strings.Repeat("é", 129)),
			want: []string{"actor.id: longer than 256 bytes"}, goOnly: onlyBytes},
		{name: "actor.id control character", in: set(t, b, "actor.id", "staff\n42"),
			want: []string{"actor.id: contains control character U+000A"}},
		{name: "actor.type unknown", in: set(t, b, "actor.type", "nurse"),
			want: []string{`actor.type: "nurse" is not one of staff|doctor|service|admin|user`}},
		{name: "actor unknown field", in: set(t, b, "actor.badge", "B-1"), want: []string{"actor.badge: unknown field"}},
		{name: "action missing", in: del(t, b, "action"), want: []string{"action: required"}},
		{name: "action unknown", in: set(t, b, "action", "exfil"),
			want: []string{`action: "exfil" is not one of ` + enumActions}},
		{name: "action wrong case", in: set(t, b, "action", "READ"),
			want: []string{`action: "READ" is not one of ` + enumActions}},
		{name: "subject missing", in: del(t, b, "subject"), want: []string{"subject: required"}},
		{name: "subject.id missing", in: del(t, b, "subject.id"), want: []string{"subject.id: required"}},
		{name: "subject.type unknown", in: set(t, b, "subject.type", "robot"),
			want: []string{`subject.type: "robot" is not one of patient|user|doctor`}},
		{name: "subject.minor string", in: set(t, b, "subject.minor", "yes"),
			want: []string{"subject.minor: wrong type: want boolean, got string"}},
		{name: "login subject without type", in: del(t, set(t, b, "action", "login"), "subject.type"),
			want: []string{"subject.type: required"}},
		{name: "categories missing", in: del(t, b, "categories"), want: []string{"categories: required"}},
		{name: "categories empty", in: set(t, b, "categories", raw(`[]`)), want: []string{"categories: must not be empty"}},
		{name: "categories unknown", in: set(t, b, "categories", []string{"health", "contact", "dna"}),
			want: []string{`categories[2]: "dna" is not one of ` + enumCategories}},
		{name: "categories duplicate", in: set(t, b, "categories", []string{"health", "contact", "health"}),
			want: []string{`categories[2]: "health" repeats categories[0]`}},
		{name: "categories string", in: set(t, b, "categories", "health"),
			want: []string{"categories: wrong type: want array, got string"}},
		{name: "categories element number", in: set(t, b, "categories", raw(`["health",7]`)),
			want: []string{"categories[1]: wrong type: want string, got number"}},
		{name: "record_count negative", in: set(t, b, "record_count", -1), want: []string{"record_count: must be ≥ 0"}},
		{name: "record_count string", in: set(t, b, "record_count", "5"),
			want: []string{"record_count: wrong type: want integer, got string"}},
		{name: "record_count fraction", in: set(t, b, "record_count", raw(`2.5`)),
			want: []string{"record_count: wrong type: want integer, got number 2.5"}},
		{name: "record_count too large", in: set(t, b, "record_count", raw(`1e13`)),
			want: []string{"record_count: must be ≤ 1000000000000"}},
		{name: "record_count beyond int64", in: set(t, b, "record_count", raw(`-99999999999999999999999`)),
			want: []string{"record_count: must be ≥ 0"}},
		{name: "purpose invalid UTF-8", in: replace(t, set(t, b, "purpose", "PLACEHOLDER"), "PLACEHOLDER", "caf\xe9"),
			want: []string{"purpose: invalid UTF-8"}, goOnly: onlyUTF8},
		{name: "purpose unpaired surrogate", in: set(t, b, "purpose", raw(`"\ud800 lone"`)),
			want: []string{`purpose: invalid \u escape: unpaired UTF-16 surrogate`}, goOnly: onlyUTF8},
		{name: "purpose 1025 bytes", in: set(t, b, "purpose", strings.Repeat("p", 1025)),
			want: []string{"purpose: longer than 1024 bytes"}},
		{name: "relationship bool", in: set(t, b, "relationship", true),
			want: []string{"relationship: wrong type: want string, got boolean"}},
		{name: "relationship unknown value", in: set(t, b, "relationship", "maybe"),
			want: []string{`relationship: "maybe" is not one of true|false|unknown`}},
		{name: "relationship empty", in: set(t, b, "relationship", ""),
			want: []string{`relationship: "" is not one of true|false|unknown`}},
		{name: "outcome missing", in: del(t, b, "outcome"), want: []string{"outcome: required"}},
		{name: "outcome of device events", in: set(t, b, "outcome", "failure"),
			want: []string{`outcome: "failure" is not one of success|denied|error`}},
		{name: "client.ip not an address", in: set(t, b, "client.ip", "999.1.1.1"),
			want: []string{`client.ip: "999.1.1.1" is not an IPv4 or IPv6 address`}},
		{name: "client.ip with zone", in: set(t, b, "client.ip", "fe80::1%eth0"),
			want: []string{`client.ip: "fe80::1%eth0" is not an IPv4 or IPv6 address`}},
		{name: "client.geo.lat out of range", in: set(t, set(t, b, "client.geo.lat", 91), "client.geo.lon", 0),
			want: []string{"client.geo.lat: must be between -90 and 90"}},
		{name: "client.geo.lon out of range", in: set(t, set(t, b, "client.geo.lat", 0), "client.geo.lon", raw(`-180.5`)),
			want: []string{"client.geo.lon: must be between -180 and 180"}},
		{name: "client.geo.lat without lon", in: set(t, b, "client.geo.lat", 30.2),
			want: []string{"client.geo.lon: required when lat is set"}},
		{name: "client.geo.country lower case", in: set(t, b, "client.geo.country", "cn"),
			want: []string{`client.geo.country: "cn" is not an ISO 3166-1 alpha-2 code in upper case`}},
		{name: "client.geo unknown field", in: set(t, b, "client.geo.altitude", 12),
			want: []string{"client.geo.altitude: unknown field"}},
		{name: "unknown field", in: set(t, b, "unknown_field", 1), want: []string{"unknown_field: unknown field"}},
		{name: "unknown field with odd name", in: set(t, b, "patient name", "x"),
			want: []string{`["patient name"]: unknown field`}},
		{name: "duplicate key", in: replace(t, b, `"org":"hosp-1"`, `"org":"hosp-1","org":"hosp-2"`),
			want: []string{"org: duplicate key"}, goOnly: onlyDuplicateKeys},
		{name: "duplicate key in actor", in: replace(t, b, `"type":"doctor"`, `"type":"doctor","type":"admin"`),
			want: []string{"actor.type: duplicate key"}, goOnly: onlyDuplicateKeys},
		{name: "attrs 65 entries", in: set(t, b, "attrs", attrsJSON(65)), want: []string{"attrs: more than 64 entries"}},
		{name: "attrs value too long", in: set(t, b, "attrs.note", strings.Repeat("n", 1025)),
			want: []string{"attrs.note: longer than 1024 bytes"}},
		{name: "attrs value number", in: set(t, b, "attrs.n", 1), want: []string{"attrs.n: wrong type: want string, got number"}},
		{name: "attrs bad key", in: set(t, b, "attrs.bad key", "x"),
			want: []string{`attrs["bad key"]: invalid key: want 1-64 bytes of [A-Za-z0-9._:-]`}},
		{name: "attrs duplicate key", in: set(t, b, "attrs", raw(`{"a":"1","a":"2"}`)),
			want: []string{"attrs.a: duplicate key"}, goOnly: onlyDuplicateKeys},
		{name: "event_id with space", in: set(t, b, "event_id", "evt 1"),
			want: []string{"event_id: must be 1-128 bytes of [A-Za-z0-9._:-]"}},
		{name: "event_id 129 bytes", in: set(t, b, "event_id", strings.Repeat("e", 129)),
			want: []string{"event_id: must be 1-128 bytes of [A-Za-z0-9._:-]"}},
		{name: "event_id empty", in: set(t, b, "event_id", ""),
			want: []string{"event_id: must be 1-128 bytes of [A-Za-z0-9._:-]"}},
		{name: "nested too deep in an unknown field", in: set(t, b, "x", raw(strings.Repeat("[", 40)+strings.Repeat("]", 40))),
			want: []string{"x: nested deeper than 32 levels"}},
		{name: "five independent problems",
			in: set(t, set(t, set(t, del(t, set(t, b, "action", "exfil"), "subject.id"), "record_count", -3), "client.ip", "nope"), "extra", true),
			want: []string{
				`action: "exfil" is not one of ` + enumActions,
				"client.ip: \"nope\" is not an IPv4 or IPv6 address",
				"extra: unknown field",
				"record_count: must be ≥ 0",
				"subject.id: required",
			}},
	}
}

func deviceBadCases(t testing.TB) []badCase {
	b := baseDevice
	return []badCase{
		{name: "not an object", in: `[]`, want: []string{": not a JSON object"}},
		{name: "ids missing", in: del(t, del(t, b, "account_id"), "device_id"),
			want: []string{"account_id: required", "device_id: required"}},
		{name: "device_id empty", in: set(t, b, "device_id", ""), want: []string{"device_id: must not be empty"}},
		{name: "kind unknown", in: set(t, b, "kind", "transfer"),
			want: []string{`kind: "transfer" is not one of login|register|realname_auth|face_verify|payment|password_reset|sim_change|logout|bind_card|change_phone`}},
		{name: "kind missing", in: del(t, b, "kind"), want: []string{"kind: required"}},
		{name: "outcome unknown", in: set(t, b, "outcome", "ok"),
			want: []string{`outcome: "ok" is not one of success|failure|denied|error`}},
		{name: "occurred_at offset hour 24", in: set(t, b, "occurred_at", "2026-11-28T09:30:00+24:00"),
			want: []string{"occurred_at: not RFC 3339"}},
		{name: "occurred_at Feb 30", in: set(t, b, "occurred_at", "2026-02-30T09:30:00Z"),
			want: []string{"occurred_at: not RFC 3339"}},
		{name: "signals.rooted string", in: set(t, b, "signals.rooted", "true"),
			want: []string{"signals.rooted: wrong type: want boolean, got string"}},
		{name: "signals unknown", in: set(t, b, "signals.jailbreak", true), want: []string{"signals.jailbreak: unknown field"}},
		{name: "location.lat out of range", in: set(t, set(t, b, "location.lat", 100), "location.lon", 1),
			want: []string{"location.lat: must be between -90 and 90"}},
		{name: "location without lon", in: set(t, b, "location.lat", 1), want: []string{"location.lon: required"}},
		{name: "location empty", in: set(t, b, "location", raw(`{}`)),
			want: []string{"location.lat: required", "location.lon: required"}},
		{name: "location.accuracy_m negative", in: set(t, b, "location", raw(`{"lat":1,"lon":2,"accuracy_m":-5}`)),
			want: []string{"location.accuracy_m: must be between 0 and 20000000"}},
		{name: "location.lon number overflow", in: set(t, b, "location", raw(`{"lat":1,"lon":1e400}`)),
			want: []string{"location.lon: must be between -180 and 180"}},
		{name: "location string", in: set(t, b, "location", "here"),
			want: []string{"location: wrong type: want object, got string"}},
		{name: "network.ip bad", in: set(t, b, "network.ip", "10.0.0.256"),
			want: []string{`network.ip: "10.0.0.256" is not an IPv4 or IPv6 address`}},
		{name: "network.ip leading zero", in: set(t, b, "network.ip", "10.0.0.01"),
			want: []string{`network.ip: "10.0.0.01" is not an IPv4 or IPv6 address`}},
		{name: "network.wifi_bssid control character", in: set(t, b, "network.wifi_bssid", "aa\u007fbb"),
			want: []string{"network.wifi_bssid: contains control character U+007F"}},
		{name: "device.model 257 bytes", in: set(t, b, "device.model", strings.Repeat("m", 257)),
			want: []string{"device.model: longer than 256 bytes"}},
		{name: "device.os number", in: set(t, b, "device.os", 14), want: []string{"device.os: wrong type: want string, got number"}},
		{name: "duplicate kind", in: replace(t, b, `"kind":"login"`, `"kind":"login","kind":"payment"`),
			want: []string{"kind: duplicate key"}, goOnly: onlyDuplicateKeys},
		{name: "event_id slash", in: set(t, b, "event_id", "a/b"),
			want: []string{"event_id: must be 1-128 bytes of [A-Za-z0-9._:-]"}},
		{name: "attrs 65 entries", in: set(t, b, "attrs", attrsJSON(65)), want: []string{"attrs: more than 64 entries"}},
		{name: "occurred_at far ahead", in: set(t, b, "occurred_at", "2099-01-01T00:00:00Z"),
			want: []string{"occurred_at: more than 24h0m0s in the future"}, goOnly: onlyClock},
		{name: "several problems", in: set(t, set(t, del(t, b, "org"), "kind", "x"), "network", raw(`{"ip":1,"isp":"a"}`)),
			want: []string{
				`kind: "x" is not one of login|register|realname_auth|face_verify|payment|password_reset|sim_change|logout|bind_card|change_phone`,
				"network.ip: wrong type: want string, got number",
				"network.isp: unknown field",
				"org: required",
			}},
	}
}
