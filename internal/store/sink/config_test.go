package sink

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/store"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, nil for valid
	}{
		{"zero is valid", Config{}, nil},
		{"prefixed topics", Config{Topics: []string{"t.vigil.access.v1", bus.TopicNotices}}, nil},
		{"negative values", Config{BatchSize: -1, BatchAge: -1, RetryMin: -1, RetryMax: -1, WriteTimeout: -1, UnreadyAfter: -1},
			[]string{"sink.batch_size: -1 is negative (0 means the default, 50000)", "sink.batch_age:", "sink.retry_min:", "sink.retry_max:", "sink.write_timeout:", "sink.unready_after:"}},
		{"retry bounds", Config{RetryMin: time.Minute}, []string{"sink.retry_min: 1m0s is more than sink.retry_max (30s)"}},
		{"unknown topic", Config{Topics: []string{"vigil.access.v2", ""}}, []string{`sink.topics[0]: "vigil.access.v2" is not a topic the sink stores`, "sink.topics[1]: empty topic name"}},
		{"duplicate topic", Config{Topics: []string{bus.TopicAccess, bus.TopicAccess}}, []string{`sink.topics[1]: "vigil.access.v1" is listed twice`}},
		{"on_invalid", Config{OnInvalid: "drop"}, []string{`sink.on_invalid: "drop" is not one of dead_letter|stop`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigYAMLAndDefaults(t *testing.T) {
	t.Parallel()
	src := "group: g\ntopics: [vigil.access.v1]\nbatch_size: 10\nbatch_age: 2s\nretry_min: 1s\nretry_max: 1m\nwrite_timeout: 5s\nunready_after: 3m\non_invalid: stop\n"
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Config{Group: "g", Topics: []string{bus.TopicAccess}, BatchSize: 10, BatchAge: 2 * time.Second,
		RetryMin: time.Second, RetryMax: time.Minute, WriteTimeout: 5 * time.Second, UnreadyAfter: 3 * time.Minute, OnInvalid: OnInvalidStop}
	if c.Group != want.Group || strings.Join(c.Topics, ",") != bus.TopicAccess || c.BatchSize != want.BatchSize ||
		c.BatchAge != want.BatchAge || c.RetryMin != want.RetryMin || c.RetryMax != want.RetryMax ||
		c.WriteTimeout != want.WriteTimeout || c.UnreadyAfter != want.UnreadyAfter || c.OnInvalid != want.OnInvalid {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
	d := Config{}.withDefaults()
	if d.Group != "vigil-sink" || d.BatchSize != 50000 || d.BatchAge != time.Second || d.RetryMin != 100*time.Millisecond ||
		d.RetryMax != 30*time.Second || len(d.Topics) != 6 || d.OnInvalid != OnInvalidDeadLetter {
		t.Errorf("defaults %+v", d)
	}
	for _, topic := range d.Topics {
		if kindOf(topic) == kindUnknown {
			t.Errorf("default topic %s has no decoder", topic)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := newMetrics(reg)
	m.invalidVec.WithLabelValues(bus.TopicAccess).Inc()
	m.lagVec.WithLabelValues(bus.TopicAccess).Set(1)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no metrics gathered")
	}
}

type nopWriter struct{}

func (nopWriter) Write(context.Context, *store.Batch) error { return nil }
func (nopWriter) Close() error                              { return nil }

func TestLifecycle(t *testing.T) {
	t.Parallel()
	busCfg := bus.Config{Brokers: []string{"127.0.0.1:1"}}
	t.Run("new checks its arguments", func(t *testing.T) {
		if _, err := New(Config{BatchSize: -1}, busCfg, nopWriter{}); err == nil || !strings.Contains(err.Error(), "sink.batch_size") {
			t.Errorf("New with a bad config = %v", err)
		}
		if _, err := New(Config{}, bus.Config{}, nopWriter{}); err == nil || !strings.Contains(err.Error(), "bus.brokers") {
			t.Errorf("New with no brokers = %v", err)
		}
		if _, err := New(Config{}, busCfg, nil); err == nil {
			t.Error("New with a nil writer succeeded")
		}
	})
	t.Run("shutdown without run, twice", func(t *testing.T) {
		s, err := New(Config{}, busCfg, nopWriter{})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Shutdown = %v, want ErrClosed", err)
		}
		if err := s.Ready(); err != nil {
			t.Errorf("Ready of an unstarted sink = %v", err)
		}
	})
	t.Run("run, one record, shutdown twice", func(t *testing.T) {
		access := uniqueName(t) + ".vigil.access.v1"
		bc := startBroker(t, access)
		vals, _ := accessRecords("one", 1)
		produce(t, bc, access, vals...)
		w := newFakeWriter()
		r := startSink(t, testConfig(t, access), bc, w)
		w.waitFor(t, 20*time.Second, "the record", func(w *fakeWriter) bool { return len(w.written) == 1 })
		for range 2 {
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		}
		if err := r.s.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("second Run = %v, want ErrClosed", err)
		}
	})
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	for topic, want := range map[string]kind{
		bus.TopicAccess: kindAccess, "x.y.vigil.device.v1": kindDevice, bus.TopicDeadLetter: kindDeadLetter,
		bus.TopicAlerts: kindAlert, bus.TopicIncidents: kindIncident, bus.TopicNotices: kindNotice,
		"xvigil.access.v1": kindUnknown, "vigil.access.v2": kindUnknown,
	} {
		if got := kindOf(topic); got != want {
			t.Errorf("kindOf(%q) = %v, want %v", topic, got, want)
		}
	}
}
