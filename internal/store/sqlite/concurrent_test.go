package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

// subjectBatch is n access events to subject, ids and times from first on.
func subjectBatch(subject string, first, n int) *store.Batch {
	b := &store.Batch{Access: make([]event.AccessEvent, 0, n)}
	for i := first; i < first+n; i++ {
		b.Access = append(b.Access, accessEvent(fmt.Sprintf("%s-%06d", subject, i), subject, i))
	}
	return b
}

// TestReadWhileWriting runs queries, in the writing store and in a
// read-only store of the same file, while batches are written (WAL): no
// query fails or waits for the writer, and each sees whole batches only
// (a transaction is all or nothing), in order, never fewer than before.
func TestReadWhileWriting(t *testing.T) {
	const (
		batches   = 30
		batchSize = 200
		subject   = "subj-c"
	)
	path := filepath.Join(t.TempDir(), "vigil.db")
	w, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ro, err := sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, reader := range []struct {
		name string
		r    store.Reader
	}{{"writing store", w}, {"read-only store", ro}} {
		wg.Go(func() {
			reads, last := 0, int64(0)
			for ctx.Err() == nil || reads == 0 {
				q := store.SubjectQuery{SubjectID: subject, TimeRange: wide}
				n, err := reader.r.CountSubjectHistory(ctx, q)
				if ctx.Err() != nil {
					break // cancelled at the end: err may be that
				}
				if err != nil {
					errs <- fmt.Errorf("%s: count: %w", reader.name, err)
					return
				}
				if n%batchSize != 0 || n < last {
					errs <- fmt.Errorf("%s: count %d after %d: not whole batches in order", reader.name, n, last)
					return
				}
				last = n
				var rows int64
				prev := ""
				err = reader.r.SubjectHistory(ctx, q, func(a *store.SubjectAccess) error {
					if a.EventID <= prev {
						return fmt.Errorf("row %s after %s", a.EventID, prev)
					}
					prev = a.EventID
					rows++
					return nil
				})
				if ctx.Err() != nil {
					break
				}
				if err != nil || rows%batchSize != 0 || rows < last {
					errs <- fmt.Errorf("%s: streamed %d rows after a count of %d: %v", reader.name, rows, last, err)
					return
				}
				last = rows
				reads++
			}
			t.Logf("%s: %d consistent reads while writing", reader.name, reads)
		})
	}
	for i := range batches {
		if err := w.Write(t.Context(), subjectBatch(subject, i*batchSize, batchSize)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, r := range []store.Reader{w, ro} {
		if n := countSubject(t, r, subject); n != batches*batchSize {
			t.Errorf("%d events in the end, want %d", n, batches*batchSize)
		}
	}
}

// TestQueryOpenDuringWrite writes from inside a streaming query's fn: the
// write does not wait for the query, and the query goes on with the
// snapshot it started from.
func TestQueryOpenDuringWrite(t *testing.T) {
	s, _ := openAt(t)
	if err := s.Write(t.Context(), subjectBatch("subj-1", 0, 50)); err != nil {
		t.Fatal(err)
	}
	q := store.SubjectQuery{SubjectID: "subj-1", TimeRange: wide}
	rows := 0
	err := s.SubjectHistory(t.Context(), q, func(*store.SubjectAccess) error {
		rows++
		if rows == 1 {
			return s.Write(t.Context(), subjectBatch("subj-1", 50, 25))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 50 {
		t.Errorf("the open query streamed %d rows, want the 50 of its snapshot", rows)
	}
	if n := countSubject(t, s, "subj-1"); n != 75 {
		t.Errorf("%d rows after the query, want 75", n)
	}
}

// TestConcurrentWrites writes from several goroutines at once: every
// batch lands, each once.
func TestConcurrentWrites(t *testing.T) {
	s, _ := openAt(t)
	const writers, each = 4, 100
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			// Every writer also rewrites the first writer's batch.
			errs[i] = errors.Join(
				s.Write(t.Context(), subjectBatch("subj-w", i*each, each)),
				s.Write(t.Context(), subjectBatch("subj-w", 0, each)))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := countSubject(t, s, "subj-w"); n != writers*each {
		t.Errorf("%d events, want %d", n, writers*each)
	}
}

// TestCancelledQuery checks that a query stopped by its context says so:
// the error wraps context.Canceled (SQLite itself says "interrupted").
func TestCancelledQuery(t *testing.T) {
	s, _ := openAt(t)
	if err := s.Write(t.Context(), subjectBatch("subj-1", 0, 2000)); err != nil {
		t.Fatal(err)
	}
	q := store.SubjectQuery{SubjectID: "subj-1", TimeRange: wide}
	tests := []struct {
		name string
		run  func(ctx context.Context, cancel func()) error
	}{
		{"cancelled before", func(ctx context.Context, cancel func()) error {
			cancel()
			_, err := s.CountSubjectHistory(ctx, q)
			return err
		}},
		{"cancelled while streaming", func(ctx context.Context, cancel func()) error {
			rows := 0
			err := s.SubjectHistory(ctx, q, func(*store.SubjectAccess) error {
				if rows++; rows == 1 {
					cancel()
					time.Sleep(50 * time.Millisecond) // let the cancellation reach the query
				}
				return nil
			})
			if rows == 2000 {
				t.Error("the query streamed every row after its context was cancelled")
			}
			return err
		}},
		{"cancelled write", func(ctx context.Context, cancel func()) error {
			cancel()
			return s.Write(ctx, subjectBatch("subj-2", 0, 10))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if err := tt.run(ctx, cancel); !errors.Is(err, context.Canceled) {
				t.Errorf("error = %v, want one wrapping context.Canceled", err)
			}
		})
	}
}
