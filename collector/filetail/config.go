package filetail

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Kinds of event a tailed file holds, as they appear in file.kind.
const (
	KindAccess = "access" // data-access events (vigil.access.v1)
	KindDevice = "device" // device-risk events (vigil.device.v1)
)

// Where reading starts in a file first seen, as it appears in file.start_at.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// MaxMaxLineBytes bounds file.max_line_bytes: a line is held in memory while
// it is read.
const MaxMaxLineBytes = 64 << 20

var (
	kinds    = []string{KindAccess, KindDevice}
	startAts = []string{StartBeginning, StartEnd}
)

// Config says which files to follow and how. It is the `file:` section of
// the collector's configuration. Zero values mean the defaults in Defaults,
// except Paths, Kind and PositionsFile, which are required.
type Config struct {
	// Paths are absolute glob patterns (filepath.Match syntax) of the files
	// to follow, e.g. /var/log/ehr/access-*.ndjson. Each poll expands them
	// again, so files that appear later are picked up. Required: empty
	// means nothing to follow and is an error.
	Paths []string `yaml:"paths"`

	// Kind is the kind of event every line holds: access or device. Required:
	// there is no default. The tailer passes lines on as bytes; the collector
	// decodes them as this kind.
	Kind string `yaml:"kind"`

	// PositionsFile is where read positions are persisted (JSON, replaced
	// atomically). Required: without it a restart would read every file again
	// or skip lines. Its directory is created if missing. One positions file
	// belongs to one tailer; a second tailer using it fails to start.
	PositionsFile string `yaml:"positions_file"`

	// PollInterval is how often the globs are expanded and the files checked
	// for new data, rotation and truncation. Zero means 250ms.
	PollInterval time.Duration `yaml:"poll_interval"`

	// MaxLineBytes is the longest line delivered whole (not counting the line
	// ending). A longer line is delivered once with its first MaxLineBytes
	// bytes and TooLong set; the rest is skipped. Zero means 1 MiB (1048576).
	MaxLineBytes int `yaml:"max_line_bytes"`

	// StartAt is where reading starts in a file that has no saved position:
	// beginning, or end (after the last complete line). It applies only when
	// the positions file does not exist yet (a first deployment), and only to
	// the files found by the first scan; files that appear later, or on any
	// later start, are read from their beginning so that nothing written
	// while the tailer was down is skipped. Empty means beginning.
	StartAt string `yaml:"start_at"`

	// Exclude are glob patterns of files not to follow even though they match
	// Paths. A pattern without a slash is matched against the file's base
	// name (*.gz), one with a slash against the whole path. Empty means none.
	Exclude []string `yaml:"exclude"`

	// RotateWait is how long a file that was rotated away (renamed, or
	// replaced at its path) or deleted is kept open after it last grew: a
	// writer may go on appending to its old descriptor until it reopens the
	// path. When it has passed, an unterminated last line is delivered and a
	// file no longer matching Paths is closed and forgotten. Zero means 5s.
	RotateWait time.Duration `yaml:"rotate_wait"`
}

// Defaults returns the configuration used for every zero field.
func Defaults() Config {
	return Config{
		PollInterval: 250 * time.Millisecond,
		MaxLineBytes: 1 << 20,
		StartAt:      StartBeginning,
		RotateWait:   5 * time.Second,
	}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	d := Defaults()
	c.Paths = slices.Clone(c.Paths)
	c.Exclude = slices.Clone(c.Exclude)
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = d.MaxLineBytes
	}
	if c.StartAt == "" {
		c.StartAt = d.StartAt
	}
	if c.RotateWait == 0 {
		c.RotateWait = d.RotateWait
	}
	return c
}

// Validate reports every problem in c, each naming its YAML key under
// "file." (for example `file.paths[0]: "logs/*.ndjson" is not an absolute
// path`), joined with errors.Join.
func (c Config) Validate() error {
	var v validator
	if len(c.Paths) == 0 {
		v.add("paths", "required (glob patterns of the files to follow)")
	}
	for i, p := range c.Paths {
		key := fmt.Sprintf("paths[%d]", i)
		switch {
		case p == "":
			v.add(key, "empty pattern")
		case !filepath.IsAbs(p):
			v.add(key, "%q is not an absolute path (a relative one would depend on the working directory)", p)
		default:
			if _, err := filepath.Match(p, ""); err != nil {
				v.add(key, "%q is not a valid glob pattern: %v", p, err)
			}
		}
	}
	switch {
	case c.Kind == "":
		v.add("kind", "required (one of %s)", strings.Join(kinds, "|"))
	case !slices.Contains(kinds, c.Kind):
		v.add("kind", "%q is not one of %s", c.Kind, strings.Join(kinds, "|"))
	}
	switch {
	case c.PositionsFile == "":
		v.add("positions_file", "required (where read positions are kept across restarts)")
	case strings.HasSuffix(c.PositionsFile, "/") || filepath.Base(c.PositionsFile) == "." || filepath.Base(c.PositionsFile) == "..":
		v.add("positions_file", "%q names a directory, not a file", c.PositionsFile)
	}
	d := Defaults()
	if c.PollInterval < 0 {
		v.add("poll_interval", "%s is negative (0 means the default, %s)", c.PollInterval, d.PollInterval)
	}
	switch {
	case c.MaxLineBytes < 0:
		v.add("max_line_bytes", "%d is negative (0 means the default, %d)", c.MaxLineBytes, d.MaxLineBytes)
	case c.MaxLineBytes > MaxMaxLineBytes:
		v.add("max_line_bytes", "%d is more than %d", c.MaxLineBytes, MaxMaxLineBytes)
	}
	if c.StartAt != "" && !slices.Contains(startAts, c.StartAt) {
		v.add("start_at", "%q is not one of %s", c.StartAt, strings.Join(startAts, "|"))
	}
	for i, p := range c.Exclude {
		key := fmt.Sprintf("exclude[%d]", i)
		if p == "" {
			v.add(key, "empty pattern")
		} else if _, err := filepath.Match(p, ""); err != nil {
			v.add(key, "%q is not a valid glob pattern: %v", p, err)
		}
	}
	if c.RotateWait < 0 {
		v.add("rotate_wait", "%s is negative (0 means the default, %s)", c.RotateWait, d.RotateWait)
	}
	return v.err()
}

// excluded reports whether path matches one of the exclude patterns.
func (c Config) excluded(path string) bool {
	for _, p := range c.Exclude {
		target := path
		if !strings.Contains(p, "/") {
			target = filepath.Base(path)
		}
		if ok, _ := filepath.Match(p, target); ok {
			return true
		}
	}
	return false
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("file.%s: %s", key, fmt.Sprintf(format, args...)))
}

func (v *validator) err() error { return errors.Join(v.errs...) }
