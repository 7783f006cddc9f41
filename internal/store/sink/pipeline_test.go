package sink

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// (6) Pipelining: the next batch fills while one is written, at most two
// are held, writes never overlap, and each batch is written once, whole.
func TestPipelineFillsWhileWriting(t *testing.T) {
	t.Parallel()
	access := uniqueName(t) + ".vigil.access.v1"
	busCfg := startBroker(t, access)
	cfg := testConfig(t, access)
	cfg.BatchSize = 100
	cfg.BatchAge = time.Hour
	vals, ids := accessRecords("p", 1000)
	produce(t, busCfg, access, vals...)

	w := newFakeWriter()
	w.delay = 150 * time.Millisecond
	r := startSink(t, cfg, busCfg, w)
	maxPending := 0.0
	deadline := time.Now().Add(30 * time.Second)
	for w.uniqueWritten() < len(ids) && time.Now().Before(deadline) {
		maxPending = max(maxPending, testutil.ToFloat64(r.s.m.pending))
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if w.written[id] != 1 {
			t.Errorf("%s written %d times, want 1", id, w.written[id])
		}
	}
	for i, b := range w.batch {
		if b.Len() != cfg.BatchSize {
			t.Errorf("batch %d has %d records, want %d", i, b.Len(), cfg.BatchSize)
		}
	}
	if maxPending <= float64(cfg.BatchSize) || maxPending > float64(2*cfg.BatchSize) {
		t.Errorf("at most %v records pending, want more than one batch (the next fills while one is written) and at most two (%d)", maxPending, 2*cfg.BatchSize)
	}
	if w.maxConcurrent != 1 {
		t.Errorf("%d writes at once, want one at a time", w.maxConcurrent)
	}
}

// (7) A batch the store keeps refusing holds back the one read after it:
// the next batch fills but is neither written nor committed, and after a
// stop another member of the group gets every record.
func TestPipelineStuckBatchHoldsTheNext(t *testing.T) {
	t.Parallel()
	access := uniqueName(t) + ".vigil.access.v1"
	busCfg := startBroker(t, access)
	cfg := testConfig(t, access)
	cfg.BatchSize = 10
	cfg.BatchAge = 50 * time.Millisecond
	vals, ids := accessRecords("stuck", 50)
	produce(t, busCfg, access, vals...)

	w := newFakeWriter()
	w.setFail(-1)
	r := startSink(t, cfg, busCfg, w)
	w.waitFor(t, 20*time.Second, "4 failed attempts", func(w *fakeWriter) bool { return len(w.attempts) >= 4 })
	var pending float64
	ok := waitUntil(10*time.Second, func() bool {
		pending = testutil.ToFloat64(r.s.m.pending)
		return pending == float64(2*cfg.BatchSize)
	})
	if !ok {
		t.Errorf("%v records pending while the first batch is refused, want two full batches (%d)", pending, 2*cfg.BatchSize)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.mu.Lock()
	for i, a := range w.attempts {
		if fmt.Sprint(a) != fmt.Sprint(w.attempts[0]) {
			t.Errorf("attempt %d is not the refused batch: the batch after it was tried", i+1)
		}
	}
	if len(w.written) != 0 {
		t.Errorf("%d records written by a writer that always fails", len(w.written))
	}
	w.mu.Unlock()

	w2 := newFakeWriter()
	r2 := startSink(t, cfg, busCfg, w2)
	w2.waitFor(t, 20*time.Second, "every record", func(w *fakeWriter) bool { return len(w.written) == len(ids) })
	time.Sleep(300 * time.Millisecond)
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
}

// waitUntil polls cond every 10 ms until it holds or d passed.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
