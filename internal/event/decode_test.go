package event_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestDecodeAccessBad(t *testing.T) {
	cases := accessBadCases(t)
	if len(cases) < 30 {
		t.Fatalf("only %d bad access cases, want at least 30", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := testValidator.DecodeAccess([]byte(tc.in))
			got := problemStrings(ps)
			if !sameSet(got, tc.want) {
				t.Errorf("DecodeAccess(%.300s)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			_, again := testValidator.DecodeAccess([]byte(tc.in))
			if !slices.Equal(ps, again) {
				t.Errorf("problems not deterministic: %q then %q", ps, again)
			}
		})
	}
}

func TestDecodeDeviceBad(t *testing.T) {
	cases := deviceBadCases(t)
	if len(cases) < 10 {
		t.Fatalf("only %d bad device cases, want at least 10", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := testValidator.DecodeDevice([]byte(tc.in))
			if got := problemStrings(ps); !sameSet(got, tc.want) {
				t.Errorf("DecodeDevice(%.300s)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeAccessGood(t *testing.T) {
	for name, data := range goodFiles(t, "access") {
		t.Run(name, func(t *testing.T) {
			e, ps := testValidator.DecodeAccess(data)
			if len(ps) != 0 {
				t.Fatalf("DecodeAccess: %v", ps)
			}
			// The standard library must read the same event from the same
			// bytes (it is lenient where we are strict, never the reverse).
			var std event.AccessEvent
			if err := json.Unmarshal(data, &std); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if std.Relationship == "" {
				std.Relationship = event.RelationshipUnknown
			}
			if std.Attrs == nil && e.Attrs != nil && len(e.Attrs) == 0 {
				std.Attrs = map[string]string{}
			}
			if !reflect.DeepEqual(e, std) {
				t.Errorf("DecodeAccess and json.Unmarshal differ:\n%+v\n%+v", e, std)
			}
		})
	}
}

func TestDecodeDeviceGood(t *testing.T) {
	for name, data := range goodFiles(t, "device") {
		t.Run(name, func(t *testing.T) {
			e, ps := testValidator.DecodeDevice(data)
			if len(ps) != 0 {
				t.Fatalf("DecodeDevice: %v", ps)
			}
			var std event.DeviceEvent
			if err := json.Unmarshal(data, &std); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(e, std) {
				t.Errorf("DecodeDevice and json.Unmarshal differ:\n%+v\n%+v", e, std)
			}
		})
	}
}

// TestDecodeAccessGoodEdges covers valid inputs at the edges of the rules.
func TestDecodeAccessGoodEdges(t *testing.T) {
	b := baseAccess
	cases := []struct {
		name string
		in   string
	}{
		{"login without subject or categories", del(t, del(t, set(t, b, "action", "login"), "subject"), "categories")},
		{"login with empty categories", set(t, set(t, b, "action", "login"), "categories", raw(`[]`))},
		{"actor.id of 256 bytes", set(t, b, "actor.id", strings.Repeat("a", 256))},
		{"actor.id of 128 two-byte characters", set(t, b, "actor.id", strings.Repeat("é", 128))},
		{"event_id of 128 bytes", set(t, b, "event_id", strings.Repeat("E", 128))},
		{"purpose of 1024 bytes with control characters", set(t, b, "purpose", strings.Repeat("\n", 1024))},
		{"attrs with 64 entries", set(t, b, "attrs", attrsJSON(64))},
		{"attrs key of 64 bytes", set(t, b, "attrs."+strings.Repeat("k", 64), "v")},
		{"every category", set(t, b, "categories", event.Categories())},
		{"record_count maximum", set(t, b, "record_count", raw(`1000000000000`))},
		{"record_count as 1.2e3", set(t, b, "record_count", raw(`1.2e3`))},
		{"record_count as -0", set(t, b, "record_count", raw(`-0`))},
		{"occurred_at 24h ahead", set(t, b, "occurred_at", "2026-11-29T12:00:00.000Z")},
		{"occurred_at with nanoseconds and offset", set(t, b, "occurred_at", "2026-11-28T23:59:59.999999999+14:00")},
		{"occurred_at 1970", set(t, b, "occurred_at", "1970-01-01T00:00:00Z")},
		{"geo at the poles", set(t, set(t, b, "client.geo.lat", -90), "client.geo.lon", 180)},
		{"IPv4", set(t, b, "client.ip", "192.0.2.1")},
		{"pretty printed", indent(t, b)},
		{"empty optional strings", set(t, set(t, b, "purpose", ""), "session_id", "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, ps := testValidator.DecodeAccess([]byte(tc.in)); len(ps) != 0 {
				t.Errorf("DecodeAccess(%.200s): %v", tc.in, ps)
			}
		})
	}
}

func TestDecodeAccessNormalises(t *testing.T) {
	in := set(t, del(t, baseAccess, "relationship"), "occurred_at", "2026-11-28T17:30:00.123987+08:00")
	e, ps := testValidator.DecodeAccess([]byte(in))
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	if want := time.Date(2026, 11, 28, 9, 30, 0, 123e6, time.UTC); !e.OccurredAt.Equal(want) || e.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at = %v, want %v in UTC", e.OccurredAt.Time, want)
	}
	if e.Relationship != event.RelationshipUnknown {
		t.Errorf("absent relationship decoded as %q, want unknown", e.Relationship)
	}
}

func TestDecodeManyProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"u` + strings.Repeat("x", i) + `":1`)
	}
	b.WriteString(`}`)
	_, ps := testValidator.DecodeAccess([]byte(b.String()))
	if len(ps) != event.MaxProblems+1 {
		t.Fatalf("got %d problems, want %d", len(ps), event.MaxProblems+1)
	}
	// 200 unknown fields and 7 required fields missing.
	if got, want := ps[0].String(), ": 143 more problems not shown"; got != want {
		t.Errorf("first problem %q, want %q", got, want)
	}
}

func TestProblemsOrder(t *testing.T) {
	cats := make([]string, 12)
	for i := range cats {
		cats[i] = "x" + strings.Repeat("y", i)
	}
	_, ps := testValidator.DecodeAccess([]byte(set(t, set(t, baseAccess, "categories", cats), "actor.zz", 1)))
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	want := []string{"actor.zz", "categories[0]", "categories[1]", "categories[2]", "categories[3]",
		"categories[4]", "categories[5]", "categories[6]", "categories[7]", "categories[8]",
		"categories[9]", "categories[10]", "categories[11]"}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
}

func TestProblems(t *testing.T) {
	var none event.Problems
	if err := none.Err(); err != nil {
		t.Errorf("Err of no problems = %v, want nil", err)
	}
	ps := event.Problems{{Path: "org", Reason: "required"}, {Path: "", Reason: "not a JSON object"}}
	if got, want := ps.Error(), "org: required; : not a JSON object"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := ps.Err(); err == nil || err.Error() != ps.Error() {
		t.Errorf("Err() = %v", err)
	}
}

func TestValidateAccessBus(t *testing.T) {
	e, ps := testValidator.DecodeAccess([]byte(baseAccess))
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	e.EventID = ""
	got := problemStrings(testValidator.ValidateAccess(e))
	want := []string{"event_id: required", "received_at: required", "source: required"}
	if !sameSet(got, want) {
		t.Errorf("ValidateAccess of an input-level event: %q, want %q", got, want)
	}

	e.EventID = event.NewEventID()
	e.Source = "emr"
	e.ReceivedAt = event.NewTimestamp(testNow)
	if ps := testValidator.ValidateAccess(e); len(ps) != 0 {
		t.Errorf("ValidateAccess of a bus-level event: %v", ps)
	}

	cases := []struct {
		name string
		edit func(*event.AccessEvent)
		want []string
	}{
		{"relationship unset", func(e *event.AccessEvent) { e.Relationship = "" }, []string{"relationship: required"}},
		{"zero occurred_at", func(e *event.AccessEvent) { e.OccurredAt = event.Timestamp{} }, []string{"occurred_at: required"}},
		{"actor unset", func(e *event.AccessEvent) { e.Actor = event.Actor{} }, []string{"actor: required"}},
		{"subject unset", func(e *event.AccessEvent) { e.Subject = event.Subject{} }, []string{"subject: required"}},
		{"categories nil", func(e *event.AccessEvent) { e.Categories = nil }, []string{"categories: required"}},
		{"categories empty", func(e *event.AccessEvent) { e.Categories = []event.Category{} }, []string{"categories: must not be empty"}},
		{"org invalid UTF-8", func(e *event.AccessEvent) { e.Org = "h\xff" }, []string{"org: invalid UTF-8"}},
		{"attrs value invalid UTF-8", func(e *event.AccessEvent) { e.Attrs = map[string]string{"k": "\xfe"} }, []string{"attrs.k: invalid UTF-8"}},
		{"record_count too large", func(e *event.AccessEvent) { e.RecordCount = 1 << 62 }, []string{"record_count: must be ≤ 1000000000000"}},
		{"geo lon without lat", func(e *event.AccessEvent) { lon := 1.0; e.Client.Geo.Lon = &lon }, []string{"client.geo.lat: required when lon is set"}},
		{"empty enum", func(e *event.AccessEvent) { e.Action = "" }, []string{"action: required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e
			c.Categories = slices.Clone(e.Categories)
			tc.edit(&c)
			if got := problemStrings(testValidator.ValidateAccess(c)); !sameSet(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateDeviceBus(t *testing.T) {
	e, ps := testValidator.DecodeDevice(goodFiles(t, "device")["maximal.json"])
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	if ps := testValidator.ValidateDevice(e); len(ps) != 0 {
		t.Errorf("ValidateDevice(maximal): %v", ps)
	}
	e.Source, e.EventID, e.ReceivedAt = "", "", event.Timestamp{}
	e.Location.Lat = -91
	got := problemStrings(testValidator.ValidateDevice(e))
	want := []string{"event_id: required", "received_at: required", "source: required", "location.lat: must be between -90 and 90"}
	if !sameSet(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidatorClock(t *testing.T) {
	in := []byte(set(t, baseAccess, "occurred_at", "2026-11-28T13:00:00Z")) // testNow + 1h
	cases := []struct {
		name string
		v    event.Validator
		want []string
	}{
		{"default skew", testValidator, nil},
		{"30m skew", event.Validator{Now: testValidator.Now, MaxFutureSkew: 30 * time.Minute},
			[]string{"occurred_at: more than 30m0s in the future"}},
		{"check off", event.Validator{Now: func() time.Time { return testNow.Add(-48 * time.Hour) }, MaxFutureSkew: -1}, nil},
		{"clock behind", event.Validator{Now: func() time.Time { return testNow.Add(-48 * time.Hour) }},
			[]string{"occurred_at: more than 24h0m0s in the future"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := tc.v.DecodeAccess(in)
			if got := problemStrings(ps); !sameSet(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	a := event.AccessEvent{Org: "hosp-1", Actor: event.Actor{ID: "staff-42"}}
	if got := string(a.Key()); got != "hosp-1/staff-42" {
		t.Errorf("AccessEvent.Key() = %q", got)
	}
	d := event.DeviceEvent{DeviceID: "tok-1"}
	if got := string(d.Key()); got != "tok-1" {
		t.Errorf("DeviceEvent.Key() = %q", got)
	}
}
