package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/store"
)

// Run holds a backend to the store.Reader contract. open returns a fresh,
// empty store for each subtest that calls it and arranges for its closing
// (t.Cleanup); Run never closes it.
//
// Subtests:
//
//   - Queries: the fixture (Batches) written in order; every question of
//     the suite compared with the reference model's answer.
//   - ReversedWrites: the same batches written last first (newer versions
//     before older ones): the same answers.
//   - EmptyStore: nothing written; every question answered with no rows
//     and zero counts, without error.
//   - BadQueries: every method refuses invalid parameters with an error
//     wrapping store.ErrBadQuery, without calling fn.
//   - StreamingStops: an error from fn stops a streaming method
//     (SubjectHistory, ActorHistory, ScanEvents, AlertIDs) after that row
//     and is returned as is.
//
// Every comparison is retried for up to 15 s (polling every 100 ms)
// before it fails with a diff of the last result, because ClickHouse fills
// some tables through materialized views that trail the insert.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("Queries", func(t *testing.T) {
		s := open(t)
		write(t, s, Batches())
		checkCases(t, s, newModel(Batches()))
	})
	t.Run("ReversedWrites", func(t *testing.T) {
		s := open(t)
		batches := Batches()
		slices.Reverse(batches)
		write(t, s, batches)
		checkCases(t, s, newModel(Batches()))
	})
	t.Run("EmptyStore", func(t *testing.T) {
		checkCases(t, open(t), newModel(nil))
	})
	t.Run("BadQueries", func(t *testing.T) {
		checkBadQueries(t, open(t))
	})
	t.Run("StreamingStops", func(t *testing.T) {
		s := open(t)
		write(t, s, Batches())
		checkStreamingStops(t, s, newModel(Batches()))
	})
}

// testContext is a context for one subtest, bounded well above the time a
// comparison may wait; each question gets its own, so that one slow
// failure does not starve the next.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 4*waitFor)
	t.Cleanup(cancel)
	return ctx
}

// write writes the batches one Write each, as the sink does.
func write(t *testing.T, s store.Writer, batches []*store.Batch) {
	t.Helper()
	ctx := testContext(t)
	for i, b := range batches {
		if err := s.Write(ctx, b); err != nil {
			t.Fatalf("Write(batch %d of %d, %d records): %v", i+1, len(batches), b.Len(), err)
		}
	}
}

// checkCases asks every question of the suite and compares each answer
// with the model's.
func checkCases(t *testing.T, r store.Reader, m *model) {
	for _, c := range cases() {
		t.Run(c.method+"/"+c.name, func(t *testing.T) {
			query, _ := render(c.query)
			o, err := eventually(testContext(t), c.want(m), func(ctx context.Context) (any, error) { return c.ask(ctx, r) })
			if err != nil {
				t.Fatalf("%s(%s): %v", c.method, query, err)
			}
			if !o.equal {
				t.Errorf("%s(%s) after %s:\n%s", c.method, query, waitFor, o.report)
			}
		})
	}
}

// badQuery is one invalid call of a Reader method.
type badQuery struct {
	name string
	// call makes the call; fn is what a streaming method gets.
	call func(ctx context.Context, r store.Reader, fn func() error) error
}

func badQueries() []badQuery {
	var bqs []badQuery
	add := func(name string, call func(ctx context.Context, r store.Reader, fn func() error) error) {
		bqs = append(bqs, badQuery{name, call})
	}
	ranges := []struct {
		name string
		r    store.TimeRange
	}{
		{"zero range", store.TimeRange{}},
		{"zero from", store.TimeRange{To: window.To}},
		{"zero to", store.TimeRange{From: window.From}},
		{"from equals to", store.TimeRange{From: window.From, To: window.From}},
		{"from after to", store.TimeRange{From: window.To, To: window.From}},
	}
	for _, rg := range ranges {
		add("SubjectHistory/"+rg.name, func(ctx context.Context, r store.Reader, fn func() error) error {
			return r.SubjectHistory(ctx, store.SubjectQuery{SubjectID: "subj-p1", TimeRange: rg.r},
				func(*store.SubjectAccess) error { return fn() })
		})
		add("ScanEvents/"+rg.name, func(ctx context.Context, r store.Reader, fn func() error) error {
			return r.ScanEvents(ctx, store.ScanQuery{TimeRange: rg.r}, func(*store.StoredEvent) error { return fn() })
		})
		add("AlertIDs/"+rg.name, func(ctx context.Context, r store.Reader, fn func() error) error {
			return r.AlertIDs(ctx, rg.r, func(string) error { return fn() })
		})
		add("CountSubjectHistory/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.CountSubjectHistory(ctx, store.SubjectQuery{SubjectID: "subj-p1", TimeRange: rg.r})
			return err
		})
		add("ActorHistory/"+rg.name, func(ctx context.Context, r store.Reader, fn func() error) error {
			return r.ActorHistory(ctx, store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: rg.r},
				func(*store.ActorAccess) error { return fn() })
		})
		add("CountActorHistory/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.CountActorHistory(ctx, store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: rg.r})
			return err
		})
		add("ActorActivity/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.ActorActivity(ctx, store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: rg.r})
			return err
		})
		add("TopActors/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.TopActors(ctx, store.TopActorsQuery{TimeRange: rg.r, By: store.BySubjects, Limit: 10})
			return err
		})
		add("AlertCounts/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.AlertCounts(ctx, store.AlertCountsQuery{TimeRange: rg.r, Bucket: time.Hour})
			return err
		})
		add("IngestRate/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.IngestRate(ctx, rg.r)
			return err
		})
		add("DeadLetterCounts/"+rg.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.DeadLetterCounts(ctx, rg.r)
			return err
		})
	}
	add("SubjectHistory/empty subject", func(ctx context.Context, r store.Reader, fn func() error) error {
		return r.SubjectHistory(ctx, store.SubjectQuery{TimeRange: wide}, func(*store.SubjectAccess) error { return fn() })
	})
	add("CountSubjectHistory/empty subject", func(ctx context.Context, r store.Reader, _ func() error) error {
		_, err := r.CountSubjectHistory(ctx, store.SubjectQuery{TimeRange: wide})
		return err
	})
	for _, a := range []struct{ name, org, actor string }{
		{"empty org", "", "doc-1"}, {"empty actor", "org-a", ""}, {"empty both", "", ""},
	} {
		q := store.ActorQuery{Org: a.org, ActorID: a.actor, TimeRange: wide}
		add("ActorHistory/"+a.name, func(ctx context.Context, r store.Reader, fn func() error) error {
			return r.ActorHistory(ctx, q, func(*store.ActorAccess) error { return fn() })
		})
		add("CountActorHistory/"+a.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.CountActorHistory(ctx, q)
			return err
		})
		add("ActorActivity/"+a.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.ActorActivity(ctx, q)
			return err
		})
	}
	for _, tq := range []struct {
		name  string
		by    store.Ranking
		limit int
	}{
		{"unknown ranking", "events", 10}, {"empty ranking", "", 10}, {"limit 0", store.BySubjects, 0},
		{"negative limit", store.BySensitive, -1}, {"limit above max", store.BySubjects, store.MaxTopActors + 1},
	} {
		q := store.TopActorsQuery{TimeRange: wide, By: tq.by, Limit: tq.limit}
		add("TopActors/"+tq.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.TopActors(ctx, q)
			return err
		})
	}
	for _, b := range []time.Duration{0, -time.Hour, 30 * time.Second, 90 * time.Second, 7 * time.Minute, 48 * time.Hour} {
		q := store.AlertCountsQuery{TimeRange: wide, Bucket: b}
		add("AlertCounts/bucket "+b.String(), func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.AlertCounts(ctx, q)
			return err
		})
	}
	for _, iq := range []struct {
		name string
		q    store.IncidentQuery
	}{
		{"limit 0", store.IncidentQuery{Limit: 0, Now: now}},
		{"limit above max", store.IncidentQuery{Limit: store.MaxIncidents + 1, Now: now}},
		{"zero now", store.IncidentQuery{Limit: 10}},
	} {
		add("Incidents/"+iq.name, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.Incidents(ctx, iq.q)
			return err
		})
	}
	for _, nq := range []store.NoticeQuery{{}, {IncidentID: "inc-1"}} {
		add("NoticeProgress/zero now/"+nq.IncidentID, func(ctx context.Context, r store.Reader, _ func() error) error {
			_, err := r.NoticeProgress(ctx, nq)
			return err
		})
	}
	return bqs
}

func checkBadQueries(t *testing.T, r store.Reader) {
	ctx := testContext(t)
	for _, bq := range badQueries() {
		t.Run(bq.name, func(t *testing.T) {
			calls := 0
			err := bq.call(ctx, r, func() error { calls++; return nil })
			if !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("error = %v, want one wrapping store.ErrBadQuery", err)
			}
			if calls != 0 {
				t.Errorf("fn called %d times for a bad query", calls)
			}
		})
	}
}

// checkStreamingStops checks that a streaming method stops at the row
// whose fn fails and returns that error itself (not wrapped, not
// replaced). It first waits until the backend shows the whole history.
func checkStreamingStops(t *testing.T, r store.Reader, m *model) {
	sq := store.SubjectQuery{SubjectID: "subj-p1", TimeRange: wide}
	aq := store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: wide}
	scanQ := store.ScanQuery{TimeRange: wide}
	streams := []struct {
		name   string
		want   any
		rows   int
		stream func(ctx context.Context, fn func() error) error
	}{
		{"SubjectHistory", m.subjectHistory(sq), len(m.subjectHistory(sq)), func(ctx context.Context, fn func() error) error {
			return r.SubjectHistory(ctx, sq, func(*store.SubjectAccess) error { return fn() })
		}},
		{"ActorHistory", m.actorHistory(aq), len(m.actorHistory(aq)), func(ctx context.Context, fn func() error) error {
			return r.ActorHistory(ctx, aq, func(*store.ActorAccess) error { return fn() })
		}},
		{"ScanEvents", m.scanEvents(scanQ), len(m.scanEvents(scanQ)), func(ctx context.Context, fn func() error) error {
			return r.ScanEvents(ctx, scanQ, func(*store.StoredEvent) error { return fn() })
		}},
		{"AlertIDs", m.alertIDs(wide), len(m.alertIDs(wide)), func(ctx context.Context, fn func() error) error {
			return r.AlertIDs(ctx, wide, func(string) error { return fn() })
		}},
	}
	for _, s := range streams {
		if s.rows < 3 {
			t.Fatalf("%s: the fixture has %d rows, the test needs 3", s.name, s.rows)
		}
		t.Run(s.name, func(t *testing.T) {
			ctx := testContext(t)
			all := func(ctx context.Context) (any, error) {
				switch s.name {
				case "SubjectHistory":
					return collect(func(fn func(*store.SubjectAccess) error) error { return r.SubjectHistory(ctx, sq, fn) })
				case "ScanEvents":
					return collect(func(fn func(*store.StoredEvent) error) error { return r.ScanEvents(ctx, scanQ, fn) })
				case "AlertIDs":
					ids := []string{}
					err := r.AlertIDs(ctx, wide, func(id string) error { ids = append(ids, id); return nil })
					return ids, err
				default:
					return collect(func(fn func(*store.ActorAccess) error) error { return r.ActorHistory(ctx, aq, fn) })
				}
			}
			o, err := eventually(ctx, s.want, all)
			if err != nil || !o.equal {
				t.Fatalf("the backend never showed the whole history (%v):\n%s", err, o.report)
			}
			for _, stopAt := range []int{1, 2, s.rows} {
				sentinel := fmt.Errorf("stop at row %d: %w", stopAt, errors.ErrUnsupported)
				calls := 0
				err := s.stream(ctx, func() error {
					calls++
					if calls == stopAt {
						return sentinel
					}
					return nil
				})
				if err != sentinel { //nolint:errorlint // the contract: returned as is
					t.Errorf("stop at row %d: error = %v, want fn's error itself", stopAt, err)
				}
				if calls != stopAt {
					t.Errorf("stop at row %d: fn called %d times", stopAt, calls)
				}
			}
		})
	}
}
