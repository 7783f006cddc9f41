package runner

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/bus"
)

// DefaultGroup is the consumer group of the detector when Config.Group is
// empty.
const DefaultGroup = "vigil-detector"

// Config is the runtime part of the `detect:` section of Vigil's
// configuration (the rules and behaviours are loaded by the caller). Every
// zero value means the default named in the field's comment (see
// Defaults).
type Config struct {
	// Group is the Kafka consumer group shared by every detector instance;
	// instances with the same group split the partitions of the event
	// topics between them. It also names the group's snapshots on the
	// state topic: a new group starts with no state. Empty means
	// "vigil-detector".
	Group string `yaml:"group"`

	// AccessTopic and DeviceTopic are the event topics read. Empty means
	// vigil.access.v1 and vigil.device.v1. Both are read; the topic
	// decides how a record is decoded (the access one as access events).
	AccessTopic string `yaml:"access_topic"`
	DeviceTopic string `yaml:"device_topic"`

	// AlertsTopic is where alert records are produced, keyed by the
	// alert's group key. Empty means vigil.alerts.v1.
	AlertsTopic string `yaml:"alerts_topic"`

	// StateTopic holds the snapshots. It must be compacted
	// (cleanup.policy=compact, as bus.EnsureTopics creates it) and its
	// partition count must never change. Empty means
	// vigil.detector-state.v1.
	StateTopic string `yaml:"state_topic"`

	// SnapshotInterval and SnapshotEvents say when a partition's state is
	// snapshotted: once SnapshotEvents events were fed since the last
	// snapshot, or SnapshotInterval passed and at least one event was. A
	// restart after a crash replays at most that much (the events between
	// the snapshot and the committed offset). A partition is also
	// snapshotted when it is revoked and on shutdown. Zero means 1m and
	// 1000000.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	SnapshotEvents   int           `yaml:"snapshot_events"`

	// CommitInterval is how often the offsets of events whose alerts were
	// produced are committed. A crash re-reads at most that much as live
	// (alerts produced again, with the same ids). Zero means 1s.
	CommitInterval time.Duration `yaml:"commit_interval"`

	// MaxBatch is the most events a partition feeds before it produces the
	// alerts they made; fewer when no more events are waiting. Zero means
	// 5000.
	MaxBatch int `yaml:"max_batch"`

	// WriteTimeout bounds one attempt to produce alerts or a snapshot, and
	// one commit. A failed attempt to produce alerts is retried, with
	// backoff, until it succeeds or the partition is revoked. Zero means
	// 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`

	// RestoreTimeout bounds reading a partition's snapshot from the state
	// topic when the partition is assigned; on timeout the partition is
	// given up and assigned again at the next rebalance. Zero means 2m.
	RestoreTimeout time.Duration `yaml:"restore_timeout"`

	// UnreadyAfter is how long producing alerts may keep failing before
	// Ready reports the detector unready. Zero means 1m.
	UnreadyAfter time.Duration `yaml:"unready_after"`

	// MaxDispositions bounds the review decisions (alert records with a
	// status other than open, not produced by a detector) each instance
	// keeps from the alerts topic to apply to its partitions' alerts:
	// past it the least recently decided is forgotten and counted in
	// vigil_detector_evictions_total{kind="disposition"} (the alert keeps
	// the decision while it is in a partition's state and its snapshots).
	// Zero means 100000 (about 20 MB).
	MaxDispositions int `yaml:"max_dispositions"`

	// Options configure every partition's detector: lateness,
	// suppression windows, state limits and exceptions (see
	// detector.Options). The zero value means the detector's defaults.
	Options detector.Options `yaml:"options"`
}

// Defaults returns the configuration used for every zero field.
func Defaults() Config {
	return Config{
		Group:            DefaultGroup,
		AccessTopic:      bus.TopicAccess,
		DeviceTopic:      bus.TopicDevice,
		AlertsTopic:      bus.TopicAlerts,
		StateTopic:       bus.TopicDetectorState,
		SnapshotInterval: time.Minute,
		SnapshotEvents:   1_000_000,
		CommitInterval:   time.Second,
		MaxBatch:         5000,
		WriteTimeout:     30 * time.Second,
		RestoreTimeout:   2 * time.Minute,
		UnreadyAfter:     time.Minute,
		MaxDispositions:  100_000,
	}
}

// withDefaults returns c with every zero field set from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	setZero(&c.Group, d.Group)
	setZero(&c.AccessTopic, d.AccessTopic)
	setZero(&c.DeviceTopic, d.DeviceTopic)
	setZero(&c.AlertsTopic, d.AlertsTopic)
	setZero(&c.StateTopic, d.StateTopic)
	setZero(&c.SnapshotInterval, d.SnapshotInterval)
	setZero(&c.SnapshotEvents, d.SnapshotEvents)
	setZero(&c.CommitInterval, d.CommitInterval)
	setZero(&c.MaxBatch, d.MaxBatch)
	setZero(&c.WriteTimeout, d.WriteTimeout)
	setZero(&c.RestoreTimeout, d.RestoreTimeout)
	setZero(&c.UnreadyAfter, d.UnreadyAfter)
	setZero(&c.MaxDispositions, d.MaxDispositions)
	return c
}

func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Validate reports every problem in c, each naming its YAML key under
// "detect." (for example `detect.max_batch: -1 is negative`), joined with
// errors.Join. Zero values are valid: they mean the defaults.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("detect.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	d := Defaults()
	e := c.withDefaults()
	topics := map[string]string{}
	for _, t := range []struct{ key, v string }{
		{"access_topic", e.AccessTopic}, {"device_topic", e.DeviceTopic},
		{"alerts_topic", e.AlertsTopic}, {"state_topic", e.StateTopic},
	} {
		if strings.TrimSpace(t.v) != t.v {
			add(t.key, "%q has leading or trailing spaces", t.v)
		}
		if other, ok := topics[t.v]; ok {
			add(t.key, "%q is also detect.%s: each topic has one role", t.v, other)
		}
		topics[t.v] = t.key
	}
	if strings.ContainsAny(e.Group, "\n\r") {
		add("group", "%q contains a line break", e.Group)
	}
	ints := []struct {
		key    string
		v, def int
	}{
		{"snapshot_events", c.SnapshotEvents, d.SnapshotEvents},
		{"max_batch", c.MaxBatch, d.MaxBatch},
		{"max_dispositions", c.MaxDispositions, d.MaxDispositions},
	}
	for _, x := range ints {
		if x.v < 0 {
			add(x.key, "%d is negative (0 means the default, %d)", x.v, x.def)
		}
	}
	durations := []struct {
		key    string
		v, def time.Duration
	}{
		{"snapshot_interval", c.SnapshotInterval, d.SnapshotInterval},
		{"commit_interval", c.CommitInterval, d.CommitInterval},
		{"write_timeout", c.WriteTimeout, d.WriteTimeout},
		{"restore_timeout", c.RestoreTimeout, d.RestoreTimeout},
		{"unready_after", c.UnreadyAfter, d.UnreadyAfter},
	}
	for _, x := range durations {
		if x.v < 0 {
			add(x.key, "%s is negative (0 means the default, %s)", x.v, x.def)
		}
	}
	if err := c.Options.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				errs = append(errs, fmt.Errorf("detect.options.%s", line))
			}
		}
	}
	return errors.Join(errs...)
}
