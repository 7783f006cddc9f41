package event_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-audit/vigil/internal/event"
)

var update = flag.Bool("update", false, "rewrite testdata/access_golden.json")

// TestAccessGolden decodes the maximal event and compares its encoding
// with the golden file: key names, key order, the timestamp form and the
// normalisations are all part of the contract.
func TestAccessGolden(t *testing.T) {
	in := goodFiles(t, "access")["maximal.json"]
	e, ps := testValidator.DecodeAccess(in)
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	got, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "access_golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestAccessGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encoding differs from %s (run with -update if the change is intended):\n%s", golden, got)
	}
	if !bytes.Contains(got, []byte(`"occurred_at": "2026-11-28T09:30:00.123Z"`)) {
		t.Errorf("occurred_at not normalised to UTC milliseconds:\n%s", got)
	}
}

// TestRoundTrip checks that every good event survives decode → encode →
// decode unchanged, and that the encoding is itself valid.
func TestRoundTrip(t *testing.T) {
	for name, data := range goodFiles(t, "access") {
		t.Run("access/"+name, func(t *testing.T) {
			e, ps := testValidator.DecodeAccess(data)
			if len(ps) != 0 {
				t.Fatal(ps)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			e2, ps := testValidator.DecodeAccess(b)
			if len(ps) != 0 {
				t.Fatalf("re-decode %s: %v", b, ps)
			}
			if !reflect.DeepEqual(e, normaliseEmpty(e2, e)) {
				t.Errorf("round trip changed the event:\n%+v\n%+v", e, e2)
			}
			b2, _ := json.Marshal(e2)
			if !bytes.Equal(b, b2) {
				t.Errorf("second encoding differs:\n%s\n%s", b, b2)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if ts, _ := m["occurred_at"].(string); len(ts) != len("2026-11-28T09:30:00.123Z") || !strings.HasSuffix(ts, "Z") {
				t.Errorf("occurred_at encoded as %q", ts)
			}
		})
	}
	for name, data := range goodFiles(t, "device") {
		t.Run("device/"+name, func(t *testing.T) {
			e, ps := testValidator.DecodeDevice(data)
			if len(ps) != 0 {
				t.Fatal(ps)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			e2, ps := testValidator.DecodeDevice(b)
			if len(ps) != 0 {
				t.Fatalf("re-decode %s: %v", b, ps)
			}
			if e2.Attrs == nil && e.Attrs != nil && len(e.Attrs) == 0 {
				e2.Attrs = e.Attrs
			}
			if !reflect.DeepEqual(e, e2) {
				t.Errorf("round trip changed the event:\n%+v\n%+v", e, e2)
			}
		})
	}
}

// normaliseEmpty gives got the empty-but-present collections of want that
// encoding drops (omitempty), so that they compare equal.
func normaliseEmpty(got, want event.AccessEvent) event.AccessEvent {
	if got.Attrs == nil && want.Attrs != nil && len(want.Attrs) == 0 {
		got.Attrs = want.Attrs
	}
	if got.Categories == nil && want.Categories != nil && len(want.Categories) == 0 {
		got.Categories = want.Categories
	}
	return got
}
