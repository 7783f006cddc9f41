package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// testNow is the clock of every test validator: a few hours after the
// events in testdata.
var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testValidator is the Validator the tests use, with a fixed clock.
var testValidator = event.Validator{Now: func() time.Time { return testNow }}

// Base events for the bad cases: valid, with every field that the cases
// change. Each bad case derives its input from one with set, del or raw
// text edits, so the case shows only what is wrong.
const (
	baseAccess = `{"event_id":"evt-1","occurred_at":"2026-11-28T09:30:00.123Z","org":"hosp-1",` +
		`"actor":{"id":"staff-42","type":"doctor","role":"physician"},"action":"read",` +
		`"subject":{"id":"pt-9","type":"patient"},"categories":["health"],"outcome":"success"}`
	baseDevice = `{"event_id":"dev-evt-1","occurred_at":"2026-11-28T09:30:00.123Z","org":"app-1",` +
		`"account_id":"acct-1","device_id":"dev-1","kind":"login","outcome":"success"}`
)

// set returns base with the value at the dotted path replaced by v, creating
// objects on the way. v is any JSON-encodable value; json.RawMessage is put
// in verbatim.
func set(t testing.TB, base, path string, v any) string {
	t.Helper()
	m := decodeMap(t, base)
	cur := m
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
	return encodeMap(t, m)
}

// del returns base without the value at the dotted path.
func del(t testing.TB, base, path string) string {
	t.Helper()
	m := decodeMap(t, base)
	cur := m
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		cur = cur[p].(map[string]any)
	}
	delete(cur, parts[len(parts)-1])
	return encodeMap(t, m)
}

func decodeMap(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("test base is not JSON: %v", err)
	}
	return m
}

func encodeMap(t testing.TB, m map[string]any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// replace returns s with old replaced by new once, failing if old is absent.
func replace(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("replace: %q not in %s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

// problemStrings returns the problems' strings, or nil.
func problemStrings(ps event.Problems) []string {
	if len(ps) == 0 {
		return nil
	}
	return ps.Strings()
}

// sameSet reports whether got and want hold the same strings.
func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	for i := range g {
		if g[i] != w[i] {
			return false
		}
	}
	return true
}

// goodFiles returns the good events in testdata/<kind>/*.json by name.
func goodFiles(t testing.TB, kind string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", kind, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata/%s/*.json: %v", kind, err)
	}
	files := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(n)] = b
	}
	return files
}

// attrsJSON returns an attrs object with n entries k0…k(n-1).
func attrsJSON(n int) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":"v"`)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// indent returns s pretty-printed.
func indent(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
