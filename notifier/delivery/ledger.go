package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/internal/event"
)

// Errors callers branch on.
var (
	// ErrUnknownNotice: the id was never planned. Plan it first.
	ErrUnknownNotice = errors.New("delivery: unknown notice")
	// ErrNotApproved: the notice is planned but not approved; approval by
	// the role the obligation names comes first.
	ErrNotApproved = errors.New("delivery: notice not approved")
	// ErrInFlight: another Deliver of the same notice is running; do not
	// start a second one.
	ErrInFlight = errors.New("delivery: notice is being delivered")
	// ErrFinal: the notice failed permanently or was skipped; it is not
	// sent again without a new decision (Reopen).
	ErrFinal = errors.New("delivery: notice is final")
)

// SendFunc delivers one notice, with the notice id as the channel's
// idempotency key, and says how it went out.
type SendFunc func(ctx context.Context, n event.Notice) (Receipt, error)

// Receipt is what a channel said when it accepted a notice.
type Receipt struct {
	// MessageID is the channel's id of the message (the SMTP Message-ID,
	// the provider's id, the outbox file name).
	MessageID string
	// Channel is the channel that delivered it, when a fallback chose
	// another than the notice's planned one; empty means the planned one.
	Channel event.Channel
}

// Options tune a Ledger. The zero value is usable.
type Options struct {
	// MaxAttempts is how many deliveries a notice gets before it is failed.
	// Zero means 8.
	MaxAttempts int
	// IsPermanent tells a failure that retrying cannot fix (an invalid
	// address, a rejected template). Nil: every failure is retryable.
	IsPermanent func(error) bool
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger logs state changes (notice ids, never contacts). Nil discards.
	Logger *slog.Logger
	// Registerer registers the metrics. Nil: not registered.
	Registerer prometheus.Registerer
}

// Stats counts what a Ledger did since it opened.
type Stats struct {
	Replayed int // records read from the journal on open
	Notices  int // distinct notices known
	Resent   int // deliveries of notices found in flight after a restart
}

// Ledger holds the latest state of every notice and records each change in
// its Journal before acting on it (see the package doc).
type Ledger struct {
	j    Journal
	opts Options
	m    *metrics

	mu       sync.Mutex
	notices  map[string]event.Notice
	inFlight map[string]bool
	orphans  map[string]bool // "sending" at replay: in flight when the process stopped
	stats    Stats
}

// Open replays j into a new Ledger.
func Open(ctx context.Context, j Journal, opts Options) (*Ledger, error) {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IsPermanent == nil {
		opts.IsPermanent = func(error) bool { return false }
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	l := &Ledger{j: j, opts: opts, m: m, notices: map[string]event.Notice{},
		inFlight: map[string]bool{}, orphans: map[string]bool{}}
	err = j.Replay(ctx, func(n event.Notice) error {
		l.stats.Replayed++
		l.notices[n.NoticeID] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: replaying the notice journal: %w", err)
	}
	for id, n := range l.notices {
		if n.State == event.NoticeSending {
			l.orphans[id] = true
		}
	}
	l.stats.Notices = len(l.notices)
	if len(l.orphans) > 0 {
		l.opts.Logger.Warn("notices were in flight when the notifier stopped; they will be sent again with the same notice id",
			"count", len(l.orphans))
	}
	return l, nil
}

// Get returns the latest state of a notice.
func (l *Ledger) Get(id string) (event.Notice, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.notices[id]
	return n, ok
}

// Notices returns every notice of an incident ("" for all), by notice id.
func (l *Ledger) Notices(incidentID string) []event.Notice {
	l.mu.Lock()
	out := make([]event.Notice, 0, len(l.notices))
	for _, n := range l.notices {
		if incidentID == "" || n.IncidentID == incidentID {
			out = append(out, n)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b event.Notice) int {
		if a.NoticeID < b.NoticeID {
			return -1
		}
		if a.NoticeID > b.NoticeID {
			return 1
		}
		return 0
	})
	return out
}

// Stats returns what the ledger did since it opened.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Notices = len(l.notices)
	return s
}

// Plan records n as planned, with its id computed from its incident,
// recipient and obligation. A notice already known is returned as it is
// (whatever its state), so planning is idempotent.
func (l *Ledger) Plan(ctx context.Context, n event.Notice) (event.Notice, error) {
	if n.IncidentID == "" || n.RecipientToken == "" || n.Obligation == "" {
		return n, fmt.Errorf("delivery: plan: a notice needs an incident id, a recipient token and an obligation")
	}
	if !n.Channel.Valid() {
		return n, fmt.Errorf("delivery: plan: unknown channel %q", n.Channel)
	}
	id := event.NoticeID(n.IncidentID, n.RecipientToken, n.Obligation)
	if n.NoticeID != "" && n.NoticeID != id {
		return n, fmt.Errorf("delivery: plan: notice id %s is not the id of its incident, recipient and obligation (%s)", n.NoticeID, id)
	}
	n.NoticeID = id
	l.mu.Lock()
	if old, ok := l.notices[id]; ok {
		l.mu.Unlock()
		return old, nil
	}
	l.mu.Unlock()
	n.State, n.Attempts, n.SentAt, n.MessageID, n.LastError = event.NoticePlanned, 0, event.Timestamp{}, "", ""
	return n, l.record(ctx, n)
}

// Approve moves planned notices to approved. Notices already approved or
// further along are left as they are.
func (l *Ledger) Approve(ctx context.Context, ids ...string) error {
	var changed []event.Notice
	l.mu.Lock()
	for _, id := range ids {
		n, ok := l.notices[id]
		if !ok {
			l.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrUnknownNotice, id)
		}
		if n.State == event.NoticePlanned {
			n.State = event.NoticeApproved
			changed = append(changed, n)
		}
	}
	l.mu.Unlock()
	return l.record(ctx, changed...)
}

// Skip records that a notice is not needed, with the reason.
func (l *Ledger) Skip(ctx context.Context, id, reason string) error {
	l.mu.Lock()
	n, ok := l.notices[id]
	busy := l.inFlight[id]
	l.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrUnknownNotice, id)
	case busy:
		return fmt.Errorf("%w: %s", ErrInFlight, id)
	case n.State == event.NoticeSent || n.State == event.NoticeSkipped:
		return nil
	}
	n.State, n.LastError = event.NoticeSkipped, reason
	return l.record(ctx, n)
}

// Deliver sends an approved notice once: it records "sending", calls send,
// and records the outcome. A notice already sent (or skipped) is returned
// without calling send. After a retryable failure the notice is approved
// again with LastError set and the error is returned; the caller retries
// later. The outcome is recorded even when ctx ends during send.
func (l *Ledger) Deliver(ctx context.Context, id string, send SendFunc) (event.Notice, error) {
	l.mu.Lock()
	n, ok := l.notices[id]
	switch {
	case !ok:
		l.mu.Unlock()
		return n, fmt.Errorf("%w: %s", ErrUnknownNotice, id)
	case n.State == event.NoticeSent || n.State == event.NoticeSkipped:
		l.mu.Unlock()
		return n, nil
	case n.State == event.NoticeFailed:
		l.mu.Unlock()
		return n, fmt.Errorf("%w: %s failed after %d attempts: %s", ErrFinal, id, n.Attempts, n.LastError)
	case n.State == event.NoticePlanned:
		l.mu.Unlock()
		return n, fmt.Errorf("%w: %s", ErrNotApproved, id)
	case l.inFlight[id]:
		l.mu.Unlock()
		return n, fmt.Errorf("%w: %s", ErrInFlight, id)
	}
	l.inFlight[id] = true
	orphan := l.orphans[id]
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.inFlight, id)
		l.mu.Unlock()
	}()

	n.State = event.NoticeSending
	n.Attempts++
	if err := l.record(ctx, n); err != nil {
		return n, err
	}
	if orphan {
		l.mu.Lock()
		delete(l.orphans, id)
		l.stats.Resent++
		l.mu.Unlock()
		l.m.resends.Inc()
	}

	rcpt, sendErr := send(ctx, n)
	// The outcome must be recorded whatever happened to ctx: a sent notice
	// left "sending" would be sent again after a restart.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if sendErr == nil {
		n.State, n.SentAt, n.MessageID, n.LastError = event.NoticeSent, event.NewTimestamp(l.opts.Now()), rcpt.MessageID, ""
		n.Channel = cmp.Or(rcpt.Channel, n.Channel)
		return n, l.record(rctx, n)
	}
	n.LastError = sendErr.Error()
	if l.opts.IsPermanent(sendErr) || n.Attempts >= l.opts.MaxAttempts {
		n.State = event.NoticeFailed
	} else {
		n.State = event.NoticeApproved
		l.m.count(n.Channel, "retry")
	}
	if err := l.record(rctx, n); err != nil {
		return n, errors.Join(fmt.Errorf("delivery: notice %s: %w", id, sendErr), err)
	}
	return n, fmt.Errorf("delivery: notice %s attempt %d: %w", id, n.Attempts, sendErr)
}

// Backoff is how long to wait before attempt number attempts+1 of a notice
// that failed: 1 s, 2 s, 4 s … up to 5 minutes.
func Backoff(attempts int) time.Duration {
	if attempts < 1 {
		return 0
	}
	d := time.Second << min(attempts-1, 9)
	return min(d, 5*time.Minute)
}

// record makes ns durable, then applies them.
func (l *Ledger) record(ctx context.Context, ns ...event.Notice) error {
	if len(ns) == 0 {
		return nil
	}
	if err := l.j.Append(ctx, ns...); err != nil {
		return fmt.Errorf("delivery: recording %d notice state(s): %w", len(ns), err)
	}
	l.mu.Lock()
	for _, n := range ns {
		l.notices[n.NoticeID] = n
	}
	l.mu.Unlock()
	for _, n := range ns {
		l.m.count(n.Channel, string(n.State))
		l.opts.Logger.Debug("notice state recorded", "notice_id", n.NoticeID, "state", n.State,
			"channel", n.Channel, "attempts", n.Attempts)
	}
	return nil
}
