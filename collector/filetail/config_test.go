package filetail

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/config"
)

type fileSection struct {
	File Config `yaml:"file"`
}

// loadTestdata decodes a testdata file strictly, as the collector's
// configuration loader does, and validates it.
func loadTestdata(t *testing.T, name string) (Config, error) {
	t.Helper()
	var c fileSection
	if _, err := config.Load(&c, config.Source{File: filepath.Join("testdata", name)}); err != nil {
		return c.File, err
	}
	return c.File, c.File.Validate()
}

func TestConfigGood(t *testing.T) {
	t.Parallel()
	c, err := loadTestdata(t, "full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Paths:         []string{"/var/log/ehr/access-*.ndjson", "/var/log/ehr/admin/*.ndjson"},
		Kind:          KindAccess,
		PositionsFile: "/var/lib/vigil/file-access.positions.json",
		PollInterval:  500 * time.Millisecond,
		MaxLineBytes:  65536,
		StartAt:       StartEnd,
		Exclude:       []string{"*.gz", "/var/log/ehr/admin/debug-*"},
		RotateWait:    10 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if !reflect.DeepEqual(c.withDefaults(), want) {
		t.Errorf("defaults changed set values: %+v", c.withDefaults())
	}

	c, err = loadTestdata(t, "minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	d := c.withDefaults()
	if d.PollInterval != 250*time.Millisecond || d.MaxLineBytes != 1<<20 || d.StartAt != StartBeginning || d.RotateWait != 5*time.Second {
		t.Errorf("defaults: %+v", d)
	}
}

// TestConfigBad checks each *.bad.yml fails with exactly the problems its
// "# want:" comments list, each naming its key.
func TestConfigBad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, w)
				}
			}
			_, err = loadTestdata(t, name)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; strings.HasPrefix(want[0], "file.") && got != len(want) {
				t.Errorf("%d problems, want %d:\n%v", got, len(want), err)
			}
		})
	}
}

func TestExcluded(t *testing.T) {
	t.Parallel()
	c := Config{Exclude: []string{"*.gz", "/var/log/ehr/debug-*"}}
	for path, want := range map[string]bool{
		"/var/log/ehr/access.ndjson":       false,
		"/var/log/ehr/access.ndjson.1.gz":  true,
		"/var/log/ehr/debug-1.ndjson":      true,
		"/var/log/ehr/sub/debug-1.ndjson":  false,
		"/var/log/ehr/gz/access.ndjson":    false,
		"/var/log/ehr/access.ndjson.gz.ok": false,
	} {
		if got := c.excluded(path); got != want {
			t.Errorf("excluded(%s) = %v, want %v", path, got, want)
		}
	}
}
