package syslog_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/syslog"
	"github.com/vigil-audit/vigil/internal/event"
)

// accessSD is the SD element of the mapping's documented access example.
const accessSD = `[vigil@32473 kind="access" org="h1" actor.id="u1" actor.type="doctor" action="read" subject.id="p9" subject.type="patient" categories="health,prescription" record_count="3" outcome="success"]`

func mustParse(t *testing.T, s string) syslog.Message {
	t.Helper()
	m, err := syslog.Parser{Now: func() time.Time { return clock }, Location: time.UTC}.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return m
}

type mapCase struct {
	name     string
	in       string
	opts     syslog.MappingOptions
	wantKind string
	want     string // JSON, compared byte for byte
}

var mapCases = []mapCase{
	{name: "access event from structured data",
		in:       "<14>1 2026-11-28T12:00:00.123Z ehr-01 ehr 77 - " + accessSD,
		wantKind: syslog.KindAccess,
		want: `{"org":"h1","actor":{"id":"u1","type":"doctor"},"action":"read","subject":{"id":"p9","type":"patient"},` +
			`"categories":["health","prescription"],"record_count":3,"outcome":"success","occurred_at":"2026-11-28T12:00:00.123Z",` +
			`"attrs":{"syslog.hostname":"ehr-01","syslog.app_name":"ehr"}}`},
	{name: "device event: device_kind, bools and numbers",
		in: `<14>1 2026-11-28T20:00:00.5+08:00 - risk - - [vigil@32473 kind="device" org="h1" account_id="a1" device_id="d1" device_kind="login" ` +
			`signals.rooted="true" signals.emulator="false" location.lat="31.2304" location.lon="-121.47" location.accuracy_m="15" outcome="success"]`,
		wantKind: syslog.KindDevice,
		want: `{"org":"h1","account_id":"a1","device_id":"d1","kind":"login","signals":{"rooted":true,"emulator":false},` +
			`"location":{"lat":31.2304,"lon":-121.47,"accuracy_m":15},"outcome":"success","occurred_at":"2026-11-28T12:00:00.5Z",` +
			`"attrs":{"syslog.app_name":"risk"}}`},
	{name: "kind from the configuration, custom SD-ID, minor and geo",
		in:       `<14>1 - - - - - [acme@12345 org="h1" subject.minor="true" client.geo.lat="0.5" client.ip="192.0.2.7"][other@1 org="x"]`,
		opts:     syslog.MappingOptions{SDID: "acme@12345", Kind: syslog.KindAccess},
		wantKind: syslog.KindAccess,
		want:     `{"org":"h1","subject":{"minor":true},"client":{"geo":{"lat":0.5},"ip":"192.0.2.7"}}`},
	{name: "kind from MSGID wins over the configuration",
		in:       `<14>1 - - - - device [vigil@32473 org="h1"]`,
		opts:     syslog.MappingOptions{Kind: syslog.KindAccess},
		wantKind: syslog.KindDevice,
		want:     `{"org":"h1"}`},
	{name: "kind param wins over MSGID",
		in:       `<14>1 - - - - device [vigil@32473 kind="access" org="h1"]`,
		wantKind: syslog.KindAccess,
		want:     `{"org":"h1"}`},
	{name: "occurred_at param is kept; attrs params join the header's",
		in:       `<14>1 2026-11-28T12:00:00Z host - - - [vigil@32473 kind="access" occurred_at="2026-11-28T11:00:00Z" attrs.ward="7" attrs.x.y:z="v"]`,
		wantKind: syslog.KindAccess,
		want:     `{"occurred_at":"2026-11-28T11:00:00Z","attrs":{"ward":"7","x.y:z":"v","syslog.hostname":"host"}}`},
	{name: "repeated categories params are one list; spaces around items go",
		in:       `<14>1 - - - - - [vigil@32473 kind="access" categories="health, chat" categories="location"]`,
		wantKind: syslog.KindAccess,
		want:     `{"categories":["health","chat","location"]}`},
	{name: "empty categories is an empty list",
		in:       `<14>1 - - - - - [vigil@32473 kind="access" categories=""]`,
		wantKind: syslog.KindAccess,
		want:     `{"categories":[]}`},
	{name: "escaped and control characters stay valid JSON",
		in:       "<14>1 - - - - - [vigil@32473 kind=\"access\" purpose=\"say \\\"hi\\\" \\\\ \\] \t\x01 \u2028 患者\"]",
		wantKind: syslog.KindAccess,
		want:     `{"purpose":"say \"hi\" \\ ] \t\u0001 \u2028 患者"}`},
	{name: "JSON body, kind from the configuration",
		in:       `<13>Nov 28 11:59:00 web01 vigil: {"org":"h1","action":"read"}`,
		opts:     syslog.MappingOptions{Kind: syslog.KindAccess},
		wantKind: syslog.KindAccess,
		want:     `{"org":"h1","action":"read"}`},
	{name: "JSON body after a BOM and white space, bytes intact",
		in:       "<14>1 - - - - device - " + bom + " \t\r\n{\"org\" : \"h1\" }\n",
		wantKind: syslog.KindDevice,
		want:     "{\"org\" : \"h1\" }\n"},
	{name: "JSON body with a kind param",
		in:       `<14>1 - - - - - [vigil@32473 kind="device"] {"org":"h1"}`,
		wantKind: syslog.KindDevice,
		want:     `{"org":"h1"}`},
	{name: "JSON body with other SD elements",
		in:       `<14>1 - - - - - [timeQuality tzKnown="1"] {"org":"h1"}`,
		opts:     syslog.MappingOptions{Kind: syslog.KindAccess},
		wantKind: syslog.KindAccess,
		want:     `{"org":"h1"}`},
}

func TestToJSON(t *testing.T) {
	for _, c := range mapCases {
		t.Run(c.name, func(t *testing.T) {
			m := mustParse(t, c.in)
			kind, body, err := syslog.ToJSON(m, c.opts)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			if kind != c.wantKind {
				t.Errorf("kind = %q, want %q", kind, c.wantKind)
			}
			if string(body) != c.want {
				t.Errorf("body\n got %s\nwant %s", body, c.want)
			}
			if !json.Valid(body) {
				t.Errorf("body is not valid JSON: %s", body)
			}
		})
	}
}

func TestToJSONErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		opts syslog.MappingOptions
		want string
	}{
		{"no event", `<13>Nov 28 11:59:00 web01 vigil: some text`, syslog.MappingOptions{Kind: "access"},
			"syslog: mapping: no event in the message: want a JSON object as the message or a [vigil@32473] element"},
		{"SD element of another SD-ID", `<14>1 - - - - - [vigil@1 kind="access" org="h1"]`, syslog.MappingOptions{},
			"syslog: mapping: no event in the message: want a JSON object as the message or a [vigil@32473] element"},
		{"no kind", `<14>1 - - - - - [vigil@32473 org="h1"]`, syslog.MappingOptions{},
			`syslog: mapping: no event kind: add kind="access" or kind="device" to [vigil@32473], send MSGID access or device, or configure syslog.mapping.kind`},
		{"no kind for a JSON body", `<14>1 - - - - - - {"org":"h1"}`, syslog.MappingOptions{},
			`syslog: mapping: no event kind: add kind="access" or kind="device" to [vigil@32473], send MSGID access or device, or configure syslog.mapping.kind`},
		{"kind not access or device", `<14>1 - - - - - [vigil@32473 kind="login"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "kind": not one of access|device (a device event's own kind goes in device_kind)`},
		{"kind twice", `<14>1 - - - - - [vigil@32473 kind="access" kind="access"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "kind": repeated`},
		{"JSON body and fields", `<14>1 - - - - - [vigil@32473 kind="access" org="h1"] {"org":"h1"}`, syslog.MappingOptions{},
			"syslog: mapping: [vigil@32473]: the message has a JSON body and event fields in [vigil@32473]; send one or the other"},
		{"device_kind on an access event", `<14>1 - - - - - [vigil@32473 kind="access" device_kind="login"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "device_kind": only for device events`},
		{"record_count not an integer", `<14>1 - - - - - [vigil@32473 kind="access" record_count="3.5"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "record_count": not an integer`},
		{"record_count out of int64", `<14>1 - - - - - [vigil@32473 kind="access" record_count="99999999999999999999"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "record_count": not an integer`},
		{"bool not true or false", `<14>1 - - - - - [vigil@32473 kind="access" subject.vip="yes"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "subject.vip": not true or false`},
		{"NaN", `<14>1 - - - - - [vigil@32473 kind="device" location.lat="NaN"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "location.lat": not a decimal number`},
		{"infinite", `<14>1 - - - - - [vigil@32473 kind="device" location.lat="1e400"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "location.lat": not a decimal number`},
		{"hex float", `<14>1 - - - - - [vigil@32473 kind="device" location.lon="0x1p-2"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "location.lon": not a decimal number`},
		{"empty category", `<14>1 - - - - - [vigil@32473 kind="access" categories="health,,chat"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "categories": empty item in the comma-separated list`},
		{"repeated field", `<14>1 - - - - - [vigil@32473 kind="access" org="h1" org="h2"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "org": repeated`},
		{"object then value", `<14>1 - - - - - [vigil@32473 kind="access" actor.id="u1" actor="x"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "actor": also the parent of other params`},
		{"value then object", `<14>1 - - - - - [vigil@32473 kind="access" actor="x" actor.id="u1"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "actor.id": "actor" is also given a value of its own`},
		{"upper-case path", `<14>1 - - - - - [vigil@32473 kind="access" Actor.ID="u1"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "Actor.ID": not an event field path (names of a-z, 0-9 and _ joined by dots)`},
		{"empty path segment", `<14>1 - - - - - [vigil@32473 kind="access" actor..id="u1"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "actor..id": not an event field path (names of a-z, 0-9 and _ joined by dots)`},
		{"reserved attrs key", `<14>1 - - - - - [vigil@32473 kind="access" attrs.syslog.hostname="x"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "attrs.syslog.hostname": reserved: filled from the syslog header`},
		{"attrs without a key", `<14>1 - - - - - [vigil@32473 kind="access" attrs.="x"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "attrs.": want attrs.<key>`},
		{"attrs as a value", `<14>1 - - - - - [vigil@32473 kind="access" attrs="x"]`, syslog.MappingOptions{},
			`syslog: mapping: [vigil@32473] param "attrs": want attrs.<key>, one param per key`},
	} {
		t.Run(c.name, func(t *testing.T) {
			kind, body, err := syslog.ToJSON(mustParse(t, c.in), c.opts)
			if err == nil {
				t.Fatalf("ToJSON = %q, %s; want error %q", kind, body, c.want)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got %s\nwant %s", err, c.want)
			}
		})
	}
}

// TestToJSONHandBuilt covers messages that Parse never returns.
func TestToJSONHandBuilt(t *testing.T) {
	twice := syslog.Message{StructuredData: []syslog.SDElement{sd("vigil@32473", "kind", "access"), sd("vigil@32473")}}
	if _, _, err := syslog.ToJSON(twice, syslog.MappingOptions{}); err == nil || err.Error() != "syslog: mapping: [vigil@32473]: the element appears twice" {
		t.Errorf("element twice: %v", err)
	}
	bad := syslog.Message{StructuredData: []syslog.SDElement{sd("vigil@32473", "kind", "access", "org", "\xff")}}
	if _, _, err := syslog.ToJSON(bad, syslog.MappingOptions{}); err == nil || err.Error() != `syslog: mapping: [vigil@32473] param "org": value is not valid UTF-8` {
		t.Errorf("invalid UTF-8: %v", err)
	}
	_, _, err := syslog.ToJSON(syslog.Message{}, syslog.MappingOptions{Kind: "access"})
	if !errors.Is(err, syslog.ErrNoEvent) {
		t.Errorf("empty message: %v, want ErrNoEvent", err)
	}
}

// TestToJSONDecodes runs the mapping's output through Vigil's event
// decoder: the documented examples must be valid events.
func TestToJSONDecodes(t *testing.T) {
	access := mustParse(t, "<14>1 2026-11-28T12:00:00.123Z ehr-01 ehr 77 - "+accessSD)
	kind, body, err := syslog.ToJSON(access, syslog.MappingOptions{})
	if err != nil || kind != syslog.KindAccess {
		t.Fatalf("ToJSON = %q, %v", kind, err)
	}
	v := event.Validator{Now: func() time.Time { return clock }}
	e, probs := v.DecodeAccess(body)
	if len(probs) > 0 {
		t.Fatalf("DecodeAccess(%s): %v", body, probs)
	}
	if e.RecordCount != 3 || e.Subject.ID != "p9" || len(e.Categories) != 2 || e.Attrs[syslog.AttrHostname] != "ehr-01" ||
		!e.OccurredAt.Equal(utc(2026, 11, 28, 12, 0, 0, 123e6)) {
		t.Errorf("decoded %+v", e)
	}

	device := mustParse(t, `<14>1 2026-11-28T12:00:00Z phone risk-sdk - device [vigil@32473 org="h1" account_id="a1" device_id="d1" device_kind="face_verify" `+
		`signals.hook_framework="true" location.lat="31.2304" location.lon="121.4737" outcome="failure"]`)
	kind, body, err = syslog.ToJSON(device, syslog.MappingOptions{})
	if err != nil || kind != syslog.KindDevice {
		t.Fatalf("ToJSON = %q, %v", kind, err)
	}
	d, probs := v.DecodeDevice(body)
	if len(probs) > 0 {
		t.Fatalf("DecodeDevice(%s): %v", body, probs)
	}
	if !d.Signals.HookFramework || d.Kind != event.KindFaceVerify || d.Location == nil || d.Location.Lat != 31.2304 {
		t.Errorf("decoded %+v", d)
	}
}

// TestFieldTypesMatchEvent checks the mapping's table of typed fields
// against the event package, the authority: every field of AccessEvent and
// DeviceEvent whose JSON is not a string must be in the table with its
// type, and the table must name no other field.
func TestFieldTypesMatchEvent(t *testing.T) {
	for kind, typ := range map[string]reflect.Type{
		syslog.KindAccess: reflect.TypeFor[event.AccessEvent](),
		syslog.KindDevice: reflect.TypeFor[event.DeviceEvent](),
	} {
		want := map[string]string{}
		walkEventType(t, typ, "", want)
		if got := syslog.FieldTypes()[kind]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the table has\n%v\nthe event package says\n%v", kind, got, want)
		}
	}
}

var (
	timestampType = reflect.TypeFor[event.Timestamp]()
	stringType    = reflect.TypeFor[string]()
)

// walkEventType records the JSON type of every non-string leaf of t.
func walkEventType(t *testing.T, typ reflect.Type, prefix string, out map[string]string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Fatalf("%s%s has no JSON name", prefix, f.Name)
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == timestampType:
		case ft.Kind() == reflect.Struct:
			walkEventType(t, ft, path+".", out)
		case ft.Kind() == reflect.String:
		case ft.Kind() == reflect.Bool:
			out[path] = "bool"
		case ft.Kind() == reflect.Int64 || ft.Kind() == reflect.Int:
			out[path] = "int"
		case ft.Kind() == reflect.Float64:
			out[path] = "float"
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			out[path] = "list"
		case ft.Kind() == reflect.Map && ft.Key() == stringType && ft.Elem() == stringType:
			// attrs: one param per key, always strings
		default:
			t.Errorf("%s: type %v has no mapping; teach the mapping table and this test", path, f.Type)
		}
	}
}

func TestMappingOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		opts syslog.MappingOptions
		want string
	}{
		{syslog.MappingOptions{}, ""},
		{syslog.MappingOptions{SDID: "acme@12345", Kind: "device"}, ""},
		{syslog.MappingOptions{SDID: "origin"}, ""},
		{syslog.MappingOptions{SDID: "acme@"}, `syslog.mapping.sd_id: "acme@": want name@<private enterprise number>`},
		{syslog.MappingOptions{SDID: "a b@1"}, `syslog.mapping.sd_id: "a b@1": not allowed in an SD-ID: ' ' or ']'`},
		{syslog.MappingOptions{SDID: "a]@1"}, `syslog.mapping.sd_id: "a]@1": not allowed in an SD-ID: ' ' or ']'`},
		{syslog.MappingOptions{SDID: `a"@1`}, `syslog.mapping.sd_id: "a\"@1": byte '"' is not allowed in a name (printable US-ASCII except '=', ' ', ']', '"')`},
		{syslog.MappingOptions{SDID: strings.Repeat("x", 30) + "@123"}, `syslog.mapping.sd_id: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@123": name of 34 bytes, more than 32`},
		{syslog.MappingOptions{Kind: "login"}, `syslog.mapping.kind: "login" is not one of access|device`},
	} {
		err := syslog.Config{Mapping: c.opts}.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("Validate(%+v)\n got %s\nwant %s", c.opts, got, c.want)
		}
	}
}
