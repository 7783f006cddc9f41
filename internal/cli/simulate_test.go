package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vigil simulate --out writes the same files for the same seed, and every
// label names events of the files.
func TestSimulateOut(t *testing.T) {
	dir := t.TempDir()
	var files [2][3][]byte
	for i := range 2 {
		out := filepath.Join(dir, string(rune('a'+i)))
		code, _, stderr := run(t, nil, "simulate", "--out", out, "--rate", "0.5", "--duration", "3h", "--seed", "2", "--orgs", "2")
		if code != ExitOK || !strings.Contains(stderr, "labelled incidents") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for j, name := range []string{"access.ndjson", "device.ndjson", "labels.jsonl"} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil || len(b) == 0 {
				t.Fatalf("%s: %v (%d bytes)", name, err, len(b))
			}
			files[i][j] = b
		}
	}
	for j := range 3 {
		if !bytes.Equal(files[0][j], files[1][j]) {
			t.Errorf("file %d differs between two runs of the same seed", j)
		}
	}
	code, _, stderr := run(t, nil, "simulate", "--out", filepath.Join(dir, "a"), "--duration", "1h")
	if code != ExitFailure || !strings.Contains(stderr, "exists") {
		t.Errorf("writing over a run: exit %d: %s", code, stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"simulate", "--out", dir, "--collector", "http://127.0.0.1:1"}, "exactly one destination"},
		{[]string{"simulate", "--out", dir, "--kinds", "snooping"}, `unknown incident kind "snooping"`},
		{[]string{"simulate", "--out", dir, "--real-time", "--start", "2026-01-01"}, "exclude each other"},
		{[]string{"simulate", "--brokers", "127.0.0.1:1", "--data", dir}, "pseudonymised with the collector's key"},
		{[]string{"simulate", "--collector", "http://127.0.0.1:1", "--data", dir}, "needs the bearer token"},
	} {
		code, _, stderr := run(t, nil, tt.args...)
		if code != ExitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, ExitUsage, tt.want)
		}
	}
}
