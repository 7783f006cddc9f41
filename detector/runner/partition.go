package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// validator decodes events. Records on the bus passed the collector's
// checks; the future-skew check is off, so that an event the collector
// accepted is not refused because of a clock difference between hosts.
var validator = event.Validator{MaxFutureSkew: -1}

// Backoff bounds of the retries of a partition (producing alerts,
// restoring, reading).
const (
	retryMin = 100 * time.Millisecond
	retryMax = 10 * time.Second
)

// partState is what a partition's worker knows that outlives the worker
// when the partition is kept in memory across a rebalance.
type partState struct {
	p *detector.Partition
	// next is the offset after the last record fed (-1 until known),
	// produced the offset before which every record had its alerts
	// produced (-1 until known), committed the group's committed offset
	// (-1 for none).
	next, produced, committed int64
	// snap is the latest snapshot on the state topic (when hasSnap),
	// committed the one the committed offset points at.
	snap, committedPtr pointer
	hasSnap            bool
	snapAt             time.Time // when snap was taken
	sinceSnap          int       // records fed since the last snapshot was taken
	prev               detector.Stats
	bprev              behaviourCounts // the behaviours' stats at the last export
}

// worker runs one assigned partition for one generation.
type worker struct {
	r      *Runner
	gen    *kafka.Generation
	key    partKey
	prefix string // of the partition's records on the state topic
	access bool
	log    *slog.Logger

	st         partState
	replayEnd  int64 // muted while st.next < replayEnd
	replayFrom int64
	assignedAt time.Time
	hwm        int64
	lastTime   time.Time // Kafka timestamp of the newest record fed

	fl           *flight       // alerts in the air, nil when none
	landed       chan *flight  // where the flight lands
	quit         chan struct{} // closed when the partition stops: flights retry no more
	lost         bool          // a flight landed unwritten: nothing after it may be committed
	fedSince     int           // records fed since the last launch
	snapInFlight bool
	snapDone     chan snapResult
	fedAtSnap    int
	snapTried    time.Time
	snapRetryAt  time.Time
	lastCommit   time.Time

	nEvents, nReplayed, nInvalid, nDup int
	suppBuf                            []detector.Suppressed
	inbox                              *dispInbox    // decisions to apply
	drainBuf                           []event.Alert // scratch of reconcile
	events, replayed, invalid, dups    prometheus.Counter

	// Read by the gauge collector and Ready.
	gLag, gGroups, gAlerts, gSnapAt, gRetrySince atomic.Int64
	gReplaying, gRetrying                        atomic.Bool
	gTracked                                     []atomic.Int64 // per behaviour of r.bstats
}

type snapResult struct {
	ptr  pointer
	err  error
	size int
	took time.Duration
	at   time.Time
}

func (r *Runner) newWorker(gen *kafka.Generation, k partKey) *worker {
	w := &worker{
		r: r, gen: gen, key: k, access: k.topic == r.cfg.AccessTopic,
		prefix:     r.cfg.Group + "/" + k.topic + "/" + strconv.Itoa(k.partition),
		log:        r.log.With("topic", k.topic, "partition", k.partition),
		replayEnd:  -1,
		assignedAt: time.Now(),
		hwm:        -1,
		snapDone:   make(chan snapResult, 1),
		landed:     make(chan *flight, 1),
		quit:       make(chan struct{}),
		inbox:      newDispInbox(),
		gTracked:   make([]atomic.Int64, len(r.bstats.names)),
		events:     r.m.events.WithLabelValues(k.topic),
		replayed:   r.m.replayed.WithLabelValues(k.topic),
		invalid:    r.m.invalid.WithLabelValues(k.topic),
		dups:       r.m.duplicates.WithLabelValues(k.topic),
	}
	w.snapTried = w.assignedAt
	w.gSnapAt.Store(w.assignedAt.UnixMilli())
	return w
}

// runPartition is the life of one partition in one generation: restore,
// then feed, produce, snapshot and commit until the generation or the
// runner ends.
func (r *Runner) runPartition(ctx, gctx context.Context, gen *kafka.Generation, k partKey, start int64) {
	w := r.newWorker(gen, k)
	r.register(w)
	keep := false
	defer func() { r.unregister(w, keep) }()
	if !w.restoreRetrying(ctx, gctx) {
		return
	}
	keep = w.run(ctx, gctx, start)
}

// restoreRetrying restores the partition's state, retrying with backoff;
// false means the partition is given up (the generation or the runner
// ended, or a fatal error stopped the runner).
func (w *worker) restoreRetrying(ctx, gctx context.Context) bool {
	backoff := time.Second
	for {
		err := w.restore(ctx)
		if err == nil {
			return true
		}
		if fe, ok := err.(fatalError); ok {
			w.r.fail(fe.error)
			return false
		}
		if ctx.Err() != nil || gctx.Err() != nil {
			return false
		}
		w.log.Warn("restoring the partition's state failed; retrying", "retry_in", backoff, "err", err)
		if !sleep(ctx, gctx, jitter(backoff)) {
			return false
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// fatalError stops the runner.
type fatalError struct{ error }

// restore finds the partition's state: kept in memory from the last
// generation, else the snapshot the committed offset points at, else the
// latest snapshot on the state topic, else empty.
func (w *worker) restore(ctx context.Context) error {
	r := w.r
	rctx, cancel := context.WithTimeout(ctx, r.cfg.RestoreTimeout)
	defer cancel()
	committed, meta, err := r.committed(rctx, w.key)
	if err != nil {
		return err
	}
	if kept := r.takeWarm(w.key); kept != nil {
		if committed >= 0 && committed == kept.st.committed {
			w.st = kept.st
			w.gSnapAt.Store(w.st.snapAt.UnixMilli())
			r.m.restores.WithLabelValues(sourceMemory).Inc()
			w.log.Debug("partition state kept in memory", "offset", w.st.next)
			w.restored(0)
			return nil
		}
	}
	p, bs, err := r.newPartition()
	if err != nil {
		return fatalError{err}
	}
	w.st = partState{p: p, next: -1, produced: -1, committed: committed}
	source := sourceEmpty
	if committed >= 0 {
		var snap snapshot
		found := false
		if ptr, ok := parsePointer(meta); ok {
			w.st.committedPtr = ptr
			if snap, found, err = r.state.read(rctx, w.prefix, ptr); err != nil {
				return err
			}
			if !found {
				w.log.Info("the snapshot the committed offset points at was compacted away; scanning the state topic", "snapshot", ptr.id)
			}
		}
		if !found {
			if snap, found, err = r.state.scan(rctx, w.prefix); err != nil {
				return err
			}
		}
		if found {
			if err := p.Restore(snap.data); err != nil {
				// Restore leaves p empty. Events before the committed
				// offset are not replayed: their correlations are lost,
				// their alerts were produced.
				w.log.Warn("the partition's snapshot could not be restored; starting empty at the committed offset",
					"snapshot", snap.ptr.id, "err", err)
				source = sourceFailed
			} else {
				source = sourceSnapshot
				w.st.next, w.st.snap, w.st.hasSnap, w.st.snapAt = snap.ptr.next, snap.ptr, true, snap.at
				w.gSnapAt.Store(snap.at.UnixMilli())
			}
		}
		if w.st.next < 0 {
			w.st.next = committed
		}
		// A snapshot ahead of the committed offset carries the alerts
		// of the events in between that were not produced yet: they
		// are produced by the first flight.
		w.st.produced = committed
		w.replayEnd = committed
	}
	w.st.prev = p.Stats()
	w.st.bprev = r.bstats.newBehaviourCounts(bs) // Restore resets the counters
	r.m.restores.WithLabelValues(source).Inc()
	if w.st.next >= 0 && w.st.next < w.replayEnd {
		p.SetMuted(true)
		w.replayFrom = w.st.next
		w.gReplaying.Store(true)
		w.log.Info("partition assigned; replaying from its snapshot to the committed offset with output muted",
			"source", source, "from", w.st.next, "to", w.replayEnd)
		return nil
	}
	w.log.Info("partition assigned", "source", source, "offset", w.st.next)
	w.restored(0)
	return nil
}

// restored notes the end of the restore (and replay).
func (w *worker) restored(replayed int) {
	w.r.m.restoreD.Observe(time.Since(w.assignedAt).Seconds())
	if replayed > 0 {
		w.log.Info("partition replayed; live", "events", replayed, "took", time.Since(w.assignedAt).Round(time.Millisecond))
	}
}

// run feeds the partition until the runner or the generation ends. It
// reports whether the partition's state may be kept in memory for the
// next generation.
func (w *worker) run(ctx, gctx context.Context, start int64) bool {
	r := w.r
	var (
		rd      *kafka.Reader
		fcancel context.CancelFunc
		fwg     sync.WaitGroup
		msgs    = make(chan kafka.Message, 1024)
		ferr    = make(chan error, 1)
	)
	open := func() bool {
		from := w.st.next
		if from < 0 {
			from = start
		}
		var err error
		rd, err = bus.NewPartitionReader(r.busCfg, w.key.topic, w.key.partition, from, bus.WithLogger(w.log))
		if err != nil {
			w.log.Error("reading the partition is impossible", "err", err)
			return false
		}
		var fctx context.Context
		fctx, fcancel = context.WithCancel(context.Background())
		fwg.Go(func() {
			for {
				m, err := rd.FetchMessage(fctx)
				if err != nil {
					if fctx.Err() == nil {
						ferr <- err
					}
					return
				}
				select {
				case msgs <- m:
				case <-fctx.Done():
					return
				}
			}
		})
		return true
	}
	closeReader := func() {
		if rd == nil {
			return
		}
		fcancel()
		fwg.Wait()
		_ = rd.Close()
		rd = nil
		for len(msgs) > 0 { // fetched, not fed: read again from st.next
			<-msgs
		}
		select {
		case <-ferr:
		default:
		}
	}
	if !open() {
		return false
	}
	defer closeReader()
	w.applyDispositions(true) // a no-op while replaying: its end does it

	tick := time.NewTicker(tickInterval(r.cfg))
	defer tick.Stop()
	for {
		// Checked first: select picks at random among ready cases, and a
		// stopping partition must not take another batch.
		if ctx.Err() != nil || gctx.Err() != nil {
			closeReader()
			return w.stop(ctx, gctx)
		}
		// While alerts are in flight the partition goes on, up to
		// detect.max_batch events; then it waits for them.
		intake := msgs
		if w.fl != nil && w.fedSince >= r.cfg.MaxBatch {
			intake = nil
		}
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		case err := <-ferr:
			w.log.Warn("reading the partition failed; reading again from the next offset", "offset", w.st.next, "err", err)
			closeReader()
			if sleep(ctx, gctx, jitter(time.Second)) && !open() {
				w.stop(ctx, gctx)
				return false
			}
		case m := <-intake:
			w.feed(&m)
			for n := 1; n < r.cfg.MaxBatch; n++ {
				select {
				case m = <-msgs:
					w.feed(&m)
					continue
				default:
				}
				break
			}
			w.batchDone()
			if w.fl == nil {
				w.launch()
			}
			w.periodic(ctx)
		case fl := <-w.landed:
			w.land(fl)
			if !fl.written {
				continue // only when stopping: the next pass stops
			}
			w.periodic(ctx) // a snapshot is taken between flights
			if w.fl == nil {
				w.launch()
			}
		case res := <-w.snapDone:
			w.snapshotWritten(res)
			w.maybeCommit(ctx, true)
		case <-w.inbox.ch:
			w.applyDispositions(false)
			if w.fl == nil {
				w.launch()
			}
		case <-tick.C:
			if w.fl == nil {
				w.launch()
			}
			w.periodic(ctx)
		}
	}
}

// tickInterval is how often a partition checks its commit and snapshot
// deadlines when no events arrive.
func tickInterval(c Config) time.Duration {
	return max(10*time.Millisecond, min(c.CommitInterval, c.SnapshotInterval, time.Second)/2)
}

// feed gives one record to the detector.
func (w *worker) feed(m *kafka.Message) {
	if w.st.next >= 0 && m.Offset < w.st.next {
		w.nDup++
		return
	}
	muted := w.st.p.Muted()
	if w.access {
		e, probs := validator.DecodeAccess(m.Value)
		if len(probs) > 0 {
			w.bad(m, probs)
		} else {
			w.st.p.Access(m.Offset, &e)
		}
	} else {
		e, probs := validator.DecodeDevice(m.Value)
		if len(probs) > 0 {
			w.bad(m, probs)
		} else {
			w.st.p.Device(m.Offset, &e)
		}
	}
	w.st.next = m.Offset + 1
	w.hwm = m.HighWaterMark
	if !m.Time.IsZero() {
		w.lastTime = m.Time
	}
	w.st.sinceSnap++
	w.fedSince++
	if !muted {
		w.nEvents++
		return
	}
	w.nReplayed++
	if w.st.next >= w.replayEnd {
		w.st.p.SetMuted(false)
		w.gReplaying.Store(false)
		w.restored(int(w.replayEnd - w.replayFrom))
		w.applyDispositions(true)
	}
}

func (w *worker) bad(m *kafka.Message, probs event.Problems) {
	w.nInvalid++
	w.log.Warn("undecodable event skipped", "offset", m.Offset, "problems", probs.Strings())
}

// batchDone exports the batch's counts and logs its suppressed findings.
func (w *worker) batchDone() {
	m := w.r.m
	for _, x := range []struct {
		c prometheus.Counter
		n *int
	}{{w.events, &w.nEvents}, {w.replayed, &w.nReplayed}, {w.invalid, &w.nInvalid}, {w.dups, &w.nDup}} {
		if *x.n > 0 {
			x.c.Add(float64(*x.n))
			*x.n = 0
		}
	}
	cur := w.st.p.Stats()
	m.addStats(w.st.prev, cur)
	if cur.Duplicates > w.st.prev.Duplicates {
		w.dups.Add(float64(cur.Duplicates - w.st.prev.Duplicates))
	}
	w.st.prev = cur
	w.r.bstats.add(&w.st.bprev, w.gTracked)
	w.gGroups.Store(int64(cur.Groups))
	w.gAlerts.Store(int64(cur.Alerts))
	w.suppBuf = w.st.p.DrainSuppressed(w.suppBuf[:0])
	for _, s := range w.suppBuf {
		w.log.Info("finding suppressed by an exception", "rule", s.RuleID, "group_key", s.GroupKey,
			"count", s.Count, "first", s.First, "last", s.Last, "exception", s.Exception,
			"reason", s.Reason, "author", s.Author, "expires", s.Expires)
	}
	clear(w.suppBuf)
}

// flight is a batch of alert records being produced by its own
// goroutine, which retries until the alerts topic acknowledges them or
// the partition stops. One flight at a time per partition: they land in
// order.
type flight struct {
	alerts  []event.Alert
	upTo    int64     // every record before it had its alerts drained into this flight or earlier
	newest  time.Time // Kafka timestamp of the newest record fed
	written bool      // set by the flight before it lands
}

// launch drains the alerts made since the last flight into a new one.
// It is called only with no flight in the air; with nothing to produce,
// every record fed so far counts as produced at once.
func (w *worker) launch() {
	w.fedSince = 0
	if w.st.p.Pending() == 0 {
		w.st.produced = max(w.st.produced, w.st.next)
		return
	}
	fl := &flight{alerts: w.st.p.Drain(nil), upTo: w.st.next, newest: w.lastTime}
	w.reconcile(fl.alerts)
	w.fl = fl
	go w.fly(fl)
}

// origin marks the records the runner produces as its own.
var origin = []kafka.Header{{Key: originHeader, Value: []byte(originDetector)}}

// fly produces a flight's records, retrying with backoff until they are
// acknowledged or the partition stops (w.quit), and lands it. It touches
// no worker state but the gauges.
func (w *worker) fly(fl *flight) {
	r := w.r
	msgs := make([]kafka.Message, 0, len(fl.alerts))
	for i := range fl.alerts {
		a := &fl.alerts[i]
		v, err := json.Marshal(a)
		if err != nil { // impossible for an Alert; keep the partition honest anyway
			w.log.Error("encoding an alert failed; it is not produced", "alert_id", a.AlertID, "err", err)
			continue
		}
		msgs = append(msgs, kafka.Message{Key: []byte(a.GroupKey), Value: v, Headers: origin})
	}
	backoff := retryMin
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(r.killCtx, r.cfg.WriteTimeout)
		err := r.alerts.WriteMessages(actx, msgs...)
		cancel()
		if err == nil {
			fl.written = true
			w.gRetrying.Store(false)
			w.gRetrySince.Store(0)
			w.landed <- fl
			return
		}
		r.m.produceErrors.Inc()
		if !w.gRetrying.Load() {
			w.gRetrying.Store(true)
			w.gRetrySince.Store(time.Now().UnixMilli())
		}
		select {
		case <-w.quit:
		case <-r.killCtx.Done():
		default:
			w.log.Warn("producing alerts failed; retrying, nothing is committed meanwhile",
				"records", len(msgs), "attempt", attempt, "retry_in", backoff, "err", err)
			t := time.NewTimer(jitter(backoff))
			select {
			case <-t.C:
				backoff = min(backoff*2, retryMax)
				continue
			case <-w.quit:
			case <-r.killCtx.Done():
			}
			t.Stop()
		}
		w.log.Warn("producing alerts failed while the partition stops; nothing after them is committed, the next owner produces them again",
			"records", len(msgs), "attempts", attempt, "err", err)
		w.landed <- fl
		return
	}
}

// land takes a flight back: written, every record before its upTo had
// its alerts produced.
func (w *worker) land(fl *flight) {
	w.fl = nil
	if !fl.written {
		w.lost = true
		return
	}
	w.r.m.produced.Add(float64(len(fl.alerts)))
	if !fl.newest.IsZero() {
		w.r.m.latency.Observe(time.Since(fl.newest).Seconds())
	}
	w.st.produced = max(w.st.produced, fl.upTo)
}

// periodic snapshots and commits when they are due.
func (w *worker) periodic(ctx context.Context) {
	now := time.Now()
	if w.snapDue(now) {
		w.startSnapshot(now)
	}
	w.maybeCommit(ctx, false)
	w.gauges()
}

func (w *worker) gauges() {
	if w.hwm >= 0 {
		c := w.st.committed
		if c < 0 {
			c = 0
		}
		w.gLag.Store(max(0, w.hwm-c))
	}
}

// snapDue says whether a snapshot should be taken now: only between
// flights (every alert drained before it is acknowledged; those not
// drained yet are part of the snapshot), never while replaying; when
// enough events or time passed since the last one; and before the first
// commit (a commit always points at a snapshot).
func (w *worker) snapDue(now time.Time) bool {
	c := w.r.cfg
	switch {
	case w.fl != nil || w.lost || w.snapInFlight || w.st.p.Muted() || w.st.next < 0:
		return false
	case now.Before(w.snapRetryAt):
		return false
	case w.st.sinceSnap >= c.SnapshotEvents:
		return true
	case w.st.sinceSnap > 0 && now.Sub(w.snapTried) >= c.SnapshotInterval:
		return true
	default:
		return !w.st.hasSnap && w.st.produced > w.st.committed
	}
}

// startSnapshot takes a snapshot and writes it in the background; the
// partition goes on meanwhile (snapshotWritten takes the result).
func (w *worker) startSnapshot(now time.Time) {
	data, err := w.st.p.Snapshot()
	w.snapTried = now
	if err != nil {
		w.r.m.snapshots.WithLabelValues(resultError).Inc()
		w.snapRetryAt = now.Add(min(5*time.Second, w.r.cfg.SnapshotInterval))
		w.log.Error("taking a snapshot failed", "err", err)
		return
	}
	w.snapInFlight = true
	w.fedAtSnap = w.st.sinceSnap
	next, prev := w.st.next, 0
	if w.st.hasSnap {
		prev = w.st.snap.count
	}
	go func() {
		w.snapDone <- w.writeSnapshot(data, next, prev, now)
	}()
}

func (w *worker) writeSnapshot(data []byte, next int64, prev int, at time.Time) snapResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), w.r.cfg.WriteTimeout)
	defer cancel()
	ptr, err := w.r.state.write(ctx, w.prefix, next, data, prev, at)
	return snapResult{ptr: ptr, err: err, size: len(data), took: time.Since(start), at: at}
}

// snapshotWritten takes the result of a snapshot write.
func (w *worker) snapshotWritten(res snapResult) {
	w.snapInFlight = false
	m := w.r.m
	if res.err != nil {
		m.snapshots.WithLabelValues(resultError).Inc()
		w.snapRetryAt = time.Now().Add(min(5*time.Second, w.r.cfg.SnapshotInterval))
		w.log.Warn("writing a snapshot failed; the previous one stays in use", "err", res.err)
		return
	}
	m.snapshots.WithLabelValues(resultOK).Inc()
	m.snapshotSize.Observe(float64(res.size))
	m.snapshotDuration.Observe(res.took.Seconds())
	w.st.snap, w.st.hasSnap, w.st.snapAt = res.ptr, true, res.at
	w.st.sinceSnap -= w.fedAtSnap
	w.fedAtSnap = 0
	w.gSnapAt.Store(res.at.UnixMilli())
}

// maybeCommit commits the produced offset with the latest snapshot as
// metadata, when it is due (or force) and there is something new. A
// commit always points at a snapshot: none is made before the first one.
// The snapshot may cover events after the committed offset: their alerts
// not yet produced are part of it.
func (w *worker) maybeCommit(ctx context.Context, force bool) {
	st := &w.st
	if !st.hasSnap || st.produced < 0 {
		return
	}
	if st.produced <= st.committed && st.snap == st.committedPtr {
		return
	}
	if !force && time.Since(w.lastCommit) < w.r.cfg.CommitInterval {
		return
	}
	offset := max(st.produced, st.committed)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.r.cfg.WriteTimeout)
	err := w.r.commit(cctx, w.gen, w.key, offset, st.snap)
	cancel()
	w.lastCommit = time.Now()
	if err != nil {
		w.r.m.commits.WithLabelValues(resultError).Inc()
		if staleGeneration(err) {
			w.log.Debug("commit refused: the generation is over", "offset", offset, "err", err)
		} else {
			w.log.Warn("committing the offset failed; retrying at the next commit", "offset", offset, "err", err)
		}
		return
	}
	w.r.m.commits.WithLabelValues(resultOK).Inc()
	st.committed, st.committedPtr = offset, st.snap
	w.gauges()
}

// stop ends the partition: it lets the flight in the air land, produces
// what is left, writes a last snapshot and commits, each bounded by
// detect.write_timeout. It reports whether the state may be kept in
// memory for the next generation (everything went through).
func (w *worker) stop(ctx, gctx context.Context) bool {
	close(w.quit)
	if w.fl != nil {
		w.land(<-w.landed)
	}
	if w.r.killed.Load() {
		if w.snapInFlight {
			<-w.snapDone // the write lands or not; nothing points at it
		}
		return false
	}
	if !w.lost {
		w.launch()
		if w.fl != nil {
			w.land(<-w.landed)
		}
	}
	if w.snapInFlight {
		w.snapshotWritten(<-w.snapDone)
	}
	if !w.lost && !w.st.p.Muted() && w.st.next >= 0 && (w.st.sinceSnap > 0 || !w.st.hasSnap) {
		now := time.Now()
		if data, err := w.st.p.Snapshot(); err != nil {
			w.r.m.snapshots.WithLabelValues(resultError).Inc()
			w.log.Error("taking the last snapshot failed", "err", err)
		} else {
			prev := 0
			if w.st.hasSnap {
				prev = w.st.snap.count
			}
			w.fedAtSnap = w.st.sinceSnap
			w.snapshotWritten(w.writeSnapshot(data, w.st.next, prev, now))
		}
	}
	w.maybeCommit(ctx, true)
	keep := ctx.Err() == nil && !w.lost && !w.st.p.Muted() && w.st.produced == w.st.next &&
		w.st.committed == w.st.produced && w.st.snap == w.st.committedPtr
	w.log.Info("partition released", "offset", w.st.next, "committed", w.st.committed, "kept_in_memory", keep)
	return keep
}

// sleep waits d, or less when ctx or gctx ends; false means it ended.
func sleep(ctx, gctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-gctx.Done():
		return false
	}
}

// jitter returns a duration between d/2 and d, so that instances retrying
// against one broker spread out.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
