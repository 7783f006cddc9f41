package detector

import (
	"fmt"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// maxSuppressedRecords bounds the Suppressed records kept between two
// DrainSuppressed calls; findings past it are still suppressed and
// counted in Stats.Suppressed, only not reported one by one.
const maxSuppressedRecords = 10_000

// evid is one piece of evidence: an event id with its time and feed
// sequence, which order evidence earliest first.
type evid struct {
	t   int64
	seq uint64
	id  string
}

func (e evid) before(o evid) bool { return e.t < o.t || e.t == o.t && e.seq < o.seq }

// explanation is an alert's explanation, rendered only when output: a
// fixed text, or a correlation's aggregate.
type explanation struct {
	text string
	cs   *corrState
	x    float64
	n    int64
}

func (e explanation) String() string {
	if e.cs != nil {
		return e.cs.explain(e.x, e.n)
	}
	return e.text
}

// hit is a finding on its way to the emitter. Its slices are scratch
// space: the emitter copies what it keeps.
type hit struct {
	rule               *ruleRT
	key                []byte
	org, actor, device string
	start, end         int64 // unix ms
	// count is the number of events the finding adds: for a correlation
	// the events of its window not reported by an earlier finding.
	count    int64
	sev      event.Severity
	subjects []string
	cats     uint16
	ev       []evid
	expl     explanation
}

// slot holds the alerts of one rule and group key, newest window first.
type slot struct {
	key    string
	alerts []*alert
}

// alert is the state of one alert.
type alert struct {
	id                 string
	rule               *ruleRT
	slot               *slot
	org, actor, device string
	sev                event.Severity
	status             event.AlertStatus
	reason, by         string
	winStart           int64
	first, last        int64
	count              int64
	subjects           map[string]struct{}
	subjOver           int64
	cats               uint16
	ev                 []evid
	expl               explanation
	prev, next         *alert // recency list, most recent first
	pending            bool   // changed since the last Drain
	live               bool   // in state (not forgotten)
}

// expiry is when the watermark forgets the alert: after its suppression
// window and after the last correlation window that could still overlap
// it.
func (a *alert) expiry() int64 {
	return max(a.winStart+a.rule.supp, a.last+1+a.rule.span)
}

// folds reports whether finding h updates a instead of opening an alert:
// its start lies within the suppression window around a's window start,
// or its events overlap a's window.
func (a *alert) folds(h *hit) bool {
	s := a.rule.supp
	if h.start > a.winStart-s && h.start < a.winStart+s {
		return true
	}
	return h.start <= a.last && h.end >= a.winStart
}

// disposition is a review decision for an alert.
type disposition struct {
	status     event.AlertStatus
	reason, by string
}

// alertState is the emitter's state.
type alertState struct {
	byID       map[string]*alert
	head, tail *alert
	n          int
	pending    []*alert
	supp       []Suppressed
	suppIdx    map[suppKey]int
	disp       map[string]disposition // for alerts not in state, by id
	dispQ      []string               // their ids, oldest first
}

type suppKey struct {
	exc, rule int
	key       string
}

func (s *alertState) init() {
	s.byID = map[string]*alert{}
	s.suppIdx = map[suppKey]int{}
	s.disp = map[string]disposition{}
}

func (s *alertState) discardPending() {
	for _, a := range s.pending {
		a.pending = false
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	clear(s.supp)
	s.supp = s.supp[:0]
	clear(s.suppIdx)
}

func (s *alertState) pushFront(a *alert) {
	a.prev, a.next = nil, s.head
	if s.head != nil {
		s.head.prev = a
	} else {
		s.tail = a
	}
	s.head = a
}

func (s *alertState) unlink(a *alert) {
	if a.prev != nil {
		a.prev.next = a.next
	} else {
		s.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	} else {
		s.tail = a.prev
	}
	a.prev, a.next = nil, nil
}

func (s *alertState) touch(a *alert) {
	if s.head != a {
		s.unlink(a)
		s.pushFront(a)
	}
}

// remove forgets a. A pending record of a is still drained.
func (s *alertState) remove(a *alert) {
	s.unlink(a)
	sl := a.slot
	for i, b := range sl.alerts {
		if b == a {
			sl.alerts = slices.Delete(sl.alerts, i, i+1)
			break
		}
	}
	if len(sl.alerts) == 0 {
		delete(a.rule.alerts, sl.key)
	}
	delete(s.byID, a.id)
	a.live = false
	s.n--
}

// sweep forgets the least recently updated alerts whose expiry the
// watermark passed. An expired alert behind a live one stays until it
// reaches the end of the list, but no finding folds into it any more.
func (s *alertState) sweep(p *Partition) {
	for s.tail != nil && p.wm >= s.tail.expiry() {
		s.remove(s.tail)
		p.stats.AlertsExpired++
	}
}

func (p *Partition) markPending(a *alert) {
	if p.muted || a.pending {
		return
	}
	a.pending = true
	p.alerts.pending = append(p.alerts.pending, a)
}

// fold turns a finding into an alert: it opens one or updates the alert
// it folds into, unless an exception suppresses it.
func (p *Partition) fold(h *hit) {
	p.stats.Findings++
	if h.count < 0 {
		h.count = 0
	}
	for _, x := range h.rule.excs {
		if x.matches(h, p.cur) {
			p.stats.Suppressed++
			p.suppress(x, h)
			return
		}
	}
	s := &p.alerts
	sl := h.rule.alerts[string(h.key)]
	if sl != nil {
		for i := 0; i < len(sl.alerts); {
			a := sl.alerts[i]
			if p.wm >= a.expiry() {
				s.remove(a)
				p.stats.AlertsExpired++
				if len(sl.alerts) == 0 {
					sl = nil
					break
				}
				continue
			}
			i++
		}
	}
	if sl != nil {
		for _, a := range sl.alerts {
			if a.folds(h) {
				p.update(a, h)
				p.stats.AlertsUpdated++
				return
			}
		}
	}
	p.open(sl, h)
}

func (p *Partition) open(sl *slot, h *hit) {
	s := &p.alerts
	for s.n >= p.opts.MaxAlerts && s.tail != nil {
		s.remove(s.tail)
		p.stats.AlertEvictions++
	}
	if sl == nil {
		sl = &slot{key: string(h.key)}
		h.rule.alerts[sl.key] = sl
	}
	a := &alert{
		id:       event.AlertID(h.rule.id, sl.key, time.UnixMilli(h.start)),
		rule:     h.rule,
		slot:     sl,
		org:      h.org,
		actor:    h.actor,
		device:   h.device,
		sev:      h.sev,
		status:   event.AlertOpen,
		winStart: h.start,
		first:    h.start,
		last:     h.end,
		live:     true,
	}
	if d, ok := s.disp[a.id]; ok {
		a.status, a.reason, a.by = d.status, d.reason, d.by
		delete(s.disp, a.id)
	}
	p.insert(a)
	p.stats.AlertsOpened++
	p.apply(a, h)
	p.markPending(a)
}

// insert puts a live alert into its slot (newest window first), the id
// index and the front of the recency list.
func (p *Partition) insert(a *alert) {
	sl := a.slot
	i := 0
	for i < len(sl.alerts) && sl.alerts[i].winStart >= a.winStart {
		i++
	}
	sl.alerts = append(sl.alerts, nil)
	copy(sl.alerts[i+1:], sl.alerts[i:])
	sl.alerts[i] = a
	p.alerts.byID[a.id] = a
	p.alerts.pushFront(a)
	p.alerts.n++
}

func (p *Partition) update(a *alert, h *hit) {
	a.first = min(a.first, h.start)
	a.last = max(a.last, h.end)
	if h.sev.Rank() > a.sev.Rank() {
		a.sev = h.sev
	}
	p.apply(a, h)
	p.alerts.touch(a)
	p.markPending(a)
}

// apply adds a finding's events to an alert.
func (p *Partition) apply(a *alert, h *hit) {
	a.count += h.count
	a.cats |= h.cats
	a.expl = h.expl
	for _, e := range h.ev {
		addEvidence(a, e)
	}
	for _, s := range h.subjects {
		if s == "" {
			continue
		}
		if _, ok := a.subjects[s]; ok {
			continue
		}
		if len(a.subjects) >= p.opts.MaxAlertSubjects {
			a.subjOver++
			continue
		}
		if a.subjects == nil {
			a.subjects = make(map[string]struct{}, 4)
		}
		a.subjects[s] = struct{}{}
	}
}

// addEvidence keeps the event.MaxEvidence earliest distinct event ids.
func addEvidence(a *alert, e evid) {
	if e.id == "" {
		return
	}
	n := len(a.ev)
	if n == event.MaxEvidence && !e.before(a.ev[n-1]) {
		return
	}
	for _, x := range a.ev {
		if x.id == e.id {
			return
		}
	}
	if a.ev == nil {
		a.ev = make([]evid, 0, 4)
	}
	i := n
	for i > 0 && e.before(a.ev[i-1]) {
		i--
	}
	if n < event.MaxEvidence {
		a.ev = append(a.ev, evid{})
	}
	copy(a.ev[i+1:], a.ev[i:])
	a.ev[i] = e
}

func (p *Partition) suppress(x *exception, h *hit) {
	if p.muted {
		return
	}
	s := &p.alerts
	k := suppKey{exc: x.index, rule: h.rule.index, key: string(h.key)}
	if i, ok := s.suppIdx[k]; ok {
		r := &s.supp[i]
		r.Count++
		if t := time.UnixMilli(h.start).UTC(); t.Before(r.First) {
			r.First = t
		}
		if t := time.UnixMilli(h.end).UTC(); t.After(r.Last) {
			r.Last = t
		}
		return
	}
	if len(s.supp) >= maxSuppressedRecords {
		return
	}
	s.suppIdx[k] = len(s.supp)
	s.supp = append(s.supp, Suppressed{
		Exception: x.index, Reason: x.cfg.Reason, Author: x.cfg.Author, Expires: x.cfg.Expires,
		RuleID: h.rule.id, GroupKey: k.key, Count: 1,
		First: time.UnixMilli(h.start).UTC(), Last: time.UnixMilli(h.end).UTC(),
	})
}

// Drain appends to dst the current state of every alert opened or updated
// since the last Drain, in the order of their first change since then,
// and returns the extended slice. Many changes of one alert between two
// calls give one record. The records are copies.
func (p *Partition) Drain(dst []event.Alert) []event.Alert {
	for _, a := range p.alerts.pending {
		dst = append(dst, a.record())
		a.pending = false
	}
	clear(p.alerts.pending)
	p.alerts.pending = p.alerts.pending[:0]
	return dst
}

// DrainSuppressed appends to dst the suppressed findings since the last
// call, coalesced per exception, rule and group in the order of their
// first suppression, and returns the extended slice.
func (p *Partition) DrainSuppressed(dst []Suppressed) []Suppressed {
	dst = append(dst, p.alerts.supp...)
	clear(p.alerts.supp)
	p.alerts.supp = p.alerts.supp[:0]
	clear(p.alerts.suppIdx)
	return dst
}

// Pending reports whether Drain has records to return.
func (p *Partition) Pending() int { return len(p.alerts.pending) }

// Alert returns the current state of an alert in state.
func (p *Partition) Alert(id string) (event.Alert, bool) {
	a, ok := p.alerts.byID[id]
	if !ok {
		return event.Alert{}, false
	}
	return a.record(), true
}

// Dispose records a review decision on an alert: its status (closed as a
// false positive, authorised, duplicate, escalated, or open again), why
// and by whom. Later findings that fold into the alert keep that status,
// so a closed alert is not re-opened within its window. The decision
// arrives as an alert record on the alerts topic, which the runner feeds
// back here for every record whose status is not open; a decision that
// changes the alert makes Drain return its state once more (with the
// current counts), so that the last record of every alert is its final
// state whatever the Drain boundaries. Feeding that record back changes
// nothing, so the loop ends there.
//
// It reports whether the alert is in state. A decision on an alert not in
// state is kept (at most Options.MaxPendingDispositions, oldest dropped
// first) and applied when an alert with that id opens, as happens when a
// replay rebuilds it.
func (p *Partition) Dispose(alertID string, status event.AlertStatus, reason, by string) (bool, error) {
	if !status.Valid() {
		return false, fmt.Errorf("detector: dispose %s: unknown status %q", alertID, status)
	}
	s := &p.alerts
	if a, ok := s.byID[alertID]; ok {
		if a.status != status || a.reason != reason || a.by != by {
			a.status, a.reason, a.by = status, reason, by
			p.markPending(a)
		}
		return true, nil
	}
	if _, ok := s.disp[alertID]; !ok {
		for len(s.dispQ) > 0 && len(s.disp) >= p.opts.MaxPendingDispositions {
			delete(s.disp, s.dispQ[0])
			s.dispQ = s.dispQ[1:]
		}
		s.dispQ = append(s.dispQ, alertID)
	}
	s.disp[alertID] = disposition{status: status, reason: reason, by: by}
	// Drop queue entries of dispositions applied meanwhile.
	if len(s.dispQ) > 2*p.opts.MaxPendingDispositions {
		q := s.dispQ[:0]
		for _, id := range s.dispQ {
			if _, ok := s.disp[id]; ok {
				q = append(q, id)
			}
		}
		s.dispQ = q
	}
	return false, nil
}

// Disposition returns the review decision recorded for an alert in state.
func (p *Partition) Disposition(alertID string) (status event.AlertStatus, reason, by string, ok bool) {
	a, ok := p.alerts.byID[alertID]
	if !ok {
		return "", "", "", false
	}
	return a.status, a.reason, a.by, true
}

func (a *alert) record() event.Alert {
	ev := make([]string, len(a.ev))
	for i, e := range a.ev {
		ev[i] = e.id
	}
	return event.Alert{
		AlertID:          a.id,
		RuleID:           a.rule.id,
		RuleTitle:        a.rule.title,
		Severity:         a.sev,
		GroupKey:         a.slot.key,
		WindowStart:      ts(a.winStart),
		WindowEnd:        ts(a.last + 1),
		FirstSeen:        ts(a.first),
		LastSeen:         ts(a.last),
		Count:            a.count,
		DistinctSubjects: int64(len(a.subjects)) + a.subjOver,
		Categories:       catList(a.cats),
		Evidence:         ev,
		Explanation:      a.expl.String(),
		ActorID:          a.actor,
		DeviceID:         a.device,
		Org:              a.org,
		Status:           a.status,
		StatusReason:     a.reason,
		StatusBy:         a.by,
	}
}

func ts(ms int64) event.Timestamp { return event.NewTimestamp(time.UnixMilli(ms)) }
