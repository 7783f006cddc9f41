package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/vigil-audit/vigil/internal/bus"
)

func TestMain(m *testing.M) {
	// Every sink, reader, writer and broker a test starts is closed by it.
	goleak.VerifyTestMain(m)
}

// testConfig is a sink configuration for the given topics with short
// bounds.
func testConfig(t *testing.T, topics ...string) Config {
	return Config{
		Group:    uniqueName(t),
		Topics:   topics,
		BatchAge: 100 * time.Millisecond,
		RetryMin: 10 * time.Millisecond,
		RetryMax: 50 * time.Millisecond,
	}
}

// (1) Every record reaches the writer exactly once when nothing fails.
func TestEveryRecordOnce(t *testing.T) {
	t.Parallel()
	prefix := uniqueName(t)
	access, alerts := prefix+".vigil.access.v1", prefix+".vigil.alerts.v1"
	busCfg := startBroker(t, access, alerts)

	vals, ids := accessRecords("a", 3000)
	produce(t, busCfg, access, vals...)
	var alertVals [][]byte
	for i := range 20 {
		alertVals = append(alertVals, alertJSON(t, fmt.Sprintf("alert-%d", i)))
	}
	produce(t, busCfg, alerts, alertVals...)

	w := newFakeWriter()
	cfg := testConfig(t, access, alerts)
	cfg.BatchSize = 500
	reg := prometheus.NewPedanticRegistry()
	r := startSink(t, cfg, busCfg, w, WithRegisterer(reg))
	w.waitFor(t, 20*time.Second, "every record", func(w *fakeWriter) bool { return len(w.written) == len(ids)+20 })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if n := w.written[id]; n != 1 {
			t.Errorf("%s written %d times, want 1", id, n)
		}
	}
	for _, b := range w.batch {
		if b.Len() > cfg.BatchSize {
			t.Errorf("batch of %d records, more than batch_size %d", b.Len(), cfg.BatchSize)
		}
		for _, a := range b.Alerts {
			if a.Value.AlertID == "" || a.Value.Severity == "" {
				t.Errorf("alert not decoded: %+v", a)
			}
		}
	}
	if got := testutil.ToFloat64(r.s.m.rows[tableAccess]); got != float64(len(ids)) {
		t.Errorf("rows_written_total{table=access} = %v, want %d", got, len(ids))
	}
	if got := testutil.ToFloat64(r.s.m.rows[tableAlerts]); got != 20 {
		t.Errorf("rows_written_total{table=alerts} = %v, want 20", got)
	}
	if got := testutil.ToFloat64(r.s.m.lastSuccess); got == 0 {
		t.Error("last_success_timestamp_seconds not set")
	}
	if got := testutil.ToFloat64(r.s.m.lagVec.WithLabelValues(access)); got != 0 {
		t.Errorf("lag of %s = %v after everything was committed, want 0", access, got)
	}
}

// (2) A failing writer: the same batch is retried, nothing is committed
// meanwhile, and another member of the group started after a stop gets
// every record not written, and none that was.
func TestRetrySameBatchNoCommit(t *testing.T) {
	t.Parallel()
	access := uniqueName(t) + ".vigil.access.v1"
	busCfg := startBroker(t, access)
	cfg := testConfig(t, access)
	cfg.UnreadyAfter = time.Minute

	t.Run("fails 3 times then succeeds", func(t *testing.T) {
		vals, ids := accessRecords("first", 50)
		produce(t, busCfg, access, vals...)
		w := newFakeWriter()
		w.setFail(3)
		r := startSink(t, cfg, busCfg, w)
		w.waitFor(t, 20*time.Second, "the first 50 records", func(w *fakeWriter) bool { return len(w.written) == len(ids) })
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.attempts) < 4 || w.results[0] || w.results[1] || w.results[2] || !w.results[3] {
			t.Fatalf("attempts %v, want 3 failures then a success", w.results)
		}
		// The records come in over several fetches; the first failing
		// batch may hold only some. Every retry must be the same batch.
		for i := 1; i <= 3; i++ {
			if fmt.Sprint(w.attempts[i]) != fmt.Sprint(w.attempts[0]) {
				t.Errorf("attempt %d wrote %d records %v…, attempt 1 %d: not the same batch", i+1, len(w.attempts[i]), head(w.attempts[i]), len(w.attempts[0]))
			}
		}
	})

	t.Run("stopped while failing, resumed by another member", func(t *testing.T) {
		vals, ids := accessRecords("second", 70)
		produce(t, busCfg, access, vals...)
		w := newFakeWriter()
		w.setFail(-1)
		now := time.Now()
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		reg := prometheus.NewPedanticRegistry()
		r := startSink(t, cfg, busCfg, w, WithClock(clock), WithRegisterer(reg))
		w.waitFor(t, 20*time.Second, "5 failed attempts", func(w *fakeWriter) bool { return len(w.attempts) >= 5 })
		if got := testutil.ToFloat64(r.s.m.retrying); got != 1 {
			t.Errorf("vigil_sink_retrying = %v while failing, want 1", got)
		}
		if err := r.s.Ready(); err != nil {
			t.Errorf("Ready = %v after a short retry, want nil", err)
		}
		mu.Lock()
		now = now.Add(2 * time.Minute)
		mu.Unlock()
		if err := r.s.Ready(); err == nil || !strings.Contains(err.Error(), errFake.Error()) {
			t.Errorf("Ready = %v after retrying for 2m (unready_after 1m), want the write error", err)
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		w.mu.Lock()
		for i, a := range w.attempts[1:] {
			if !sameStart(a, w.attempts[0]) {
				t.Errorf("attempt %d is not the batch of attempt 1", i+2)
			}
		}
		if len(w.written) != 0 {
			t.Errorf("%d records written by a writer that always fails", len(w.written))
		}
		w.mu.Unlock()

		// A new member of the same group: everything after the last
		// commit (the 70 records), nothing before it (the first 50).
		w2 := newFakeWriter()
		r2 := startSink(t, cfg, busCfg, w2)
		w2.waitFor(t, 20*time.Second, "the 70 records not written", func(w *fakeWriter) bool { return len(w.written) >= len(ids) })
		time.Sleep(300 * time.Millisecond) // time for a wrong redelivery to show
		if err := r2.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		w2.mu.Lock()
		defer w2.mu.Unlock()
		for _, id := range ids {
			if w2.written[id] != 1 {
				t.Errorf("%s written %d times by the second member, want 1", id, w2.written[id])
			}
		}
		for id := range w2.written {
			if strings.HasPrefix(id, "first-") {
				t.Errorf("%s was committed before and delivered again", id)
			}
		}
	})
}

func head(s []string) []string { return s[:min(3, len(s))] }

// sameStart reports whether a retried batch a holds batch b: a retried batch
// is never changed, so they are equal.
func sameStart(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// (3) Stop mid-stream and restart with the same group: everything arrives;
// the only duplicates are of a batch that was not committed.
func TestStopMidStreamRestart(t *testing.T) {
	t.Parallel()
	access := uniqueName(t) + ".vigil.access.v1"
	busCfg := startBroker(t, access)
	cfg := testConfig(t, access)
	cfg.BatchSize = 200
	vals, ids := accessRecords("m", 4000)
	produce(t, busCfg, access, vals...)

	w := newFakeWriter()
	w.delay = 20 * time.Millisecond // so that the stop comes mid-stream
	r := startSink(t, cfg, busCfg, w)
	w.waitFor(t, 20*time.Second, "1000 records", func(w *fakeWriter) bool { return len(w.written) >= 1000 })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	first := w.uniqueWritten()
	if first == len(ids) {
		t.Fatal("the sink wrote everything before the stop: not mid-stream")
	}

	r2 := startSink(t, cfg, busCfg, w)
	w.waitFor(t, 20*time.Second, "every record", func(w *fakeWriter) bool { return len(w.written) == len(ids) })
	if err := r2.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	dups := 0
	for _, id := range ids {
		switch n := w.written[id]; {
		case n == 0:
			t.Errorf("%s lost", id)
		case n > 1:
			dups++
		}
	}
	if dups > cfg.BatchSize {
		t.Errorf("%d records written twice, more than one batch (%d)", dups, cfg.BatchSize)
	}
	t.Logf("written before the stop: %d of %d; duplicates after the restart: %d", first, len(ids), dups)
}

// (4) Size and age bounds.
func TestBatchBounds(t *testing.T) {
	t.Parallel()
	t.Run("size", func(t *testing.T) {
		t.Parallel()
		access := uniqueName(t) + ".vigil.access.v1"
		busCfg := startBroker(t, access)
		cfg := testConfig(t, access)
		cfg.BatchSize = 100
		cfg.BatchAge = time.Hour
		vals, _ := accessRecords("s", 350)
		produce(t, busCfg, access, vals...)
		w := newFakeWriter()
		r := startSink(t, cfg, busCfg, w)
		w.waitFor(t, 20*time.Second, "3 full batches", func(w *fakeWriter) bool { return len(w.batch) >= 3 })
		time.Sleep(300 * time.Millisecond)
		w.mu.Lock()
		for i, b := range w.batch {
			if b.Len() != 100 {
				t.Errorf("batch %d has %d records, want 100 (batch_size)", i, b.Len())
			}
		}
		if len(w.batch) != 3 {
			t.Errorf("%d batches before the age bound, want 3", len(w.batch))
		}
		w.mu.Unlock()
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		// The stop drains the partial batch: written and committed.
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.batch) != 4 || w.batch[3].Len() != 50 {
			t.Errorf("after the stop: %d batches, want the 50 left written as a 4th", len(w.batch))
		}
	})
	t.Run("age", func(t *testing.T) {
		t.Parallel()
		access := uniqueName(t) + ".vigil.access.v1"
		busCfg := startBroker(t, access)
		cfg := testConfig(t, access)
		cfg.BatchSize = 1000
		cfg.BatchAge = 300 * time.Millisecond
		w := newFakeWriter()
		r := startSink(t, cfg, busCfg, w)
		time.Sleep(2 * time.Second) // let the reader join its group
		vals, _ := accessRecords("lone", 1)
		produced := time.Now()
		produce(t, busCfg, access, vals...)
		w.waitFor(t, 10*time.Second, "the lone record", func(w *fakeWriter) bool { return len(w.written) == 1 })
		w.mu.Lock()
		took := w.times[0].Sub(produced)
		w.mu.Unlock()
		if took < cfg.BatchAge || took > cfg.BatchAge+time.Second {
			t.Errorf("a lone record was written %s after it was produced, want batch_age (%s) plus fetch time", took, cfg.BatchAge)
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// (5) Undecodable records: a dead letter by default; with on_invalid: stop,
// Run stops with an error naming the record and commits nothing, so the
// record is still there after a restart.
func TestUndecodable(t *testing.T) {
	t.Parallel()
	access := uniqueName(t) + ".vigil.access.v1"
	busCfg := startBroker(t, access)
	bad := [][]byte{
		[]byte("not json"),
		[]byte(`{"event_id":"x"}`),
		append(accessJSON("bad-extra")[:len(accessJSON("bad-extra"))-1], []byte(`,"extra":1}`)...),
	}
	vals, ids := accessRecords("ok", 2)
	// One partition for all, in a known order: every record has one key.
	w0, err := bus.NewWriter(busCfg, access)
	if err != nil {
		t.Fatal(err)
	}
	produceSameKey(t, w0, append(append([][]byte{vals[0]}, bad...), vals[1])...)

	t.Run("stop", func(t *testing.T) {
		cfg := testConfig(t, access)
		cfg.OnInvalid = OnInvalidStop
		w := newFakeWriter()
		s, err := New(cfg, busCfg, w)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = s.Run(ctx)
		var ire *InvalidRecordError
		if !errors.As(err, &ire) {
			t.Fatalf("Run = %v, want an *InvalidRecordError", err)
		}
		if ire.Topic != access || ire.Offset != 1 || len(ire.Problems) == 0 {
			t.Errorf("error names %s[%d]@%d %v, want %s@1 with problems", ire.Topic, ire.Partition, ire.Offset, ire.Problems, access)
		}
		if err := s.Ready(); err == nil {
			t.Error("Ready = nil after Run failed")
		}
		if got := testutil.ToFloat64(s.m.invalidVec.WithLabelValues(access)); got != 1 {
			t.Errorf("invalid_records_total = %v, want 1", got)
		}
		if w.uniqueWritten() != 0 {
			t.Errorf("%d records written before the stop", w.uniqueWritten())
		}

		// Same group, dead_letter: the records are all still there.
		cfg.OnInvalid = OnInvalidDeadLetter
		w2 := newFakeWriter()
		r := startSink(t, cfg, busCfg, w2)
		w2.waitFor(t, 20*time.Second, "5 records", func(w *fakeWriter) bool { return len(w.written) == 5 })
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		w2.mu.Lock()
		defer w2.mu.Unlock()
		for _, id := range ids {
			if w2.written[id] != 1 {
				t.Errorf("%s written %d times, want 1", id, w2.written[id])
			}
		}
		var dls int
		for _, b := range w2.batch {
			for _, d := range b.DeadLetters {
				dls++
				wantID := "sink:" + strings.NewReplacer("[", ":", "]@", ":").Replace(d.Location)
				if d.DeadLetterID != wantID || d.Reason != ReasonUndecodable || d.Receiver != ReceiverSink ||
					d.Kind != "access" || len(d.Problems) == 0 || d.Raw == "" || d.ReceivedAt.IsZero() {
					t.Errorf("dead letter %+v", d)
				}
			}
		}
		if dls != len(bad) {
			t.Errorf("%d dead letters, want %d", dls, len(bad))
		}
	})
}

// produceSameKey writes the values with one key (one partition, in order)
// and closes w.
func produceSameKey(t *testing.T, w *bus.Writer, values ...[]byte) {
	t.Helper()
	defer func() { _ = w.Close() }()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte("one"), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}
