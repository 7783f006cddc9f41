package bus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// startEmbedded starts an embedded broker on a free port, closed when t ends.
func startEmbedded(t testing.TB, cfg EmbeddedConfig) *Embedded {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close embedded broker: %v", err)
		}
	})
	return e
}

func TestEmbeddedProduceConsume(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t, EmbeddedConfig{})
	testProduceConsume(t, e.Config())
}

func TestEmbeddedLifecycle(t *testing.T) {
	var nilEmbedded *Embedded
	if err := nilEmbedded.Close(); err != nil {
		t.Errorf("Close on nil: %v", err)
	}
	if err := new(Embedded).Close(); err != nil {
		t.Errorf("Close on zero value: %v", err)
	}

	var logs bytes.Buffer
	e, err := StartEmbedded(context.Background(), EmbeddedConfig{
		Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if host, port, err := net.SplitHostPort(e.Addr()); err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("Addr() = %q, want 127.0.0.1:<port>", e.Addr())
	}
	if got := e.Config().Brokers; len(got) != 1 || got[0] != e.Addr() {
		t.Errorf("Config().Brokers = %v, want [%s]", got, e.Addr())
	}
	if err := e.Config().Validate(); err != nil {
		t.Errorf("Config() does not validate: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Ping(ctx, e.Config()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !bytes.Contains(logs.Bytes(), []byte("embedded broker started")) {
		t.Errorf("no start message in the log:\n%s", logs.String())
	}
	err = Ping(ctx, e.Config())
	mustContain(t, err, "ping kafka brokers "+e.Addr())
}

func TestEmbeddedCreatesVigilTopics(t *testing.T) {
	e := startEmbedded(t, EmbeddedConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := topicPartitions(ctx, t, e.Config())
	for _, spec := range Topics() {
		if got[spec.Name] != spec.Partitions {
			t.Errorf("topic %s: %d partitions, want %d", spec.Name, got[spec.Name], spec.Partitions)
		}
	}
	// EnsureTopics on topics that exist is fine.
	if err := EnsureTopics(ctx, e.Config()); err != nil {
		t.Errorf("EnsureTopics on existing topics: %v", err)
	}
}

func TestEmbeddedPartitionsOverride(t *testing.T) {
	e := startEmbedded(t, EmbeddedConfig{Partitions: 2, Topics: []TopicSpec{{Name: TopicAlerts}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := topicPartitions(ctx, t, e.Config())
	if len(got) != 1 || got[TopicAlerts] != 2 {
		t.Errorf("topics = %v, want only %s with 2 partitions", got, TopicAlerts)
	}
	if e.Config().Partitions[TopicAccess] != 2 {
		t.Errorf("Config().Partitions = %v, want 2 for every Vigil topic", e.Config().Partitions)
	}
}

// TestEmbeddedRestart proves the data directory: records, topics and a
// group's committed offsets written before Close are there after a restart
// on the same directory (on another port).
func TestEmbeddedRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const total, committed = 200, 120
			dir := filepath.Join(t.TempDir(), "kafka")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			lap := stopwatch(t)

			e1, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1:0", NoSync: tc.noSync})
			if err != nil {
				t.Fatal(err)
			}
			defer e1.Close()
			cfg := e1.Config()
			w, err := NewWriter(cfg, TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			msgs := keyedMessages(total)
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := NewGroupReader(cfg, "sink", TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			before := fetchN(ctx, t, r, total)
			if err := r.CommitMessages(ctx, before[:committed]...); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			offsetsBefore := committedOffsets(ctx, t, cfg, "sink", TopicAccess, 12)
			if err := e1.Close(); err != nil {
				t.Fatalf("close before restart: %v", err)
			}
			lap("produce, consume, commit, close")
			if _, err := os.Stat(filepath.Join(dir, "meta.json")); err != nil {
				t.Errorf("data dir holds no state: %v", err)
			}

			e2 := startEmbedded(t, EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1:0"})
			cfg = e2.Config()
			lap("restart")
			if got := topicPartitions(ctx, t, cfg)[TopicAccess]; got != 12 {
				t.Errorf("after restart %s has %d partitions, want 12", TopicAccess, got)
			}
			offsetsAfter := committedOffsets(ctx, t, cfg, "sink", TopicAccess, 12)
			for p, o := range offsetsBefore {
				if offsetsAfter[p] != o {
					t.Errorf("partition %d: committed offset %d before restart, %d after", p, o, offsetsAfter[p])
				}
			}

			// The group resumes where it committed.
			r2, err := NewGroupReader(cfg, "sink", TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			after := fetchN(ctx, t, r2, total-committed)
			want := map[record]bool{}
			for _, m := range before[committed:] {
				want[recordOf(m)] = true
			}
			for _, m := range after {
				if !want[recordOf(m)] {
					t.Errorf("after restart got %+v, which was committed or never written", recordOf(m))
				}
				delete(want, recordOf(m))
			}
			if len(want) > 0 {
				t.Errorf("after restart %d uncommitted records were not redelivered", len(want))
			}
			expectNoMore(ctx, t, r2, 500*time.Millisecond)
			if err := r2.Close(); err != nil {
				t.Fatal(err)
			}

			// Every record is still there for a new group.
			r3, err := NewGroupReader(cfg, "audit-replay", TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			defer r3.Close()
			all := fetchN(ctx, t, r3, total)
			byOffset := map[record]bool{}
			for _, m := range before {
				byOffset[recordOf(m)] = true
			}
			for _, m := range all {
				if !byOffset[recordOf(m)] {
					t.Errorf("after restart a new group got %+v, not what was written", recordOf(m))
				}
			}
			if err := r3.Close(); err != nil {
				t.Fatal(err)
			}
			lap("resume + replay after restart")
		})
	}
}

func TestWriterMissingTopic(t *testing.T) {
	e := startEmbedded(t, EmbeddedConfig{Topics: []TopicSpec{}})
	w, err := NewWriter(e.Config(), "vigil.nope.v1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err = w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
	mustContain(t, err, "write 1 records to vigil.nope.v1 on "+e.Addr(), "Unknown Topic Or Partition")
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("error %v is not kafka.UnknownTopicOrPartition", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to report a missing topic", d)
	}
}

// TestCompressionCodecs round-trips records through every codec.
func TestCompressionCodecs(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t, EmbeddedConfig{Topics: []TopicSpec{}})
	for _, codec := range compressions {
		t.Run(codec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cfg := e.Config()
			cfg.Writer.Compression = codec
			topic := uniqueName(t, "vigil.test")
			if err := EnsureTopics(ctx, cfg, TopicSpec{Name: topic, Partitions: 1}); err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(cfg, topic)
			if err != nil {
				t.Fatal(err)
			}
			msgs := keyedMessages(50)
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := NewGroupReader(cfg, uniqueName(t, "g"), topic)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for i, m := range fetchN(ctx, t, r, len(msgs)) {
				if !bytes.Equal(m.Value, msgs[i].Value) || !bytes.Equal(m.Key, msgs[i].Key) {
					t.Fatalf("record %d: got %q=%q, want %q=%q", i, m.Key, m.Value, msgs[i].Key, msgs[i].Value)
				}
			}
		})
	}
}

func TestPingUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := Defaults()
	cfg.Brokers = []string{addr}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = Ping(ctx, cfg)
	mustContain(t, err, "ping kafka brokers "+addr, "connection refused")
	err = EnsureTopics(ctx, cfg)
	mustContain(t, err, "create topics vigil.access.v1,", "on "+addr)
}

// topicPartitions returns the partition count of every topic in the cluster.
func topicPartitions(ctx context.Context, t testing.TB, cfg Config) map[string]int {
	t.Helper()
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport(cfg, sec)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	out := map[string]int{}
	for _, topic := range resp.Topics {
		if topic.Error == nil {
			out[topic.Name] = len(topic.Partitions)
		}
	}
	return out
}
