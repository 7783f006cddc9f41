package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// ErrClosed is returned by Run on a sink that was shut down or already ran:
// build a new Sink to run again.
var ErrClosed = errors.New("sink: closed (build a new sink to run again)")

// Option changes how New builds a Sink.
type Option func(*Sink)

// WithLogger sends the sink's messages (and its Kafka readers') to l. Nil
// means discard.
func WithLogger(l *slog.Logger) Option { return func(s *Sink) { s.log = l } }

// WithRegisterer registers the sink's metrics with r. Nil means they are
// not registered.
func WithRegisterer(r prometheus.Registerer) Option { return func(s *Sink) { s.reg = r } }

// WithClock makes the sink read the time from now: for Ready, the retrying
// duration and the last-success metric. Nil means time.Now. Batch ages and
// backoff sleeps use real timers.
func WithClock(now func() time.Time) Option { return func(s *Sink) { s.now = now } }

// Sink moves records from Kafka into a store.Writer at least once: it reads
// every configured topic in one consumer group, collects records into a
// batch until it has sink.batch_size of them or the first is sink.batch_age
// old, writes the batch, and commits the offsets of its records only after
// the writer returned nil. See the package doc.
type Sink struct {
	cfg    Config
	busCfg bus.Config
	w      store.Writer
	log    *slog.Logger
	reg    prometheus.Registerer
	now    func() time.Time
	m      *metrics

	mu       sync.Mutex
	started  bool
	closed   bool
	cancel   context.CancelFunc
	done     chan struct{} // closed when Run returns
	runErr   error         // what Run returned, for Ready
	retrying time.Time     // when the batch being retried first failed; zero when not retrying
	retryN   int           // records in that batch
	lastErr  error         // the last write error while retrying
}

// New returns a sink that reads the topics of cfg from the brokers of
// busCfg and writes them to w. It checks both configurations and connects
// to nothing: Run does. The sink does not close w.
func New(cfg Config, busCfg bus.Config, w store.Writer, opts ...Option) (*Sink, error) {
	if w == nil {
		return nil, errors.New("new sink: the store writer is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new sink: %w", err)
	}
	if err := busCfg.Validate(); err != nil {
		return nil, fmt.Errorf("new sink: %w", err)
	}
	s := &Sink{cfg: cfg.withDefaults(), busCfg: busCfg, w: w, done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.m = newMetrics(s.reg)
	return s, nil
}

// Ready reports whether the sink is healthy: nil unless it has been
// retrying a batch the store refused for more than sink.unready_after, or
// Run ended with an error.
func (s *Sink) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runErr != nil {
		return fmt.Errorf("sink stopped: %w", s.runErr)
	}
	if !s.retrying.IsZero() {
		if d := s.now().Sub(s.retrying); d > s.cfg.UnreadyAfter {
			return fmt.Errorf("sink: the store has refused a batch of %d records for %s: %w", s.retryN, d.Round(time.Second), s.lastErr)
		}
	}
	return nil
}

// Shutdown stops Run and waits until it returned, or until ctx ends. A
// batch being written when it is called is written and committed, or
// neither (see the package doc). It is safe without Run, safe to call more
// than once and concurrently, and a Run after it returns ErrClosed.
func (s *Sink) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	started, cancel := s.started, s.cancel
	s.mu.Unlock()
	if !started {
		return nil
	}
	if cancel != nil {
		cancel()
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sink shutdown: %w", ctx.Err())
	}
}

// fetched is one record and the index of the reader it came from.
type fetched struct {
	r int
	m kafka.Message
}

// partKey names one partition of one reader's topic.
type partKey struct {
	r, p int
}

// partState is what the sink knows of one partition, for the lag metric.
type partState struct {
	hwm       int64 // high watermark at the last fetch
	committed int64 // next offset after the last committed record
	next      int64 // next offset after the last record taken into a batch
}

// readerCloseTimeout bounds how long Run waits for its readers to leave
// the consumer group when it stops.
var readerCloseTimeout = 5 * time.Second

// Run reads, batches, writes and commits until ctx ends or Shutdown is
// called, then returns nil. It returns an error when it cannot go on: a
// reader could not be built or failed, or a record could not be decoded
// with sink.on_invalid: stop. A store that refuses a batch is not an
// error: the batch is retried until it goes through or the sink stops.
// Run may be called once.
func (s *Sink) Run(ctx context.Context) (err error) {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.started = true
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		cancel()
		s.mu.Lock()
		s.runErr = err
		s.mu.Unlock()
		close(s.done)
	}()

	readers := make([]*kafka.Reader, 0, len(s.cfg.Topics))
	kinds := make([]kind, 0, len(s.cfg.Topics))
	defer func() {
		// Close sends the commits still queued and leaves the group. A
		// reader stopped in the middle of joining the group can block in
		// Close until the broker ends the join (up to the rebalance
		// timeout), so the readers close in parallel and Run waits at most
		// readerCloseTimeout: what was not committed is read again by the
		// next member (at least once; the store deduplicates).
		errc := make(chan error, len(readers))
		for _, r := range readers {
			go func() {
				if cerr := r.Close(); cerr != nil {
					errc <- fmt.Errorf("close reader of %s: %w", r.Config().Topic, cerr)
					return
				}
				errc <- nil
			}()
		}
		var errs []error
		timeout := time.NewTimer(readerCloseTimeout)
		defer timeout.Stop()
	wait:
		for range readers {
			select {
			case cerr := <-errc:
				if cerr != nil {
					errs = append(errs, cerr)
				}
			case <-timeout.C:
				errs = append(errs, fmt.Errorf("readers did not leave group %s within %s", s.cfg.Group, readerCloseTimeout))
				break wait
			}
		}
		if cerr := errors.Join(errs...); cerr != nil {
			s.log.Warn("sink readers closed with errors; uncommitted records will be read again", "err", cerr)
			if err == nil {
				err = cerr
			}
		}
	}()
	for _, t := range s.cfg.Topics {
		r, rerr := bus.NewGroupReader(s.busCfg, s.cfg.Group, t, bus.WithLogger(s.log))
		if rerr != nil {
			return fmt.Errorf("sink: %w", rerr)
		}
		readers = append(readers, r)
		kinds = append(kinds, kindOf(t))
	}
	s.log.Info("sink started", "group", s.cfg.Group, "topics", s.cfg.Topics,
		"batch_size", s.cfg.BatchSize, "batch_age", s.cfg.BatchAge)

	// One goroutine per reader fetches; the loop below is the only one to
	// touch the batch, the writer and the commits.
	fctx, fcancel := context.WithCancel(ctx)
	in := make(chan fetched, 4096)
	errc := make(chan error, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			for {
				m, ferr := r.FetchMessage(fctx)
				if ferr != nil {
					if fctx.Err() == nil {
						errc <- fmt.Errorf("sink: fetch from %s in group %s: %w", r.Config().Topic, s.cfg.Group, ferr)
					}
					return
				}
				select {
				case in <- fetched{i, m}:
				case <-fctx.Done():
					return
				}
			}
		})
	}
	defer func() {
		fcancel()
		wg.Wait()
	}()

	age := time.NewTimer(time.Hour)
	age.Stop()
	defer age.Stop()
	l := loop{s: s, readers: readers, kinds: kinds, parts: map[partKey]*partState{}, age: age}
	l.reset()
	// end waits for the batch in flight (stopping its retries) and commits
	// it if it was written, before Run returns an error.
	end := func(err error) error {
		cancel()
		if ferr := l.land(ctx); ferr != nil {
			s.log.Warn("sink stopping on an error: the batch in flight was written but its commit failed; it will be read again", "err", ferr)
		}
		return err
	}
	for {
		// Checked first: select picks at random among ready cases, and a
		// stopped sink must not start another batch.
		if ctx.Err() != nil {
			return l.stop(ctx)
		}
		// A full batch takes nothing more until the one in flight has
		// landed: at most two batches are held.
		intake := in
		if l.batch.Len() >= s.cfg.BatchSize {
			intake = nil
		}
		var landed chan bool
		if l.fl != nil {
			landed = l.fl.done
		}
		select {
		case <-ctx.Done():
			return l.stop(ctx)
		case ferr := <-errc:
			return end(ferr)
		case written := <-landed:
			if err := l.landed(ctx, written); err != nil {
				return end(err)
			}
			if l.due || l.batch.Len() >= s.cfg.BatchSize {
				l.launch(ctx)
			}
		case f := <-intake:
			if l.batch.Len() == 0 {
				age.Reset(s.cfg.BatchAge)
			}
			if aerr := l.add(f); aerr != nil {
				return end(aerr)
			}
			if l.batch.Len() >= s.cfg.BatchSize {
				age.Stop()
				if l.fl == nil {
					l.launch(ctx)
				}
			}
		case <-age.C:
			if l.fl == nil {
				l.launch(ctx)
			} else {
				l.due = true // written as soon as the batch in flight has landed
			}
		}
	}
}

// loop is the state of Run's batching loop. The loop fills a batch while
// the previous one, handed to a flight goroutine, is written; it commits a
// batch's offsets itself once the flight reports it written, and launches
// the next flight only then, so batches are written and committed one at a
// time, in the order their records were read.
type loop struct {
	s       *Sink
	readers []*kafka.Reader
	kinds   []kind
	parts   map[partKey]*partState
	age     *time.Timer // the age bound of the batch being filled

	batch store.Batch
	last  map[partKey]kafka.Message // the last record of each partition in the batch

	fl    *flight // the batch being written, or nil
	due   bool    // the batch reached its age while another was in flight
	stuck bool    // a flight ended unwritten (the sink stopped while the store refused it): nothing after it may be committed
}

// flight is a batch being written by its own goroutine, which retries it
// until the store takes it or the sink stops, then sends on done whether it
// was written.
type flight struct {
	batch store.Batch
	last  map[partKey]kafka.Message
	done  chan bool
}

// reset starts a new batch, sized like the last one. The slices are new:
// a Writer may keep what it was given.
func (l *loop) reset() {
	p := &l.batch
	l.batch = store.Batch{
		Access:      make([]event.AccessEvent, 0, len(p.Access)),
		Device:      make([]event.DeviceEvent, 0, len(p.Device)),
		DeadLetters: make([]event.DeadLetter, 0, len(p.DeadLetters)),
		Alerts:      make([]store.Versioned[event.Alert], 0, len(p.Alerts)),
		Incidents:   make([]store.Versioned[event.Incident], 0, len(p.Incidents)),
		Notices:     make([]store.Versioned[event.Notice], 0, len(p.Notices)),
	}
	l.last = map[partKey]kafka.Message{}
	l.setPending()
}

// setPending sets the pending gauge: records read and not yet written, in
// flight or in the batch being filled.
func (l *loop) setPending() {
	n := l.batch.Len()
	if l.fl != nil {
		n += l.fl.batch.Len()
	}
	l.s.m.pending.Set(float64(n))
}

// add decodes f into the batch; an undecodable record becomes a dead letter
// or, with sink.on_invalid: stop, the error Run returns.
func (l *loop) add(f fetched) error {
	m := &f.m
	key := partKey{f.r, m.Partition}
	ps := l.parts[key]
	if ps == nil {
		ps = &partState{committed: m.Offset, next: m.Offset}
		l.parts[key] = ps
	}
	ps.hwm = m.HighWaterMark
	if m.Offset < ps.next {
		// A rebalance restarted the partition from its committed offset:
		// this record is already in the batch or written. Taking it again
		// would only make a duplicate row.
		l.s.m.redelivered.Inc()
		return nil
	}
	ps.next = m.Offset + 1
	k := l.kinds[f.r]
	if bad := add(&l.batch, k, m); bad != nil {
		l.s.m.invalidVec.WithLabelValues(m.Topic).Inc()
		if l.s.cfg.OnInvalid == OnInvalidStop {
			l.s.log.Error("undecodable record; stopping (sink.on_invalid: stop)", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "problems", bad.Problems)
			return fmt.Errorf("sink: %w", bad)
		}
		l.s.log.Warn("undecodable record stored as a dead letter", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "problems", bad.Problems)
		l.batch.DeadLetters = append(l.batch.DeadLetters, deadLetter(k, m, bad, l.s.now()))
	}
	l.last[key] = f.m
	l.setPending()
	return nil
}

// launch hands the batch to a flight and starts a new one. It is called
// only when no flight is in progress.
func (l *loop) launch(ctx context.Context) {
	l.age.Stop()
	l.due = false
	if l.batch.Len() == 0 {
		return
	}
	fl := &flight{batch: l.batch, last: l.last, done: make(chan bool, 1)}
	l.fl = fl
	l.reset()
	go func() { fl.done <- l.s.writeRetrying(ctx, &fl.batch) }()
}

// landed takes the result of the flight in progress: a written batch is
// committed; an unwritten one (the sink stopped while the store refused
// it) makes the loop stuck. It returns an error only when committing
// failed.
func (l *loop) landed(ctx context.Context, written bool) error {
	fl := l.fl
	l.fl = nil
	l.setPending()
	if !written {
		l.stuck = true
		return nil
	}
	if err := l.commit(ctx, fl.last); err != nil {
		return err
	}
	l.s.setRetrying(0, nil)
	return nil
}

// land waits for the flight in progress, if any, and takes its result.
// The flight ends after its current attempt once ctx is done.
func (l *loop) land(ctx context.Context) error {
	if l.fl == nil {
		return nil
	}
	return l.landed(ctx, <-l.fl.done)
}

// writeRetrying writes b, retrying with backoff until the store takes it or
// ctx ends, and reports whether it was written. It is the body of a
// flight: it touches no loop state.
func (s *Sink) writeRetrying(ctx context.Context, b *store.Batch) bool {
	backoff := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := s.write(ctx, b)
		if err == nil {
			return true
		}
		s.setRetrying(b.Len(), err)
		if ctx.Err() != nil {
			s.log.Warn("sink stopped while the store refused a batch; nothing of it was committed, it will be read again",
				"records", b.Len(), "attempts", attempt, "err", err)
			return false
		}
		s.log.Warn("the store refused a batch; retrying the same batch, nothing is committed meanwhile",
			"records", b.Len(), "attempt", attempt, "retry_in", backoff, "err", err)
		t := time.NewTimer(jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			s.log.Warn("sink stopped while retrying a batch; nothing of it was committed, it will be read again",
				"records", b.Len(), "attempts", attempt)
			return false
		case <-t.C:
		}
		backoff = min(backoff*2, s.cfg.RetryMax)
	}
}

// write makes one attempt to write b. The attempt is not cut short by ctx
// (a stop waits for it, up to sink.write_timeout), so that a batch in
// flight ends written and committed, or neither.
func (s *Sink) write(ctx context.Context, b *store.Batch) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
	defer cancel()
	start := time.Now()
	err := s.w.Write(wctx, b)
	s.m.writeDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.batchesErr.Inc()
		return fmt.Errorf("write %d records: %w", b.Len(), err)
	}
	s.m.batchesOK.Inc()
	for t, n := range map[string]int{
		tableAccess: len(b.Access), tableDevice: len(b.Device), tableDeadLetters: len(b.DeadLetters),
		tableAlerts: len(b.Alerts), tableIncidents: len(b.Incidents), tableNotices: len(b.Notices),
	} {
		if n > 0 {
			s.m.rows[t].Add(float64(n))
		}
	}
	return nil
}

// commit hands the offsets of a written batch to the readers: last, the
// last record of each partition in it, which commits every record before
// it. The readers send them to Kafka every bus.reader.commit_interval and
// when they close.
func (l *loop) commit(ctx context.Context, last map[partKey]kafka.Message) error {
	s := l.s
	byReader := make([][]kafka.Message, len(l.readers))
	for k, m := range last {
		byReader[k.r] = append(byReader[k.r], m)
	}
	// Queuing a commit is quick, except during a rebalance; a stop does not
	// cut it short, so that a written batch is also committed.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
	defer cancel()
	for i, msgs := range byReader {
		if len(msgs) == 0 {
			continue
		}
		if err := l.readers[i].CommitMessages(cctx, msgs...); err != nil {
			return fmt.Errorf("sink: commit %d partitions of %s after a successful write: %w", len(msgs), l.readers[i].Config().Topic, err)
		}
	}
	for k, m := range last {
		l.parts[k].committed = m.Offset + 1
	}
	l.updateLag()
	s.m.lastSuccess.Set(float64(s.now().UnixNano()) / 1e9)
	return nil
}

// updateLag sets the lag gauge of every topic from what the loop knows of
// its partitions.
func (l *loop) updateLag() {
	lag := make([]int64, len(l.readers))
	seen := make([]bool, len(l.readers))
	for k, ps := range l.parts {
		if d := ps.hwm - ps.committed; d > 0 {
			lag[k.r] += d
		}
		seen[k.r] = true
	}
	for i, r := range l.readers {
		if seen[i] {
			l.s.m.lagVec.WithLabelValues(r.Config().Topic).Set(float64(lag[i]))
		}
	}
}

// stop ends Run: the batch in flight runs to the end of its current attempt
// and is committed if written; then the batch being filled gets one last
// attempt (written and committed, or neither), unless a batch before it was
// left uncommitted (the store kept refusing it): committing this one would
// commit that one's records too.
func (l *loop) stop(ctx context.Context) error {
	s := l.s
	if err := l.land(ctx); err != nil {
		return err
	}
	if n := l.batch.Len(); n > 0 {
		if l.stuck {
			s.log.Warn("sink stopping: the batch read after the one the store refused is not written either; it will be read again", "records", n)
		} else {
			if err := s.write(ctx, &l.batch); err != nil {
				s.log.Warn("sink stopping: the last batch was not written, nothing of it was committed; it will be read again", "records", n, "err", err)
				return nil
			}
			if err := l.commit(ctx, l.last); err != nil {
				return err
			}
			s.log.Info("sink stopping: last batch written and committed", "records", n)
		}
	}
	s.log.Info("sink stopped")
	return nil
}

func (s *Sink) setRetrying(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.retrying, s.retryN, s.lastErr = time.Time{}, 0, nil
		s.m.retrying.Set(0)
		return
	}
	if s.retrying.IsZero() {
		s.retrying = s.now()
	}
	s.retryN, s.lastErr = n, err
	s.m.retrying.Set(1)
}

// jitter returns a duration between d/2 and d, so that instances retrying
// against one store spread out.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
