package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-audit/vigil/internal/event"
)

var errPermanent = errors.New("mailbox does not exist")

func isPermanent(err error) bool { return errors.Is(err, errPermanent) }

func testNotice(i int) event.Notice {
	return event.Notice{
		IncidentID:     "inc-1",
		Obligation:     "pipl.individual",
		Regime:         "pipl",
		RecipientToken: fmt.Sprintf("tok_%04d", i),
		RecipientKind:  event.RecipientIndividual,
		Channel:        event.ChannelEmail,
		Language:       "zh-CN",
		DueAt:          event.NewTimestamp(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)),
	}
}

func fixedNow() time.Time { return time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC) }

func openLedger(t *testing.T, j Journal, opts Options) *Ledger {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	if opts.IsPermanent == nil {
		opts.IsPermanent = isPermanent
	}
	l, err := Open(context.Background(), j, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLedgerLifecycle(t *testing.T) {
	ctx := context.Background()
	j := &MemoryJournal{}
	l := openLedger(t, j, Options{MaxAttempts: 3})

	n, err := l.Plan(ctx, testNotice(1))
	if err != nil {
		t.Fatal(err)
	}
	wantID := event.NoticeID("inc-1", "tok_0001", "pipl.individual")
	if n.NoticeID != wantID || n.State != event.NoticePlanned {
		t.Fatalf("planned %s in state %s, want %s planned", n.NoticeID, n.State, wantID)
	}
	// Planning again is idempotent: no second record.
	again, err := l.Plan(ctx, testNotice(1))
	if err != nil || again.NoticeID != wantID || len(j.Records()) != 1 {
		t.Fatalf("second plan: %v, %d records", err, len(j.Records()))
	}

	sends := 0
	ok := func(context.Context, event.Notice) (Receipt, error) {
		sends++
		return Receipt{MessageID: "<" + wantID + "@vigil>"}, nil
	}
	if _, err := l.Deliver(ctx, wantID, ok); !errors.Is(err, ErrNotApproved) {
		t.Fatalf("deliver before approval: %v, want ErrNotApproved", err)
	}
	if _, err := l.Deliver(ctx, "nope", ok); !errors.Is(err, ErrUnknownNotice) {
		t.Fatalf("deliver of an unknown id: %v, want ErrUnknownNotice", err)
	}
	if err := l.Approve(ctx, wantID); err != nil {
		t.Fatal(err)
	}
	got, err := l.Deliver(ctx, wantID, ok)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != event.NoticeSent || got.Attempts != 1 || got.MessageID != "<"+wantID+"@vigil>" || !got.SentAt.Equal(fixedNow()) {
		t.Fatalf("after delivery: %+v", got)
	}
	// Delivering a sent notice does not call the channel again.
	if _, err := l.Deliver(ctx, wantID, ok); err != nil || sends != 1 {
		t.Fatalf("second deliver: err %v, %d sends", err, sends)
	}
	var states []event.NoticeState
	for _, r := range j.Records() {
		states = append(states, r.State)
	}
	if fmt.Sprint(states) != "[planned approved sending sent]" {
		t.Fatalf("journal states %v", states)
	}
}

func TestLedgerFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		errs      []error // what each attempt returns
		wantState event.NoticeState
		wantTries int
	}{
		{"retryable then sent", []error{errors.New("421 try later"), nil}, event.NoticeSent, 2},
		{"permanent", []error{fmt.Errorf("550: %w", errPermanent)}, event.NoticeFailed, 1},
		{"attempts exhausted", []error{errors.New("a"), errors.New("b"), errors.New("c"), nil}, event.NoticeFailed, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLedger(t, &MemoryJournal{}, Options{MaxAttempts: 3})
			n, _ := l.Plan(ctx, testNotice(2))
			if err := l.Approve(ctx, n.NoticeID); err != nil {
				t.Fatal(err)
			}
			calls := 0
			send := func(context.Context, event.Notice) (Receipt, error) {
				err := tc.errs[calls]
				calls++
				return Receipt{MessageID: "m"}, err
			}
			var last event.Notice
			for range len(tc.errs) {
				var err error
				last, err = l.Deliver(ctx, n.NoticeID, send)
				if err == nil || errors.Is(err, ErrFinal) {
					break
				}
				if last.State == event.NoticeApproved && last.LastError == "" {
					t.Fatal("a retryable failure left no LastError")
				}
			}
			if last.State != tc.wantState || calls != tc.wantTries {
				t.Fatalf("state %s after %d sends, want %s after %d (last error %q)", last.State, calls, tc.wantState, tc.wantTries, last.LastError)
			}
			if tc.wantState == event.NoticeFailed {
				if _, err := l.Deliver(ctx, n.NoticeID, send); !errors.Is(err, ErrFinal) {
					t.Fatalf("deliver of a failed notice: %v, want ErrFinal", err)
				}
			}
		})
	}
}

func TestLedgerSkip(t *testing.T) {
	ctx := context.Background()
	l := openLedger(t, &MemoryJournal{}, Options{})
	n, _ := l.Plan(ctx, testNotice(3))
	if err := l.Skip(ctx, n.NoticeID, "covered by the public announcement"); err != nil {
		t.Fatal(err)
	}
	got, err := l.Deliver(ctx, n.NoticeID, func(context.Context, event.Notice) (Receipt, error) {
		t.Fatal("a skipped notice was sent")
		return Receipt{}, nil
	})
	if err != nil || got.State != event.NoticeSkipped || got.LastError != "covered by the public announcement" {
		t.Fatalf("skipped notice: %+v, %v", got, err)
	}
}

// TestLedgerJournalFailureBeforeSend: if "sending" cannot be recorded, the
// channel is not called.
func TestLedgerJournalFailureBeforeSend(t *testing.T) {
	ctx := context.Background()
	j := &MemoryJournal{}
	l := openLedger(t, j, Options{})
	n, _ := l.Plan(ctx, testNotice(4))
	_ = l.Approve(ctx, n.NoticeID)
	j.Fail = func(int, event.Notice) error { return errors.New("broker unavailable") }
	_, err := l.Deliver(ctx, n.NoticeID, func(context.Context, event.Notice) (Receipt, error) {
		t.Fatal("sent without a durable intent")
		return Receipt{}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "broker unavailable") {
		t.Fatalf("deliver with a failing journal: %v", err)
	}
}

// server is a channel that, like a webhook provider, an outbox or a
// letter batch, keeps one message per notice id; raw counts every
// submission (what an SMTP server without deduplication would hold).
type server struct {
	byID map[string]int
	raw  int
}

// TestLedgerCrashAnywhere crashes the process at every possible point of a
// 40-notice send (the journal stops accepting records after k appends, and
// a send may reach the server just before the crash), restarts from the
// journal, and checks that every notice reached the server, that the
// server holds exactly one message per notice id, and that raw duplicate
// submissions happen only for notices that were in flight at a crash.
func TestLedgerCrashAnywhere(t *testing.T) {
	const notices = 40
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 60 {
		j := &MemoryJournal{}
		srv := &server{byID: map[string]int{}}
		crashes, resent := 0, 0
		for restart := 0; ; restart++ {
			if restart > 50 {
				t.Fatalf("round %d: not done after 50 restarts", round)
			}
			budget := len(j.Records()) + 1 + rng.IntN(4*notices)
			if restart > 10 {
				budget = 1 << 30 // let it finish
			}
			crashed := false
			j.Fail = func(kept int, _ event.Notice) error {
				if kept >= budget {
					crashed = true
					return errors.New("killed")
				}
				return nil
			}
			l, err := Open(ctx, j, Options{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			run := func() bool {
				var ids []string
				for i := range notices {
					n, err := l.Plan(ctx, testNotice(i))
					if err != nil {
						return false
					}
					ids = append(ids, n.NoticeID)
				}
				if err := l.Approve(ctx, ids...); err != nil {
					return false
				}
				for _, id := range ids {
					_, err := l.Deliver(ctx, id, func(_ context.Context, n event.Notice) (Receipt, error) {
						srv.byID[n.NoticeID]++
						srv.raw++
						return Receipt{MessageID: "<" + n.NoticeID + ">"}, nil
					})
					if err != nil {
						return false
					}
				}
				return true
			}
			done := run()
			resent += l.Stats().Resent
			if done && !crashed {
				break
			}
			crashes++
		}
		if len(srv.byID) != notices {
			t.Fatalf("round %d: %d of %d notices reached the server", round, len(srv.byID), notices)
		}
		dups := srv.raw - notices
		if dups > resent || dups > crashes {
			t.Fatalf("round %d: %d duplicate submissions, but only %d re-sends after %d crashes", round, dups, resent, crashes)
		}
		// Replaying the final journal: every notice sent, none in flight.
		l, _ := Open(ctx, j, Options{})
		for _, n := range l.Notices("inc-1") {
			if n.State != event.NoticeSent {
				t.Fatalf("round %d: notice %s ends %s", round, n.NoticeID, n.State)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{0, 0}, {1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {9, 256 * time.Second}, {10, 5 * time.Minute}, {100, 5 * time.Minute}} {
		if got := Backoff(tc.attempts); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	l := openLedger(t, &MemoryJournal{}, Options{Registerer: reg})
	n, _ := l.Plan(context.Background(), testNotice(5))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if got := testutil.ToFloat64(l.m.notices.WithLabelValues("email", "planned")); got != 1 {
		t.Fatalf("planned email notices = %v after planning %s", got, n.NoticeID)
	}
}
