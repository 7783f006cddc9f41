package sink

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
)

// What the sink does with a record it cannot decode (Config.OnInvalid).
const (
	// OnInvalidDeadLetter stores the record as a dead letter (reason
	// ReasonUndecodable) in the same batch, and goes on.
	OnInvalidDeadLetter = "dead_letter"
	// OnInvalidStop stops the sink with an *InvalidRecordError naming the
	// topic, partition, offset and problems; nothing of the batch is
	// committed, so the record is read again after a restart.
	OnInvalidStop = "stop"
)

var onInvalidValues = []string{OnInvalidDeadLetter, OnInvalidStop}

// Config is the `sink:` section of Vigil's configuration. Every zero value
// means the default named in the field's comment (see Defaults).
type Config struct {
	// Group is the Kafka consumer group id shared by every sink instance;
	// instances with the same group split the partitions between them.
	// Empty means "vigil-sink".
	Group string `yaml:"group"`

	// Topics are the topics the sink reads, one consumer-group reader each.
	// Each must be a Vigil topic or end in the name of one after a dot (a
	// prefix such as "test.vigil.access.v1"), since the topic decides how a
	// record is decoded. Empty means every topic the sink stores:
	// access, device, deadletter, alerts, incidents and notices.
	Topics []string `yaml:"topics"`

	// BatchSize is the most records written to the store at once; a batch
	// is written as soon as it has this many. Zero means 50000.
	BatchSize int `yaml:"batch_size"`

	// BatchAge is the longest a batch waits to fill once its first record
	// arrived: a lone record is written within it. Zero means 1s.
	BatchAge time.Duration `yaml:"batch_age"`

	// RetryMin and RetryMax bound the backoff between attempts to write a
	// batch the store refused (doubling, with jitter). The sink retries the
	// same batch until it goes through or the sink stops; it never skips
	// one. Zero means 100ms and 30s.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`

	// WriteTimeout bounds one write attempt; an attempt that times out is
	// retried like any failed one. It also bounds how long a stop waits for
	// a write in flight. Zero means 2m.
	WriteTimeout time.Duration `yaml:"write_timeout"`

	// UnreadyAfter is how long the sink may keep retrying a batch before
	// Ready reports it unready. Zero means 1m.
	UnreadyAfter time.Duration `yaml:"unready_after"`

	// OnInvalid says what to do with a record that cannot be decoded:
	// dead_letter (store it as a dead letter and go on) or stop (stop the
	// sink with an error naming the record). Empty means dead_letter.
	OnInvalid string `yaml:"on_invalid"`
}

// DefaultGroup is the consumer group of the sink when Config.Group is empty.
const DefaultGroup = "vigil-sink"

// Defaults returns the configuration used for every zero field.
func Defaults() Config {
	return Config{
		Group:        DefaultGroup,
		Topics:       defaultTopics(),
		BatchSize:    50000,
		BatchAge:     time.Second,
		RetryMin:     100 * time.Millisecond,
		RetryMax:     30 * time.Second,
		WriteTimeout: 2 * time.Minute,
		UnreadyAfter: time.Minute,
		OnInvalid:    OnInvalidDeadLetter,
	}
}

func defaultTopics() []string {
	return []string{bus.TopicAccess, bus.TopicDevice, bus.TopicDeadLetter, bus.TopicAlerts, bus.TopicIncidents, bus.TopicNotices}
}

// withDefaults returns c with every zero field set from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Group == "" {
		c.Group = d.Group
	}
	if len(c.Topics) == 0 {
		c.Topics = d.Topics
	} else {
		c.Topics = slices.Clone(c.Topics)
	}
	setZero(&c.BatchSize, d.BatchSize)
	setZero(&c.BatchAge, d.BatchAge)
	setZero(&c.RetryMin, d.RetryMin)
	setZero(&c.RetryMax, d.RetryMax)
	setZero(&c.WriteTimeout, d.WriteTimeout)
	setZero(&c.UnreadyAfter, d.UnreadyAfter)
	setZero(&c.OnInvalid, d.OnInvalid)
	return c
}

func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Validate reports every problem in c, each naming its YAML key under
// "sink." (for example `sink.batch_size: -1 is negative`), joined with
// errors.Join. Zero values are valid: they mean the defaults.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sink.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	d := Defaults()
	seen := map[string]bool{}
	for i, t := range c.Topics {
		key := fmt.Sprintf("topics[%d]", i)
		switch {
		case t == "":
			add(key, "empty topic name")
		case kindOf(t) == kindUnknown:
			add(key, "%q is not a topic the sink stores (one of %s, optionally after a prefix ending in a dot)", t, strings.Join(defaultTopics(), ", "))
		case seen[t]:
			add(key, "%q is listed twice", t)
		}
		seen[t] = true
	}
	if c.BatchSize < 0 {
		add("batch_size", "%d is negative (0 means the default, %d)", c.BatchSize, d.BatchSize)
	}
	durations := []struct {
		key    string
		v, def time.Duration
	}{
		{"batch_age", c.BatchAge, d.BatchAge},
		{"retry_min", c.RetryMin, d.RetryMin},
		{"retry_max", c.RetryMax, d.RetryMax},
		{"write_timeout", c.WriteTimeout, d.WriteTimeout},
		{"unready_after", c.UnreadyAfter, d.UnreadyAfter},
	}
	for _, x := range durations {
		if x.v < 0 {
			add(x.key, "%s is negative (0 means the default, %s)", x.v, x.def)
		}
	}
	if c.RetryMin >= 0 && c.RetryMax >= 0 {
		e := c.withDefaults()
		if e.RetryMin > e.RetryMax {
			add("retry_min", "%s is more than sink.retry_max (%s)", e.RetryMin, e.RetryMax)
		}
	}
	if c.OnInvalid != "" && !slices.Contains(onInvalidValues, c.OnInvalid) {
		add("on_invalid", "%q is not one of %s", c.OnInvalid, strings.Join(onInvalidValues, "|"))
	}
	return errors.Join(errs...)
}
