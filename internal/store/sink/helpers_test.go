package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// fakeWriter is an in-memory store.Writer. It records the ids of every
// attempt and, per id, how many successful writes held it. It fails the
// first failN attempts (a negative failN: every attempt until set again).
type fakeWriter struct {
	mu       sync.Mutex
	failN    int
	delay    time.Duration
	attempts [][]string // ids of each attempt, failed or not
	results  []bool     // whether each attempt succeeded
	written  map[string]int
	batch    []store.Batch // each successful batch
	times    []time.Time   // when each successful batch was written
	changed  chan struct{} // closed and replaced on each attempt

	inFlight, maxConcurrent int // Write calls running now, and the most at once
}

func newFakeWriter() *fakeWriter {
	return &fakeWriter{written: map[string]int{}, changed: make(chan struct{})}
}

var errFake = errors.New("fake store is down")

func (w *fakeWriter) Write(ctx context.Context, b *store.Batch) error {
	w.mu.Lock()
	delay := w.delay
	w.inFlight++
	w.maxConcurrent = max(w.maxConcurrent, w.inFlight)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.inFlight--
		w.mu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := batchIDs(b)
	w.attempts = append(w.attempts, ids)
	defer func() { close(w.changed); w.changed = make(chan struct{}) }()
	if w.failN != 0 {
		if w.failN > 0 {
			w.failN--
		}
		w.results = append(w.results, false)
		return errFake
	}
	w.results = append(w.results, true)
	for _, id := range ids {
		w.written[id]++
	}
	w.batch = append(w.batch, *b)
	w.times = append(w.times, time.Now())
	return nil
}

func (w *fakeWriter) Close() error { return nil }

func (w *fakeWriter) setFail(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failN = n
}

// waitFor waits until cond (called under the lock) holds, or fails t.
func (w *fakeWriter) waitFor(t *testing.T, d time.Duration, what string, cond func(w *fakeWriter) bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok, ch := cond(w), w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("timed out after %s waiting for %s (%d attempts, %d distinct ids written)", d, what, len(w.attempts), len(w.written))
		}
	}
}

// uniqueWritten is the number of distinct ids written.
func (w *fakeWriter) uniqueWritten() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.written)
}

func batchIDs(b *store.Batch) []string {
	ids := make([]string, 0, b.Len())
	for _, e := range b.Access {
		ids = append(ids, e.EventID)
	}
	for _, e := range b.Device {
		ids = append(ids, e.EventID)
	}
	for _, d := range b.DeadLetters {
		ids = append(ids, d.DeadLetterID)
	}
	for _, a := range b.Alerts {
		ids = append(ids, a.Value.AlertID)
	}
	for _, in := range b.Incidents {
		ids = append(ids, in.Value.IncidentID)
	}
	for _, n := range b.Notices {
		ids = append(ids, n.Value.NoticeID)
	}
	return ids
}

var nameSeq atomic.Int64

// uniqueName returns a name unique to the test and the run, valid as a
// group id or a topic prefix.
func uniqueName(t testing.TB) string {
	clean := regexp.MustCompile(`[^a-zA-Z0-9_-]+`).ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("sinktest-%s-%d-%d", clean, time.Now().UnixNano(), nameSeq.Add(1))
}

// startBroker starts an in-memory embedded broker with topics of three
// partitions and returns a bus configuration for it, tuned for quick tests.
func startBroker(t *testing.T, topics ...string) bus.Config {
	t.Helper()
	specs := make([]bus.TopicSpec, len(topics))
	for i, name := range topics {
		specs[i] = bus.TopicSpec{Name: name, Partitions: 3}
	}
	e, err := bus.StartEmbedded(context.Background(), bus.EmbeddedConfig{Listen: "127.0.0.1:0", Topics: specs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return quickBus(e.Config())
}

func quickBus(c bus.Config) bus.Config {
	c.Reader.CommitInterval = 50 * time.Millisecond
	c.Reader.MaxWait = 100 * time.Millisecond
	c.Reader.HeartbeatInterval = 200 * time.Millisecond
	c.Reader.SessionTimeout = 6 * time.Second
	c.Reader.RebalanceTimeout = 3 * time.Second
	return c
}

// accessJSON returns a valid bus-level access event with the given id.
func accessJSON(id string) []byte {
	ts := event.NewTimestamp(time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC))
	e := event.AccessEvent{
		EventID: id, OccurredAt: ts, ReceivedAt: ts, Source: "his", Org: "org-1",
		Actor:      event.Actor{ID: "actor-" + id[len(id)-1:], Type: event.ActorStaff},
		Action:     event.ActionRead,
		Subject:    event.Subject{ID: "tok-subject", Type: event.SubjectPatient},
		Categories: []event.Category{event.CategoryHealth}, Relationship: event.RelationshipUnknown,
		Outcome: event.OutcomeSuccess,
	}
	return e.AppendJSON(nil)
}

// alertJSON returns an alert with the given id.
func alertJSON(t testing.TB, id string) []byte {
	ts := event.NewTimestamp(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	b, err := json.Marshal(event.Alert{
		AlertID: id, RuleID: "r1", RuleTitle: "rule", Severity: event.SeverityHigh, GroupKey: "g",
		WindowStart: ts, WindowEnd: ts, FirstSeen: ts, LastSeen: ts, Count: 1, Evidence: []string{"e1"},
		Explanation: "x", Org: "org-1", Status: event.AlertOpen,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produce writes the values to topic, keyed by their index, and returns
// once Kafka has them.
func produce(t testing.TB, cfg bus.Config, topic string, values ...[]byte) {
	t.Helper()
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}()
	const chunk = 5000
	for len(values) > 0 {
		n := min(chunk, len(values))
		msgs := make([]kafka.Message, n)
		for i, v := range values[:n] {
			msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i%17), Value: v}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.WriteMessages(ctx, msgs...)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		values = values[n:]
	}
}

// accessRecords returns n access events with ids prefix-0 … prefix-(n-1).
func accessRecords(prefix string, n int) ([][]byte, []string) {
	vals := make([][]byte, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		vals[i] = accessJSON(ids[i])
	}
	return vals, ids
}

// running is a sink running in the background.
type running struct {
	s    *Sink
	errc chan error
}

func startSink(t *testing.T, cfg Config, busCfg bus.Config, w store.Writer, opts ...Option) *running {
	t.Helper()
	s, err := New(cfg, busCfg, w, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{s: s, errc: make(chan error, 1)}
	go func() { r.errc <- s.Run(context.Background()) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the sink down and returns what Run returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-r.errc:
		r.errc <- err // for a second stop
		return err
	case <-ctx.Done():
		t.Fatal("Run did not return after Shutdown")
		return nil
	}
}
