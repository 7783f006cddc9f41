package runner

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// Alert records the runner produces carry the header originHeader with
// the value originDetector, so that the disposition reader tells them
// from the decisions of analysts and other stages (see the package doc,
// "Dispositions").
const (
	originHeader   = "vigil-origin"
	originDetector = "detector"
)

// partitionWatch is how often the disposition reader looks for
// partitions added to the alerts topic (and retries listing them).
const partitionWatch = 30 * time.Second

// disp is a review decision on an alert: its status, why and by whom.
type disp struct {
	status     event.AlertStatus
	reason, by string
}

// dispItem is a decision with the alert it is about.
type dispItem struct {
	id string
	disp
}

// dispStore keeps the latest decision on each alert read from the alerts
// topic, at most limit of them: beyond, the least recently decided one is
// forgotten. It is safe for concurrent use.
type dispStore struct {
	limit int

	mu    sync.Mutex
	byID  map[string]dispEntry
	queue []dispRef // decision order, oldest first; entries whose seq is stale are skipped
	seq   uint64
}

type dispEntry struct {
	disp
	seq uint64
}

type dispRef struct {
	id  string
	seq uint64
}

func newDispStore(limit int) *dispStore {
	return &dispStore{limit: limit, byID: map[string]dispEntry{}}
}

// put records d as the latest decision on alert id. It reports whether
// that changed what is known, and how many decisions it evicted.
func (s *dispStore) put(id string, d disp) (changed bool, evicted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byID[id]; ok && old.disp == d {
		return false, 0
	}
	s.seq++
	if _, ok := s.byID[id]; !ok {
		for len(s.byID) >= s.limit && len(s.queue) > 0 {
			ref := s.queue[0]
			s.queue = s.queue[1:]
			if e, ok := s.byID[ref.id]; ok && e.seq == ref.seq {
				delete(s.byID, ref.id)
				evicted++
			}
		}
	}
	s.byID[id] = dispEntry{disp: d, seq: s.seq}
	s.queue = append(s.queue, dispRef{id: id, seq: s.seq})
	if len(s.queue) > 2*s.limit+64 { // drop the refs of decisions superseded since
		q := make([]dispRef, 0, len(s.byID))
		for _, ref := range s.queue {
			if e, ok := s.byID[ref.id]; ok && e.seq == ref.seq {
				q = append(q, ref)
			}
		}
		s.queue = q
	}
	return true, evicted
}

// get returns the decision on alert id.
func (s *dispStore) get(id string) (disp, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	return e.disp, ok
}

// lookup appends to dst the decisions on the alerts of ids that are known.
func (s *dispStore) lookup(dst []dispItem, ids []string) []dispItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if e, ok := s.byID[id]; ok {
			dst = append(dst, dispItem{id: id, disp: e.disp})
		}
	}
	return dst
}

// all returns every decision known.
func (s *dispStore) all() []dispItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]dispItem, 0, len(s.byID))
	for id, e := range s.byID {
		out = append(out, dispItem{id: id, disp: e.disp})
	}
	return out
}

// len returns how many decisions are kept.
func (s *dispStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// dispInbox holds the ids of the alerts decided since a partition last
// looked, for the partition's goroutine to apply. Past limit ids it
// holds "everything" instead: the partition then looks at every decision
// known.
type dispInbox struct {
	ch    chan struct{} // signalled when something arrives
	mu    sync.Mutex
	ids   []string
	every bool
}

func newDispInbox() *dispInbox { return &dispInbox{ch: make(chan struct{}, 1)} }

func (b *dispInbox) push(id string, limit int) {
	b.mu.Lock()
	if !b.every {
		if len(b.ids) >= limit {
			b.every, b.ids = true, nil
		} else {
			b.ids = append(b.ids, id)
		}
	}
	b.mu.Unlock()
	select {
	case b.ch <- struct{}{}:
	default:
	}
}

// take empties the inbox.
func (b *dispInbox) take() (ids []string, every bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids, every = b.ids, b.every
	b.ids, b.every = nil, false
	return ids, every
}

// notifyDisposition tells every partition being worked on that the
// decision on alert id is new.
func (r *Runner) notifyDisposition(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.active {
		w.inbox.push(id, r.cfg.MaxDispositions)
	}
}

// readDispositions reads every partition of the alerts topic from the
// first retained record and follows it, outside the consumer group,
// until ctx ends; partitions added to the topic are picked up within
// partitionWatch.
func (r *Runner) readDispositions(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	reading := map[int]bool{}
	wait := time.Second
	for {
		lctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
		parts, err := bus.Partitions(lctx, r.busCfg, r.cfg.AlertsTopic)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.log.Warn("listing the partitions of the alerts topic failed; partitions not read yet wait for the retry",
				"topic", r.cfg.AlertsTopic, "retry_in", wait, "err", err)
		default:
			wait = partitionWatch
			for _, p := range parts {
				if !reading[p] {
					reading[p] = true
					wg.Go(func() { r.readDispositionPartition(ctx, p) })
				}
			}
		}
		t := time.NewTimer(jitter(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err != nil {
			wait = min(wait*2, partitionWatch)
		}
	}
}

// readDispositionPartition follows one partition of the alerts topic,
// reading it again from the next offset after an error.
func (r *Runner) readDispositionPartition(ctx context.Context, partition int) {
	log := r.log.With("topic", r.cfg.AlertsTopic, "partition", partition)
	next := kafka.FirstOffset
	for ctx.Err() == nil {
		rd, err := bus.NewPartitionReader(r.busCfg, r.cfg.AlertsTopic, partition, next, bus.WithLogger(log))
		if err != nil {
			log.Error("reading dispositions from the alerts topic is impossible", "err", err)
			return
		}
		for {
			m, err := rd.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("reading dispositions failed; reading again from the next offset", "offset", next, "err", err)
				}
				break
			}
			next = m.Offset + 1
			r.takeDisposition(log, &m)
		}
		_ = rd.Close()
		t := time.NewTimer(jitter(time.Second))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// takeDisposition reads one record of the alerts topic: a record with a
// status other than open, not produced by a detector, is a decision.
func (r *Runner) takeDisposition(log *slog.Logger, m *kafka.Message) {
	for _, h := range m.Headers {
		if h.Key == originHeader && string(h.Value) == originDetector {
			return // our own output: it only repeats decisions read before
		}
	}
	if len(m.Value) == 0 {
		return // a tombstone
	}
	var a event.Alert
	if err := json.Unmarshal(m.Value, &a); err != nil || a.AlertID == "" {
		if err == nil {
			err = errors.New("alert_id: required")
		}
		r.m.dispInvalid.Inc()
		log.Warn("undecodable alert record skipped by the disposition reader", "offset", m.Offset, "err", err)
		return
	}
	if a.Status == event.AlertOpen {
		return
	}
	if ps := a.StatusProblems(); len(ps) > 0 {
		r.m.dispInvalid.Inc()
		log.Warn("disposition skipped: its status is unusable", "offset", m.Offset, "alert_id", a.AlertID, "problems", ps.Strings())
		return
	}
	r.m.dispRead.Inc()
	changed, evicted := r.disps.put(a.AlertID, disp{status: a.Status, reason: a.StatusReason, by: a.StatusBy})
	if evicted > 0 {
		r.m.evDisp.Add(float64(evicted))
	}
	if changed {
		r.notifyDisposition(a.AlertID)
	}
}

// applyDispositions applies to the partition's alerts in state the
// decisions that arrived since the last call, or every decision known
// when all is set. It runs on the partition's goroutine. While the
// partition replays it does nothing: the end of the replay applies them
// all.
func (w *worker) applyDispositions(all bool) {
	ids, every := w.inbox.take()
	p := w.st.p
	if p == nil || p.Muted() {
		return
	}
	var items []dispItem
	if all || every {
		items = w.r.disps.all()
	} else {
		items = w.r.disps.lookup(nil, ids)
	}
	n := 0
	for _, it := range items {
		st, reason, by, ok := p.Disposition(it.id)
		if !ok || st == it.status && reason == it.reason && by == it.by {
			continue
		}
		if _, err := p.Dispose(it.id, it.status, it.reason, it.by); err != nil {
			w.log.Warn("disposition not applied", "alert_id", it.id, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		w.st.sinceSnap += n // the state changed: snapshot it in time
		w.r.m.dispApplied.Add(float64(n))
		w.log.Debug("dispositions applied", "alerts", n)
	}
}

// reconcile makes the records of a flight agree with the decisions
// known: a record of an alert decided otherwise (an alert raised again
// live after a restore, before its decision reached the partition) takes
// the decision, and so does the alert in state. Records are changed in
// place.
func (w *worker) reconcile(alerts []event.Alert) {
	n := 0
	for i := range alerts {
		a := &alerts[i]
		d, ok := w.r.disps.get(a.AlertID)
		if !ok || a.Status == d.status && a.StatusReason == d.reason && a.StatusBy == d.by {
			continue
		}
		if _, _, _, ok := w.st.p.Disposition(a.AlertID); ok {
			if _, err := w.st.p.Dispose(a.AlertID, d.status, d.reason, d.by); err != nil {
				w.log.Warn("disposition not applied", "alert_id", a.AlertID, "err", err)
				continue
			}
		}
		a.Status, a.StatusReason, a.StatusBy = d.status, d.reason, d.by
		n++
	}
	if n > 0 {
		// Dispose made those alerts pending again, in the state the
		// records now hold: nothing new to produce.
		w.drainBuf = w.st.p.Drain(w.drainBuf[:0])
		clear(w.drainBuf)
		w.st.sinceSnap += n
		w.r.m.dispApplied.Add(float64(n))
	}
}
