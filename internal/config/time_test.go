package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A time.Time field is a scalar in YAML, read as RFC 3339.
func TestLoadTimeField(t *testing.T) {
	type cfg struct {
		Expires time.Time `yaml:"expires"`
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		yaml, want, err string
	}{
		{"expires: 2027-03-01T00:00:00Z\n", "2027-03-01T00:00:00Z", ""},
		{"expires: 2027-03-01T08:00:00+08:00\n", "2027-03-01T00:00:00Z", ""},
		{"expires: soon\n", "", "expires"},
		{"expires: {year: 2027}\n", "", "want a scalar"},
	} {
		f := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(f, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var c cfg
		_, err := Load(&c, Source{File: f})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil || !c.Expires.Equal(mustTime(t, tc.want)) {
			t.Errorf("%q: %v, %v", tc.yaml, c.Expires, err)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
