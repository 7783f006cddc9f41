//go:build integration

package sink

import (
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// 100,000 records through the real Kafka 4 broker: every one written, and
// the offsets committed (a new member of the group gets nothing again).
func TestIntegrationRealKafka(t *testing.T) {
	addr := testenv.Kafka(t)
	busCfg := quickBus(bus.Config{Brokers: []string{addr}})
	topic := uniqueName(t) + ".vigil.access.v1"
	ctx := t.Context()
	if err := bus.EnsureTopics(ctx, busCfg, bus.TopicSpec{Name: topic, Partitions: 6}); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	vals, ids := accessRecords("it", n)
	start := time.Now()
	produce(t, busCfg, topic, vals...)
	t.Logf("produced %d records in %s", n, time.Since(start).Round(time.Millisecond))

	cfg := Config{Group: uniqueName(t), Topics: []string{topic}, BatchSize: 10_000, BatchAge: 200 * time.Millisecond}
	w := newFakeWriter()
	start = time.Now()
	r := startSink(t, cfg, busCfg, w)
	w.waitFor(t, 2*time.Minute, "100k records", func(w *fakeWriter) bool { return len(w.written) == n })
	took := time.Since(start)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.mu.Lock()
	for _, id := range ids {
		if c := w.written[id]; c != 1 {
			t.Errorf("%s written %d times, want 1", id, c)
		}
	}
	batches := len(w.batch)
	w.mu.Unlock()
	t.Logf("sink: %d records in %d batches in %s (%.0f records/s, group join included)", n, batches, took.Round(time.Millisecond), n/took.Seconds())

	// A new member of the group: only a marker produced after it started.
	w2 := newFakeWriter()
	r2 := startSink(t, cfg, busCfg, w2)
	marker, _ := accessRecords("marker", 1)
	produce(t, busCfg, topic, marker...)
	w2.waitFor(t, time.Minute, "the marker", func(w *fakeWriter) bool { return w.written["marker-0"] == 1 })
	time.Sleep(500 * time.Millisecond)
	if err := r2.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := w2.uniqueWritten(); got != 1 {
		t.Errorf("new member got %d records, want only the marker: offsets were not committed", got)
	}
}
