package filetail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const goodFP = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// TestCorruptPositionsFile proves an unusable positions file stops New (and
// Run, if it is damaged after New) with an error naming the file and
// wrapping ErrCorruptPositions: the tailer never guesses where to resume.
func TestCorruptPositionsFile(t *testing.T) {
	t.Parallel()
	entry := func(fields string) string {
		return `{"version":1,"files":[{"path":"/l/a.log","dev":1,"inode":2,"fingerprint":"` + goodFP + `","fingerprint_bytes":256,"offset":10` + fields + `}]}`
	}
	tests := []struct {
		name, content, reason string
	}{
		{"garbage", "\x00\x01not json at all", "invalid character"},
		{"empty", "", "empty"},
		{"blank", " \n", "empty"},
		{"truncated JSON", `{"version":1,"files":[{"path":"/l/a.log","dev":1,`, "truncated"},
		{"trailing data", entry("") + `{}`, "data after"},
		{"wrong version", `{"version":2,"files":[]}`, "version 2"},
		{"no version", `{"files":[]}`, "version 0"},
		{"unknown field", entry(`,"extra":1`), "unknown field"},
		{"wrong type", `{"version":1,"files":[{"path":"/l/a.log","offset":"ten"}]}`, "cannot unmarshal"},
		{"negative offset", strings.Replace(entry(""), `"offset":10`, `"offset":-1`, 1), "negative offset"},
		{"empty path", strings.Replace(entry(""), `"/l/a.log"`, `""`, 1), "empty path"},
		{"bad fingerprint", strings.Replace(entry(""), goodFP, "xyz", 1), "fingerprint"},
		{"fingerprint bytes", strings.Replace(entry(""), `"fingerprint_bytes":256`, `"fingerprint_bytes":257`, 1), "fingerprint_bytes"},
		{"duplicate identity", `{"version":1,"files":[` + strings.TrimSuffix(strings.TrimPrefix(entry(""), `{"version":1,"files":[`), `]}`) + `,` + strings.TrimSuffix(strings.TrimPrefix(entry(""), `{"version":1,"files":[`), `]}`) + `]}`, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := testConfig(dir, filepath.Join(dir, "*.log"))
			if err := os.MkdirAll(filepath.Dir(cfg.PositionsFile), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg.PositionsFile, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(cfg, &sink{})
			checkCorrupt(t, err, cfg.PositionsFile, tc.reason)
		})
	}

	t.Run("damaged after New", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := testConfig(dir, filepath.Join(dir, "*.log"))
		tl, err := New(cfg, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(cfg.PositionsFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg.PositionsFile, []byte(`{"version":1,"fi`), 0o600); err != nil {
			t.Fatal(err)
		}
		checkCorrupt(t, tl.Run(context.Background()), cfg.PositionsFile, "truncated")
	})
}

func checkCorrupt(t *testing.T, err error, path, reason string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrCorruptPositions) {
		t.Errorf("error does not wrap ErrCorruptPositions: %v", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file %s: %v", path, err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("error does not say %q: %v", reason, err)
	}
}

// TestPositionsFileWritten proves the positions file format and how it is
// written: atomically (no temporary file left), mode 0600, one entry per
// file identity matching the file.
func TestPositionsFileWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(logs, "a.log"), filepath.Join(logs, "b.log")
	appendFile(t, a, joinLines("a1", "a2"))
	appendFile(t, b, joinLines("b1"))
	cfg := testConfig(dir, filepath.Join(logs, "*.log"))
	var s sink
	r := start(t, cfg, &s)
	waitFor(t, "all lines", func() bool { return len(s.lines()) == 3 })
	r.stop(t)

	entries, err := os.ReadDir(filepath.Dir(cfg.PositionsFile))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"positions.json", "positions.json.lock"}; !reflect.DeepEqual(names, want) {
		t.Errorf("state directory holds %q, want %q", names, want)
	}
	fi, err := os.Stat(cfg.PositionsFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(cfg.PositionsFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int              `json:"version"`
		Files   []map[string]any `json:"files"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Files) != 2 {
		t.Fatalf("positions file:\n%s", data)
	}
	for _, f := range doc.Files {
		var keys []string
		for k := range f {
			keys = append(keys, k)
		}
		if len(keys) != 6 {
			t.Errorf("entry keys %q, want path, dev, inode, fingerprint, fingerprint_bytes, offset", keys)
		}
	}
	for i, path := range []string{a, b} {
		p, ok := positionFor(t, r.Positions(), path)
		if !ok || p.Path != path || p.Offset != fileSize(t, path) {
			t.Errorf("position of %s: %+v", path, p)
		}
		if doc.Files[i]["path"] != path {
			t.Errorf("entry %d is %v, want %s (sorted by path)", i, doc.Files[i]["path"], path)
		}
	}
}

func TestPositionsRoundTrip(t *testing.T) {
	t.Parallel()
	ps := []Position{
		{Path: "/l/b.log", Dev: 1, Inode: 3, Fingerprint: goodFP, FingerprintBytes: 10, Offset: 10},
		{Path: "/l/a.log", Dev: 1, Inode: 2, Fingerprint: goodFP, FingerprintBytes: 256, Offset: 1 << 40},
	}
	got, err := decodePositions(encodePositions(ps))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []Position{ps[1], ps[0]}) {
		t.Errorf("round trip: %+v", got)
	}
	if got, err := decodePositions(encodePositions(nil)); err != nil || len(got) != 0 {
		t.Errorf("empty round trip: %+v, %v", got, err)
	}
}

// FuzzPositionsFile feeds the positions decoder arbitrary bytes: it must
// never panic, must reject with ErrCorruptPositions, and what it accepts
// must survive encoding and decoding unchanged.
func FuzzPositionsFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"files":[]}`))
	f.Add(encodePositions([]Position{{Path: "/l/a.log", Dev: 1, Inode: 2, Fingerprint: goodFP, FingerprintBytes: 256, Offset: 10}}))
	f.Add([]byte(`{"version":1,"files":[{"path":"/l/a.log","dev":1,`))
	f.Add([]byte(`{"version":1,"files":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := decodePositions(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptPositions) {
				t.Fatalf("error does not wrap ErrCorruptPositions: %v", err)
			}
			return
		}
		enc := encodePositions(ps)
		again, err := decodePositions(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		sortPositions(ps)
		if len(ps) != len(again) || (len(ps) > 0 && !reflect.DeepEqual(ps, again)) {
			t.Fatalf("round trip changed %+v into %+v", ps, again)
		}
		if !bytes.Equal(encodePositions(again), enc) {
			t.Fatal("encoding is not stable")
		}
	})
}
