package spool

import (
	"errors"
	"fmt"
)

// Sync policies, as they appear in spool.sync.
const (
	// SyncAlways fsyncs the segment file before Append returns: an Append
	// that returned nil survives a crash of the process or of the machine.
	SyncAlways = "always"
	// SyncNone never fsyncs. An Append that returned nil survives a crash of
	// the process (the data is in the page cache) but not a power loss or a
	// kernel crash. UNSAFE: for tests and benchmarks only.
	SyncNone = "none"
)

// Limits of the on-disk format and of sane settings.
const (
	// maxRecordLimit is the largest max_record_bytes accepted: the header's
	// length field is 32 bits, and a record is read into memory whole.
	maxRecordLimit = 1 << 30
	// minSegmentBytes keeps tests able to roll segments every few records
	// while rejecting values that are surely a unit mistake.
	minSegmentBytes = 1 << 10
)

// Config is the `spool:` section of the collector's configuration. Every
// zero value means a documented default (see Defaults); only Dir is
// required.
type Config struct {
	// Dir is the directory holding the spool's files. It is created (mode
	// 0700) if missing. It must be on a local file system that honours
	// fsync and flock, and must not be shared by two collectors: Open locks
	// it. Required: empty is an error.
	Dir string `yaml:"dir"`

	// MaxBytes bounds the size of the segment files on disk, acknowledged
	// records not yet deleted included. An Append that would go past it
	// fails with ErrFull. Zero means 1 GiB. It must be at least twice
	// segment_bytes.
	MaxBytes int64 `yaml:"max_bytes"`

	// SegmentBytes is the size at which the spool starts a new segment file.
	// Space is freed a whole segment at a time, once every record in it is
	// acknowledged, so the disk may hold up to one segment of acknowledged
	// records. Zero means 64 MiB.
	SegmentBytes int64 `yaml:"segment_bytes"`

	// MaxRecordBytes is the largest record Append accepts; a larger one
	// fails with ErrRecordTooLarge. Zero means 1 MiB. It must leave room for
	// the 18-byte record header in segment_bytes.
	MaxRecordBytes int `yaml:"max_record_bytes"`

	// Sync is "always" (fsync before Append returns; group commit shares one
	// fsync among concurrent appenders) or "none" (never fsync: loses
	// acknowledged records on power loss; for tests only). Empty means
	// "always".
	Sync string `yaml:"sync"`
}

// Defaults returns the configuration used for every zero field.
func Defaults() Config {
	return Config{
		MaxBytes:       1 << 30,
		SegmentBytes:   64 << 20,
		MaxRecordBytes: 1 << 20,
		Sync:           SyncAlways,
	}
}

// withDefaults returns c with every zero field set from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = d.MaxRecordBytes
	}
	if c.Sync == "" {
		c.Sync = d.Sync
	}
	return c
}

// Validate reports every problem in c, each naming its YAML key under
// "spool." (for example `spool.max_bytes: -1 is negative (0 means the
// default, 1073741824)`), joined with errors.Join. Zero values are valid:
// they mean the defaults.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("spool.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	d := Defaults()

	if c.Dir == "" {
		add("dir", "required")
	}
	if c.MaxBytes < 0 {
		add("max_bytes", "%d is negative (0 means the default, %d)", c.MaxBytes, d.MaxBytes)
	}
	switch {
	case c.SegmentBytes < 0:
		add("segment_bytes", "%d is negative (0 means the default, %d)", c.SegmentBytes, d.SegmentBytes)
	case c.SegmentBytes > 0 && c.SegmentBytes < minSegmentBytes:
		add("segment_bytes", "%d is less than %d", c.SegmentBytes, minSegmentBytes)
	}
	switch {
	case c.MaxRecordBytes < 0:
		add("max_record_bytes", "%d is negative (0 means the default, %d)", c.MaxRecordBytes, d.MaxRecordBytes)
	case c.MaxRecordBytes > maxRecordLimit:
		add("max_record_bytes", "%d is more than %d", c.MaxRecordBytes, maxRecordLimit)
	}
	if c.Sync != "" && c.Sync != SyncAlways && c.Sync != SyncNone {
		add("sync", "%q is not one of %s|%s", c.Sync, SyncAlways, SyncNone)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// Cross-field checks on the effective values.
	e := c.withDefaults()
	if int64(e.MaxRecordBytes)+HeaderSize > e.SegmentBytes {
		add("max_record_bytes", "%d plus the %d-byte header is more than spool.segment_bytes (%d)", e.MaxRecordBytes, HeaderSize, e.SegmentBytes)
	}
	if e.MaxBytes < 2*e.SegmentBytes {
		add("max_bytes", "%d is less than twice spool.segment_bytes (%d)", e.MaxBytes, e.SegmentBytes)
	}
	return errors.Join(errs...)
}
