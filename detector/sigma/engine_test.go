package sigma

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func ts(s string) event.Timestamp {
	t, err := event.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return t
}

// baseAccess returns the access event the engine tables start from. Its
// occurred_at is Thursday 2026-11-26 23:15:30 UTC.
func baseAccess() *event.AccessEvent {
	lat, lon := 31.23, 121.47
	return &event.AccessEvent{
		EventID:      "evt-1",
		OccurredAt:   ts("2026-11-26T23:15:30Z"),
		ReceivedAt:   ts("2026-11-26T23:15:31Z"),
		Source:       "ehr",
		Org:          "hosp-1",
		Actor:        event.Actor{ID: "staff-42", Type: event.ActorStaff, Role: "Nurse", Department: "Cardiology"},
		Action:       event.ActionRead,
		Subject:      event.Subject{ID: "pt-9", Type: event.SubjectPatient, Minor: true},
		Categories:   []event.Category{event.CategoryHealth, event.CategoryContact},
		RecordCount:  120,
		Purpose:      "care follow-up",
		Relationship: event.RelationshipFalse,
		Outcome:      event.OutcomeSuccess,
		Client: event.Client{IP: "10.1.2.3", UserAgent: "Mozilla/5.0 (X11; Linux)", DeviceID: "dev-tok",
			Geo: event.Geo{Country: "CN", City: "Shanghai", Lat: &lat, Lon: &lon}},
		SessionID: "s-1",
		RequestID: "r-1",
		Attrs:     map[string]string{"ward": "cardiology", "note": `a*b\c`, "empty": ""},
	}
}

// baseDevice returns the device event the engine tables start from.
func baseDevice() *event.DeviceEvent {
	return &event.DeviceEvent{
		EventID:    "dev-evt-1",
		OccurredAt: ts("2026-11-26T10:00:00Z"),
		Org:        "app-1",
		AccountID:  "acct-1",
		DeviceID:   "dev-1",
		Kind:       event.KindPayment,
		Device:     event.Device{Model: "SM-G9910", OS: "android", OSVersion: "14", AppVersion: "3.2.1"},
		Signals:    event.Signals{Rooted: true, ProxyOrVPN: true},
		Network:    event.Network{IP: "2001:db8::7", Carrier: "46000", WiFiBSSID: "bssid-tok"},
		Location:   &event.Location{Lat: 31.2, Lon: 121.5, AccuracyM: 30},
		Outcome:    event.OutcomeFailure,
		Attrs:      map[string]string{"channel": "wechat"},
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// ruleSource returns a rule document of service svc with the given
// detection block.
func ruleSource(svc Service, detection string) string {
	return fmt.Sprintf("title: t\nid: t\nlevel: low\nlogsource: {product: vigil, service: %s}\ndetection:\n%s", svc, indent(detection))
}

func compileRule(t *testing.T, svc Service, detection string, opts Options) *Rule {
	t.Helper()
	set, err := Load([]Source{{Name: "t.yml", Data: []byte(ruleSource(svc, detection))}}, opts)
	if err != nil {
		t.Fatalf("rule does not load: %v\n%s", err, detection)
	}
	return set.Rules[0]
}

type engineCase struct {
	name   string
	det    string // detection block; "condition: sel" is added when absent
	access func(e *event.AccessEvent)
	device func(e *event.DeviceEvent) // set for device rules
	want   bool
}

func runEngineCases(t *testing.T, cases []engineCase, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			det := tc.det
			if !strings.Contains(det, "condition:") {
				det += "\ncondition: sel"
			}
			var ev Event
			svc := ServiceAccess
			if tc.device != nil {
				svc = ServiceDevice
				d := baseDevice()
				tc.device(d)
				ev = Device(d)
			} else {
				a := baseAccess()
				if tc.access != nil {
					tc.access(a)
				}
				ev = Access(a)
			}
			r := compileRule(t, svc, det, opts)
			if got := r.Match(ev); got != tc.want {
				t.Errorf("Match = %v, want %v\n%s", got, tc.want, det)
			}
		})
	}
}

func same(*event.DeviceEvent) {}

func TestEngineStrings(t *testing.T) {
	runEngineCases(t, []engineCase{
		// Plain values: whole value, case-insensitive.
		{name: "equal", det: "sel:\n  actor.role: Nurse", want: true},
		{name: "equal folds case", det: "sel:\n  actor.role: NURSE", want: true},
		{name: "equal is whole value", det: "sel:\n  actor.role: Nurs", want: false},
		{name: "list is OR", det: "sel:\n  actor.role: [doctor, nurse]", want: true},
		{name: "list none", det: "sel:\n  actor.role: [doctor, clerk]", want: false},
		{name: "number as string field value", det: "sel:\n  request_id: 7", access: func(e *event.AccessEvent) { e.RequestID = "7" }, want: true},
		{name: "unicode fold kelvin", det: "sel:\n  actor.role: \"\u212aelvin\"", access: func(e *event.AccessEvent) { e.Actor.Role = "kelvin" }, want: true},
		{name: "unicode fold sigma", det: "sel:\n  actor.role: ΣΟΦΊΑ", access: func(e *event.AccessEvent) { e.Actor.Role = "σοφία" }, want: true},
		{name: "empty value matches absent", det: "sel:\n  actor.department: ''", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: true},
		{name: "empty value not present", det: "sel:\n  actor.department: ''", want: false},
		// Wildcards.
		{name: "star prefix", det: "sel:\n  actor.role: nur*", want: true},
		{name: "star suffix", det: "sel:\n  client.user_agent: '*linux)'", want: true},
		{name: "star inside", det: "sel:\n  client.user_agent: 'mozilla*linux)'", want: true},
		{name: "star inside no", det: "sel:\n  client.user_agent: 'mozilla*windows)'", want: false},
		{name: "star alone matches empty", det: "sel:\n  actor.department: '*'", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: true},
		{name: "question mark one char", det: "sel:\n  actor.role: n?rse", want: true},
		{name: "question mark exactly one", det: "sel:\n  actor.role: n??rse", want: false},
		{name: "question mark one rune", det: "sel:\n  actor.role: caf?", access: func(e *event.AccessEvent) { e.Actor.Role = "café" }, want: true},
		{name: "several segments", det: "sel:\n  client.user_agent: 'M*5.?*(X11*)'", want: true},
		{name: "segments in order", det: "sel:\n  client.user_agent: '*linux*x11*'", want: false},
		{name: "escaped star is literal", det: "sel:\n  attrs.note: 'a\\*b\\c'", want: true},
		{name: "escaped star not wildcard", det: "sel:\n  attrs.note: 'a\\*b\\c'", access: func(e *event.AccessEvent) { e.Attrs["note"] = `axb\c` }, want: false},
		{name: "escaped backslash", det: "sel:\n  attrs.note: 'a\\*b\\\\c'", want: true},
		{name: "escaped question mark", det: "sel:\n  attrs.q: 'why\\?'", access: func(e *event.AccessEvent) { e.Attrs["q"] = "why?" }, want: true},
		{name: "escaped question mark is literal", det: "sel:\n  attrs.q: 'why\\?'", access: func(e *event.AccessEvent) { e.Attrs["q"] = "whyx" }, want: false},
		// contains, startswith, endswith.
		{name: "contains", det: "sel:\n  client.user_agent|contains: X11", want: true},
		{name: "contains folds", det: "sel:\n  client.user_agent|contains: x11; LINUX", want: true},
		{name: "contains no", det: "sel:\n  client.user_agent|contains: Windows", want: false},
		{name: "contains non-ascii fold", det: "sel:\n  purpose|contains: ÄRZT", access: func(e *event.AccessEvent) { e.Purpose = "Übergabe an ärztin" }, want: true},
		{name: "contains keeps wildcards", det: "sel:\n  client.user_agent|contains: 'zilla*x11'", want: true},
		{name: "startswith", det: "sel:\n  actor.id|startswith: STAFF-", want: true},
		{name: "startswith no", det: "sel:\n  actor.id|startswith: svc-", want: false},
		{name: "endswith", det: "sel:\n  actor.id|endswith: '-42'", want: true},
		{name: "endswith no", det: "sel:\n  actor.id|endswith: '-4'", want: false},
		{name: "endswith non-ascii", det: "sel:\n  purpose|endswith: ÄRZTIN", access: func(e *event.AccessEvent) { e.Purpose = "an ärztin" }, want: true},
		{name: "contains all", det: "sel:\n  client.user_agent|contains|all: [mozilla, linux]", want: true},
		{name: "contains all needs every", det: "sel:\n  client.user_agent|contains|all: [mozilla, windows]", want: false},
		// cased.
		{name: "cased equal", det: "sel:\n  actor.role|cased: Nurse", want: true},
		{name: "cased differs", det: "sel:\n  actor.role|cased: nurse", want: false},
		{name: "cased contains", det: "sel:\n  client.user_agent|contains|cased: X11", want: true},
		{name: "cased contains differs", det: "sel:\n  client.user_agent|contains|cased: x11", want: false},
		// re.
		{name: "re", det: "sel:\n  actor.id|re: '^staff-[0-9]+$'", want: true},
		{name: "re is case-sensitive", det: "sel:\n  actor.role|re: '^nurse$'", want: false},
		{name: "re i", det: "sel:\n  actor.role|re|i: '^nurse$'", want: true},
		{name: "re unanchored", det: "sel:\n  client.user_agent|re: 'X1[0-9]'", want: true},
		{name: "re s", det: "sel:\n  purpose|re|s: 'a.b'", access: func(e *event.AccessEvent) { e.Purpose = "a\nb" }, want: true},
		{name: "re without s", det: "sel:\n  purpose|re: 'a.b'", access: func(e *event.AccessEvent) { e.Purpose = "a\nb" }, want: false},
		{name: "re m", det: "sel:\n  purpose|re|m: '^b$'", access: func(e *event.AccessEvent) { e.Purpose = "a\nb" }, want: true},
		{name: "re im", det: "sel:\n  purpose|re|i|m: '^B$'", access: func(e *event.AccessEvent) { e.Purpose = "a\nb" }, want: true},
		{name: "re list", det: "sel:\n  actor.id|re: ['^svc-', '^staff-']", want: true},
		{name: "re all", det: "sel:\n  actor.id|re|all: ['^staff', '42$']", want: true},
		{name: "re all needs every", det: "sel:\n  actor.id|re|all: ['^staff', '43$']", want: false},
		// neq.
		{name: "neq", det: "sel:\n  actor.role|neq: doctor", want: true},
		{name: "neq equal value", det: "sel:\n  actor.role|neq: NURSE", want: false},
		{name: "neq all is none of", det: "sel:\n  actor.role|neq|all: [doctor, clerk]", want: true},
		{name: "neq all one equal", det: "sel:\n  actor.role|neq|all: [doctor, nurse]", want: false},
		{name: "neq contains", det: "sel:\n  client.user_agent|neq|contains: curl", want: true},
		{name: "neq absent field", det: "sel:\n  actor.department|neq: x", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: true},
		// null.
		{name: "null absent", det: "sel:\n  actor.department: null", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: true},
		{name: "null present", det: "sel:\n  actor.department: null", want: false},
		{name: "null or value", det: "sel:\n  actor.department: [null, oncology]", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: true},
		{name: "null or value matches value", det: "sel:\n  actor.department: [null, cardiology]", want: true},
		{name: "null or value neither", det: "sel:\n  actor.department: [null, oncology]", want: false},
		// attrs.
		{name: "attrs", det: "sel:\n  attrs.ward: CARDIOLOGY", want: true},
		{name: "attrs missing key", det: "sel:\n  attrs.bed: '*'", want: true},
		{name: "attrs missing key is absent", det: "sel:\n  attrs.bed: null", want: true},
		{name: "attrs empty value is present", det: "sel:\n  attrs.empty: null", want: false},
		{name: "device attrs", det: "sel:\n  attrs.channel: WeChat", device: same, want: true},
		{name: "device attrs absent", det: "sel:\n  attrs.ward|exists: false", device: same, want: true},
	}, Options{})
}

func TestEngineEnumsAndLists(t *testing.T) {
	runEngineCases(t, []engineCase{
		{name: "enum", det: "sel:\n  action: read", want: true},
		{name: "enum folds", det: "sel:\n  action: READ", want: true},
		{name: "enum wildcard", det: "sel:\n  action: 're*'", want: true},
		{name: "enum other", det: "sel:\n  action: export", want: false},
		{name: "relationship false is a string", det: "sel:\n  relationship: 'false'", want: true},
		{name: "relationship unquoted false", det: "sel:\n  relationship: false", want: true},
		{name: "list any element", det: "sel:\n  categories: contact", want: true},
		{name: "list none", det: "sel:\n  categories: [biometric, chat]", want: false},
		{name: "list of values is OR", det: "sel:\n  categories: [biometric, contact]", want: true},
		{name: "list all", det: "sel:\n  categories|all: [health, contact]", want: true},
		{name: "list all needs every value", det: "sel:\n  categories|all: [health, chat]", want: false},
		{name: "list contains", det: "sel:\n  categories|contains: alt", want: true},
		{name: "list startswith", det: "sel:\n  categories|startswith: con", want: true},
		{name: "list endswith no", det: "sel:\n  categories|endswith: _id", want: false},
		{name: "list re", det: "sel:\n  categories|re: '^(health|chat)$'", want: true},
		{name: "list neq none equal", det: "sel:\n  categories|neq: chat", want: true},
		{name: "list neq one equal", det: "sel:\n  categories|neq: health", want: false},
		{name: "list neq all", det: "sel:\n  categories|neq|all: [chat, biometric]", want: true},
		{name: "list null empty", det: "sel:\n  categories: null", access: func(e *event.AccessEvent) { e.Categories = nil }, want: true},
		{name: "list exists", det: "sel:\n  categories|exists: true", want: true},
		{name: "list exists empty", det: "sel:\n  categories|exists: true", access: func(e *event.AccessEvent) { e.Categories = nil }, want: false},
		{name: "device kind", det: "sel:\n  kind: payment", device: same, want: true},
		{name: "device outcome failure", det: "sel:\n  outcome: failure", device: same, want: true},
	}, Options{})
}

func TestEngineBoolsNumbers(t *testing.T) {
	runEngineCases(t, []engineCase{
		{name: "bool true", det: "sel:\n  subject.minor: true", want: true},
		{name: "bool false", det: "sel:\n  subject.vip: false", want: true},
		{name: "bool string", det: "sel:\n  subject.minor: 'TRUE'", want: true},
		{name: "bool mismatch", det: "sel:\n  subject.minor: false", want: false},
		{name: "bool neq", det: "sel:\n  subject.vip|neq: true", want: true},
		{name: "bool list", det: "sel:\n  subject.vip: [true, false]", want: true},
		{name: "signal", det: "sel:\n  signals.rooted: true", device: same, want: true},
		{name: "signal off", det: "sel:\n  signals.emulator: true", device: same, want: false},
		{name: "number equal", det: "sel:\n  record_count: 120", want: true},
		{name: "number equal as string", det: "sel:\n  record_count: '120'", want: true},
		{name: "number list", det: "sel:\n  record_count: [1, 120]", want: true},
		{name: "number other", det: "sel:\n  record_count: 121", want: false},
		{name: "gt", det: "sel:\n  record_count|gt: 119", want: true},
		{name: "gt equal", det: "sel:\n  record_count|gt: 120", want: false},
		{name: "gte", det: "sel:\n  record_count|gte: 120", want: true},
		{name: "lt", det: "sel:\n  record_count|lt: 121", want: true},
		{name: "lt equal", det: "sel:\n  record_count|lt: 120", want: false},
		{name: "lte", det: "sel:\n  record_count|lte: 120", want: true},
		{name: "gt list any", det: "sel:\n  record_count|gt: [500, 100]", want: true},
		{name: "gt all", det: "sel:\n  record_count|gt|all: [500, 100]", want: false},
		{name: "decimal", det: "sel:\n  client.geo.lat|gt: 31.2", want: true},
		{name: "negative", det: "sel:\n  client.geo.lat|gt: -90", want: true},
		{name: "hex int", det: "sel:\n  record_count: 0x78", want: true},
		{name: "absent number never compares", det: "sel:\n  record_count|lt: 10", access: func(e *event.AccessEvent) { e.RecordCount = 0 }, want: false},
		{name: "absent pointer never compares", det: "sel:\n  client.geo.lat|gt: -100", access: func(e *event.AccessEvent) { e.Client.Geo.Lat = nil }, want: false},
		{name: "number neq", det: "sel:\n  record_count|neq: 5", want: true},
		{name: "number neq absent", det: "sel:\n  record_count|neq: 5", access: func(e *event.AccessEvent) { e.RecordCount = 0 }, want: true},
		{name: "number null", det: "sel:\n  record_count: null", access: func(e *event.AccessEvent) { e.RecordCount = 0 }, want: true},
		{name: "location accuracy", det: "sel:\n  location.accuracy_m|lte: 30", device: same, want: true},
		{name: "location absent", det: "sel:\n  location.lat|gt: 0", device: func(e *event.DeviceEvent) { e.Location = nil }, want: false},
	}, Options{})
}

func TestEngineExistsCIDR(t *testing.T) {
	runEngineCases(t, []engineCase{
		{name: "exists string", det: "sel:\n  actor.department|exists: true", want: true},
		{name: "exists string empty", det: "sel:\n  actor.department|exists: true", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: false},
		{name: "exists false", det: "sel:\n  purpose|exists: false", access: func(e *event.AccessEvent) { e.Purpose = "" }, want: true},
		{name: "exists attrs key", det: "sel:\n  attrs.empty|exists: true", want: true},
		{name: "exists attrs missing", det: "sel:\n  attrs.bed|exists: true", want: false},
		{name: "exists number zero", det: "sel:\n  record_count|exists: true", access: func(e *event.AccessEvent) { e.RecordCount = 0 }, want: false},
		{name: "exists pointer", det: "sel:\n  client.geo.lon|exists: true", want: true},
		{name: "exists time", det: "sel:\n  received_at|exists: false", access: func(e *event.AccessEvent) { e.ReceivedAt = event.Timestamp{} }, want: true},
		{name: "exists string true", det: "sel:\n  purpose|exists: 'true'", want: true},
		{name: "cidr v4", det: "sel:\n  client.ip|cidr: 10.0.0.0/8", want: true},
		{name: "cidr v4 no", det: "sel:\n  client.ip|cidr: 192.168.0.0/16", want: false},
		{name: "cidr list", det: "sel:\n  client.ip|cidr: [192.168.0.0/16, 10.1.0.0/16]", want: true},
		{name: "cidr host", det: "sel:\n  client.ip|cidr: 10.1.2.3", want: true},
		{name: "cidr unmasked", det: "sel:\n  client.ip|cidr: 10.1.2.200/24", want: true},
		{name: "cidr mapped address", det: "sel:\n  client.ip|cidr: 10.0.0.0/8", access: func(e *event.AccessEvent) { e.Client.IP = "::ffff:10.9.9.9" }, want: true},
		{name: "cidr mapped prefix", det: "sel:\n  client.ip|cidr: '::ffff:10.0.0.0/104'", want: true},
		{name: "cidr v6", det: "sel:\n  network.ip|cidr: '2001:db8::/32'", device: same, want: true},
		{name: "cidr v6 against v4", det: "sel:\n  network.ip|cidr: 0.0.0.0/0", device: same, want: false},
		{name: "cidr absent", det: "sel:\n  client.ip|cidr: 0.0.0.0/0", access: func(e *event.AccessEvent) { e.Client.IP = "" }, want: false},
		{name: "cidr neq", det: "sel:\n  client.ip|cidr|neq: 192.168.0.0/16", want: true},
		{name: "cidr neq all", det: "sel:\n  client.ip|cidr|neq|all: [192.168.0.0/16, 10.0.0.0/8]", want: false},
		{name: "cidr all", det: "sel:\n  client.ip|cidr|all: [10.0.0.0/8, 10.1.0.0/16]", want: true},
		{name: "ip as string", det: "sel:\n  client.ip: 10.1.*", want: true},
	}, Options{})
}

func TestEngineFieldRef(t *testing.T) {
	runEngineCases(t, []engineCase{
		{name: "equal folds", det: "sel:\n  attrs.ward|fieldref: actor.department", want: true},
		{name: "cased", det: "sel:\n  attrs.ward|fieldref|cased: actor.department", want: false},
		{name: "differs", det: "sel:\n  attrs.ward|fieldref: actor.role", want: false},
		{name: "neq", det: "sel:\n  attrs.ward|fieldref|neq: actor.role", want: true},
		{name: "absent never equal", det: "sel:\n  attrs.bed|fieldref: actor.department", access: func(e *event.AccessEvent) { e.Actor.Department = "" }, want: false},
		{name: "contains", det: "sel:\n  client.user_agent|fieldref|contains: attrs.os", access: func(e *event.AccessEvent) { e.Attrs["os"] = "linux" }, want: true},
		{name: "startswith", det: "sel:\n  actor.id|fieldref|startswith: attrs.prefix", access: func(e *event.AccessEvent) { e.Attrs["prefix"] = "STAFF" }, want: true},
		{name: "endswith", det: "sel:\n  actor.id|fieldref|endswith: attrs.suffix", access: func(e *event.AccessEvent) { e.Attrs["suffix"] = "41" }, want: false},
		{name: "list any", det: "sel:\n  attrs.ward|fieldref: [actor.role, actor.department]", want: true},
		{name: "list all", det: "sel:\n  attrs.ward|fieldref|all: [actor.role, actor.department]", want: false},
		{name: "enum with string", det: "sel:\n  attrs.want|fieldref: action", access: func(e *event.AccessEvent) { e.Attrs["want"] = "Read" }, want: true},
		{name: "numbers", det: "sel:\n  client.geo.lon|fieldref|gt: client.geo.lat", want: true},
		{name: "numbers equal", det: "sel:\n  client.geo.lon|fieldref: client.geo.lat", want: false},
		{name: "numbers absent", det: "sel:\n  client.geo.lon|fieldref|gt: client.geo.lat", access: func(e *event.AccessEvent) { e.Client.Geo.Lat = nil }, want: false},
		{name: "bools", det: "sel:\n  subject.vip|fieldref: subject.employee", want: true},
		{name: "bools differ", det: "sel:\n  subject.minor|fieldref: subject.employee", want: false},
		{name: "device", det: "sel:\n  device_id|fieldref|neq: account_id", device: same, want: true},
	}, Options{})
}

func TestEngineTime(t *testing.T) {
	// 2026-11-26T23:15:30Z is a Thursday in ISO week 48; in UTC+8 it is
	// Friday 2026-11-27 07:15:30; in UTC-5 Thursday 18:15:30.
	runEngineCases(t, []engineCase{
		{name: "hour", det: "sel:\n  occurred_at|hour: 23", want: true},
		{name: "hour gte", det: "sel:\n  occurred_at|hour|gte: 22", want: true},
		{name: "hour lt", det: "sel:\n  occurred_at|hour|lt: 6", want: false},
		{name: "hour list", det: "sel:\n  occurred_at|hour: [0, 23]", want: true},
		{name: "hour neq", det: "sel:\n  occurred_at|hour|neq: 23", want: false},
		{name: "hour neq all", det: "sel:\n  occurred_at|hour|neq|all: [1, 2]", want: true},
		{name: "minute", det: "sel:\n  occurred_at|minute: 15", want: true},
		{name: "day", det: "sel:\n  occurred_at|day: 26", want: true},
		{name: "week", det: "sel:\n  occurred_at|week: 48", want: true},
		{name: "month", det: "sel:\n  occurred_at|month: 11", want: true},
		{name: "year", det: "sel:\n  occurred_at|year|gte: 2026", want: true},
		{name: "weekday thursday", det: "sel:\n  occurred_at|weekday: 4", want: true},
		{name: "weekday weekend", det: "sel:\n  occurred_at|weekday|gte: 6", want: false},
		{name: "sunday is 7", det: "sel:\n  occurred_at|weekday: 7", access: func(e *event.AccessEvent) { e.OccurredAt = ts("2026-11-29T12:00:00Z") }, want: true},
		{name: "received_at", det: "sel:\n  received_at|minute: 15", want: true},
		{name: "absent time", det: "sel:\n  received_at|hour|gte: 0", access: func(e *event.AccessEvent) { e.ReceivedAt = event.Timestamp{} }, want: false},
		{name: "device time", det: "sel:\n  occurred_at|hour: 10", device: same, want: true},
	}, Options{})

	east := time.FixedZone("UTC+8", 8*3600)
	west := time.FixedZone("UTC-5", -5*3600)
	opts := Options{TimeZones: map[string]*time.Location{"hosp-1": east}, DefaultTimeZone: west}
	runEngineCases(t, []engineCase{
		{name: "org zone hour", det: "sel:\n  occurred_at|hour: 7", want: true},
		{name: "org zone day", det: "sel:\n  occurred_at|day: 27", want: true},
		{name: "org zone weekday", det: "sel:\n  occurred_at|weekday: 5", want: true},
		{name: "org zone not utc", det: "sel:\n  occurred_at|hour: 23", want: false},
		{name: "default zone", det: "sel:\n  occurred_at|hour: 18", access: func(e *event.AccessEvent) { e.Org = "other" }, want: true},
		{name: "device default zone", det: "sel:\n  occurred_at|hour: 5", device: same, want: true},
	}, opts)
}

func TestEngineSelectionsAndConditions(t *testing.T) {
	const sels = "yes1:\n  org: hosp-1\nyes2:\n  action: read\nno1:\n  org: other\nno2:\n  action: delete\n_filter:\n  actor.type: staff\n"
	cases := []struct {
		cond string
		want bool
	}{
		{"yes1", true},
		{"no1", false},
		{"yes1 and yes2", true},
		{"yes1 and no1", false},
		{"no1 or yes1", true},
		{"no1 or no2", false},
		{"not no1", true},
		{"not yes1", false},
		{"not not yes1", true},
		{"yes1 and not no1", true},
		{"no1 or yes1 and no2", false},   // and binds tighter: no1 or (yes1 and no2)
		{"(no1 or yes1) and yes2", true}, // parentheses
		{"no1 and no2 or yes1", true},    // (no1 and no2) or yes1
		{"not (no1 or no2)", true},
		{"not no1 and yes1", true}, // not binds tighter than and
		{"1 of yes*", true},
		{"1 of no*", false},
		{"all of yes*", true},
		{"all of *1", false},
		{"1 of *1", true},
		{"1 of them", true},
		{"all of them", false},
		{"all of them or 1 of _f*", true},
		{"not 1 of no*", true},
		{"all of yes* and not 1 of no* and _filter", true},
		{"((((yes1))))", true},
		{"1 of yes1", true},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			// The added term is false (no2 is) and uses every selection.
			det := sels + "condition: " + tc.cond + " or (no2 and no1 and yes1 and yes2 and 1 of _*)"
			r := compileRule(t, ServiceAccess, det, Options{})
			if got := r.Match(Access(baseAccess())); got != tc.want {
				t.Errorf("condition %q = %v, want %v", tc.cond, got, tc.want)
			}
		})
	}

	t.Run("them leaves out underscore", func(t *testing.T) {
		r := compileRule(t, ServiceAccess, "sel:\n  org: hosp-1\n_off:\n  org: other\ncondition: all of them or _off", Options{})
		if !r.Match(Access(baseAccess())) {
			t.Error(`"all of them" read the selection "_off"`)
		}
	})
	t.Run("condition list is OR", func(t *testing.T) {
		r := compileRule(t, ServiceAccess, "a:\n  org: other\nb:\n  action: read\ncondition:\n  - a\n  - b", Options{})
		if !r.Match(Access(baseAccess())) {
			t.Error("a list of conditions did not OR")
		}
		if r.Condition != "(a) or (b)" {
			t.Errorf("Condition = %q", r.Condition)
		}
	})
	t.Run("map is AND", func(t *testing.T) {
		r := compileRule(t, ServiceAccess, "sel:\n  org: hosp-1\n  action: delete\ncondition: sel", Options{})
		if r.Match(Access(baseAccess())) {
			t.Error("a map of two fields matched with one true")
		}
	})
	t.Run("list of maps is OR", func(t *testing.T) {
		r := compileRule(t, ServiceAccess, "sel:\n  - org: other\n  - action: read\n    outcome: success\ncondition: sel", Options{})
		if !r.Match(Access(baseAccess())) {
			t.Error("a list of maps did not OR")
		}
	})
	t.Run("other service never matches", func(t *testing.T) {
		r := compileRule(t, ServiceAccess, "sel:\n  org: '*'\ncondition: sel", Options{})
		if r.Match(Device(baseDevice())) {
			t.Error("an access rule matched a device event")
		}
	})
}

func TestSetMatch(t *testing.T) {
	set := loadPack(t)
	a := baseAccess()
	a.Action = event.ActionExport
	a.RecordCount = 5000
	a.Actor.Type = event.ActorStaff
	a.Purpose = ""
	got := set.Match(Access(a), nil)
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.ID
	}
	want := []string{"6b1f2c8e-1d0a-4f5e-9b7c-2a9d3e4f5a01", "vigil-export-any", "0c3e9a52-7f61-4e0b-8d2a-5b4c6d7e8f02", "vigil-off-hours-health", "vigil-export-no-purpose"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("Match = %v\nwant    %v", ids, want)
	}
	if set.Rule("export_any") == nil || set.Rule("vigil-export-any") != set.Rule("export_any") {
		t.Error("Rule does not find a rule by name and id")
	}
	if set.Rule("export_any").Standalone {
		t.Error("a rule read only by a correlation without generate is Standalone")
	}
	if !set.Rule("login_failed").Standalone {
		t.Error("a rule read by a correlation with generate: true is not Standalone")
	}
	if c := set.Correlation("vigil-corr-export-volume"); c == nil || len(set.Rule("export_any").Correlations) != 1 || set.Rule("export_any").Correlations[0] != c {
		t.Error("the rule's Correlations do not hold its correlation")
	}
	if got := set.Match(Event{}, nil); len(got) != 0 {
		t.Errorf("an empty Event matched %d rules", len(got))
	}
}

func TestInactiveRulesAreNotMatched(t *testing.T) {
	src := ruleSource(ServiceAccess, "sel:\n  org: '*'\ncondition: sel") + "status: deprecated\n"
	set, err := Load([]Source{{Name: "d.yml", Data: []byte(src)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Match(Access(baseAccess()), nil); len(got) != 0 {
		t.Errorf("a deprecated rule matched")
	}
	if !set.Rules[0].Match(Access(baseAccess())) {
		t.Errorf("Rule.Match of a deprecated rule does not evaluate it")
	}
}
