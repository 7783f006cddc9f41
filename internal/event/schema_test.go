package event_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigil-audit/vigil/internal/event"
)

// compileSchema compiles a published schema with format assertions on.
func compileSchema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	raw := event.Schema(name)
	if raw == nil {
		t.Fatalf("Schema(%q) = nil", name)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema %s is not JSON: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	url := name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

// schemaVerdict returns nil if the schema accepts data, else why not. Data
// that is not JSON is rejected before the schema is consulted, as any
// sender's validator would.
func schemaVerdict(s *jsonschema.Schema, data string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// TestSchemaAgreesWithValidator checks that the published schemas and the Go
// validator give the same verdict on every good and bad case, except the
// cases marked Go-only, which the schema must accept (or they are not
// Go-only).
func TestSchemaAgreesWithValidator(t *testing.T) {
	type kindCases struct {
		schema string
		decode func([]byte) event.Problems
		good   map[string][]byte
		bad    []badCase
	}
	kinds := []kindCases{
		{event.SchemaAccess, func(b []byte) event.Problems { _, ps := testValidator.DecodeAccess(b); return ps },
			goodFiles(t, "access"), accessBadCases(t)},
		{event.SchemaDevice, func(b []byte) event.Problems { _, ps := testValidator.DecodeDevice(b); return ps },
			goodFiles(t, "device"), deviceBadCases(t)},
	}
	for _, k := range kinds {
		s := compileSchema(t, k.schema)
		for name, data := range k.good {
			t.Run(k.schema+"/good/"+name, func(t *testing.T) {
				if ps := k.decode(data); len(ps) != 0 {
					t.Errorf("validator rejects: %v", ps)
				}
				if err := schemaVerdict(s, string(data)); err != nil {
					t.Errorf("schema rejects: %v", err)
				}
			})
		}
		for _, tc := range k.bad {
			t.Run(k.schema+"/bad/"+tc.name, func(t *testing.T) {
				if ps := k.decode([]byte(tc.in)); len(ps) == 0 {
					t.Fatalf("validator accepts")
				}
				err := schemaVerdict(s, tc.in)
				switch {
				case tc.goOnly == "" && err == nil:
					t.Errorf("schema accepts what the validator rejects with %q", tc.want)
				case tc.goOnly != "" && err != nil:
					t.Errorf("marked Go-only (%s) but the schema rejects it too: %v", tc.goOnly, err)
				}
			})
		}
	}
}

// TestSchemaEdgesAgree runs valid edge cases through both the validator
// and the schema: values at the limits, and every optional string empty
// (which means absent).
func TestSchemaEdgesAgree(t *testing.T) {
	b, d := baseAccess, baseDevice
	access := []string{
		del(t, del(t, set(t, b, "action", "login"), "subject"), "categories"),
		set(t, b, "actor.id", strings.Repeat("a", 256)),
		set(t, b, "attrs", attrsJSON(64)),
		set(t, b, "record_count", raw(`1.2e3`)),
		set(t, b, "record_count", raw(`1000000000000`)),
		set(t, b, "occurred_at", "2016-12-31T23:59:60Z"),
		set(t, b, "occurred_at", "2016-12-31T15:59:60.5-08:00"),
		set(t, b, "occurred_at", raw(`"2026-11-28T09:30:00\u005a"`)),
		set(t, set(t, b, "client.geo.lat", -90), "client.geo.lon", 180),
	}
	for _, path := range []string{"source", "actor.role", "actor.department", "purpose", "client.ip",
		"client.user_agent", "client.device_id", "client.geo.country", "client.geo.region",
		"client.geo.city", "session_id", "request_id", "attrs.k"} {
		access = append(access, set(t, b, path, ""))
	}
	device := []string{
		set(t, d, "location", raw(`{"lat":-90,"lon":-180,"accuracy_m":20000000}`)),
		set(t, d, "signals", raw(`{}`)),
	}
	for _, path := range []string{"source", "device.model", "device.os", "device.os_version",
		"device.app_version", "network.ip", "network.carrier", "network.wifi_bssid", "attrs.k"} {
		device = append(device, set(t, d, path, ""))
	}
	kinds := []struct {
		schema string
		decode func([]byte) event.Problems
		in     []string
	}{
		{event.SchemaAccess, func(b []byte) event.Problems { _, ps := testValidator.DecodeAccess(b); return ps }, access},
		{event.SchemaDevice, func(b []byte) event.Problems { _, ps := testValidator.DecodeDevice(b); return ps }, device},
	}
	for _, k := range kinds {
		s := compileSchema(t, k.schema)
		for _, in := range k.in {
			if ps := k.decode([]byte(in)); len(ps) != 0 {
				t.Errorf("validator rejects %.200s: %v", in, ps)
			}
			if err := schemaVerdict(s, in); err != nil {
				t.Errorf("schema rejects %.200s: %v", in, err)
			}
		}
	}
}

// schemaDoc is a schema decoded for inspection.
func schemaDoc(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(event.Schema(name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at follows a path of keys through a decoded schema.
func at(t testing.TB, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("schema: no object at %q", k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("schema: no key %q among %v", k, slices.Sorted(mapKeys(m)))
		}
	}
	return v
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func enumOf(t testing.TB, v any) []string {
	t.Helper()
	var out []string
	for _, x := range at(t, v, "enum").([]any) {
		out = append(out, x.(string))
	}
	return out
}

func strs[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// TestSchemaEnumsMatchGo keeps the schemas' enums equal to the Go constants.
func TestSchemaEnumsMatchGo(t *testing.T) {
	a := at(t, schemaDoc(t, event.SchemaAccess), "properties")
	d := at(t, schemaDoc(t, event.SchemaDevice), "properties")
	cases := []struct {
		name   string
		schema any
		want   []string
	}{
		{"actor.type", at(t, a, "actor", "properties", "type"), strs(event.ActorTypes())},
		{"action", at(t, a, "action"), strs(event.Actions())},
		{"subject.type", at(t, a, "subject", "properties", "type"), strs(event.SubjectTypes())},
		{"categories", at(t, a, "categories", "items"), strs(event.Categories())},
		{"relationship", at(t, a, "relationship"), strs(event.Relationships())},
		{"access outcome", at(t, a, "outcome"), strs(event.AccessOutcomes())},
		{"kind", at(t, d, "kind"), strs(event.DeviceKinds())},
		{"device outcome", at(t, d, "outcome"), strs(event.DeviceOutcomes())},
	}
	for _, tc := range cases {
		if got := enumOf(t, tc.schema); !slices.Equal(got, tc.want) {
			t.Errorf("%s: schema enum %q, Go %q", tc.name, got, tc.want)
		}
	}
}

// TestSchemaLimitsMatchGo keeps the schemas' numbers equal to the constants.
func TestSchemaLimitsMatchGo(t *testing.T) {
	for _, name := range []string{event.SchemaAccess, event.SchemaDevice} {
		doc := schemaDoc(t, name)
		defs := at(t, doc, "$defs")
		checks := []struct {
			what string
			got  any
			want float64
		}{
			{"id maxLength", at(t, defs, "id", "maxLength"), event.MaxIDLen},
			{"label maxLength", at(t, defs, "label", "maxLength"), event.MaxStringLen},
			{"attrs maxProperties", at(t, defs, "attrs", "maxProperties"), event.MaxAttrs},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s = %v, want %v", name, c.what, c.got, c.want)
			}
		}
		if p := at(t, defs, "eventId", "pattern").(string); !strings.Contains(p, "{1,128}") || event.MaxEventIDLen != 128 {
			t.Errorf("%s: eventId pattern %q does not match MaxEventIDLen %d", name, p, event.MaxEventIDLen)
		}
		if p := at(t, defs, "attrs", "propertyNames", "pattern").(string); !strings.Contains(p, "{1,64}") || event.MaxAttrKeyLen != 64 {
			t.Errorf("%s: attrs key pattern %q does not match MaxAttrKeyLen %d", name, p, event.MaxAttrKeyLen)
		}
	}
	a := at(t, schemaDoc(t, event.SchemaAccess), "properties")
	if got := at(t, a, "record_count", "maximum"); got != float64(event.MaxRecordCount) {
		t.Errorf("record_count maximum %v, want %v", got, event.MaxRecordCount)
	}
	if got := at(t, schemaDoc(t, event.SchemaAccess), "$defs", "text", "maxLength"); got != float64(event.MaxTextLen) {
		t.Errorf("text maxLength %v, want %v", got, event.MaxTextLen)
	}
	d := at(t, schemaDoc(t, event.SchemaDevice), "properties")
	if got := at(t, d, "location", "properties", "accuracy_m", "maximum"); got != float64(event.MaxAccuracyM) {
		t.Errorf("accuracy_m maximum %v, want %v", got, event.MaxAccuracyM)
	}
}

// TestSchemaFieldsMatchGo checks that every json field of the Go types is a
// property of the schema at the same place, and the reverse, and that
// every object in the schema forbids additional properties.
func TestSchemaFieldsMatchGo(t *testing.T) {
	cases := []struct {
		schema string
		typ    reflect.Type
	}{
		{event.SchemaAccess, reflect.TypeFor[event.AccessEvent]()},
		{event.SchemaDevice, reflect.TypeFor[event.DeviceEvent]()},
	}
	for _, tc := range cases {
		doc := schemaDoc(t, tc.schema)
		compareFields(t, tc.schema, doc, doc, tc.typ)
	}
}

func compareFields(t *testing.T, path string, doc, node map[string]any, typ reflect.Type) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	node = resolve(t, doc, node)
	if node["additionalProperties"] != false {
		t.Errorf("%s: additionalProperties is not false", path)
	}
	props := at(t, node, "properties").(map[string]any)
	goFields := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		goFields[name] = true
		p, ok := props[name]
		if !ok {
			t.Errorf("%s.%s: in Go, not in the schema", path, name)
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[event.Timestamp]() {
			compareFields(t, path+"."+name, doc, p.(map[string]any), ft)
		}
	}
	for name := range props {
		if !goFields[name] {
			t.Errorf("%s.%s: in the schema, not in Go", path, name)
		}
	}
}

// resolve follows a local $ref.
func resolve(t *testing.T, doc, node map[string]any) map[string]any {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node
	}
	return at(t, doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
}

func TestSchemaUnknown(t *testing.T) {
	if got := event.Schema("alerts.v1"); got != nil {
		t.Errorf("Schema(alerts.v1) = %d bytes, want nil", len(got))
	}
}
