package behave

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// madScale turns a median absolute deviation into a standard deviation
// for normally distributed data.
const madScale = 1.4826

// The metrics of an hour.
const (
	mEvents   = iota // counted accesses
	mSubjects        // distinct subjects of counted accesses
	mRecords         // records they touched (record_count, at least 1 when it succeeded)
	nMetrics
)

// nSlots is how many ten-minute slots an hour has: counted accesses are
// kept per slot for the open and the previous hour, so the last 60
// minutes are measured to ten minutes.
const nSlots = 6

// baseline is the actor_baseline behaviour.
type baseline struct {
	cfg       BaselineConfig
	floor     [nMetrics]float64
	actors    *table[key, baseActor]
	peers     *table[peerKey, peerGroup]
	lastSweep int64 // hour (Unix ms / msHour) of the last expiry sweep
	scratch   []uint64
}

// baseActor is one actor's baseline state.
type baseActor struct {
	cur                 int64 // hour of the open bucket (Unix ms / msHour)
	curN, prevN         [nMetrics]uint32
	curSlots, prevSlots [nSlots]uint16 // counted accesses per ten minutes
	curRecs, prevRecs   [nSlots]uint32 // their records per ten minutes
	curFirst            int64          // occurred_at of the bucket's first counted access
	subjects            hashSet        // of the open bucket
	activeHours         uint32         // closed active hours, saturating
	activeDays          uint32
	lastDay             int64 // UTC day of the last closed hour
	own                 [nMetrics]hist
	firedHour           int64 // hour of the last finding, or noHour
	// Statistics for the open bucket, from the history at its start.
	thr thresholds
}

type thresholds struct {
	learned bool
	peer    bool // the peer comparison applies
	own     [nMetrics]stat
	peers   [nMetrics]stat
}

// stat is a median and a median absolute deviation.
type stat struct{ med, mad float64 }

// limit is what a value must exceed: factor × median and median + mads ×
// scaled MAD, whichever is higher.
func (s stat) limit(factor, mads float64) float64 {
	return max(factor*s.med, s.med+mads*madScale*s.mad)
}

// peerGroup is the pooled history of the actors of one org, role and
// department on the partition.
type peerGroup struct {
	h         [nMetrics]hist
	hours     uint32 // actor-hours added, saturating
	statsHour int64  // hour the cached statistics were computed in
	st        [nMetrics]stat
}

const noHour = -1 << 62

func newBaseline(c BaselineConfig) *baseline {
	return &baseline{
		cfg:   c,
		floor: [nMetrics]float64{float64(c.MinEvents), float64(c.MinSubjects), float64(c.MinRecords)},
		actors: newTable[key](c.MaxActors, func(a *baseActor) {
			*a = baseActor{subjects: a.subjects, firedHour: noHour, lastDay: noHour}
			a.subjects.reset()
		}),
		peers:     newTable[peerKey](c.MaxPeerGroups, func(g *peerGroup) { *g = peerGroup{statsHour: noHour} }),
		lastSweep: noHour,
	}
}

func (b *baseline) Name() string             { return RuleActorBaseline }
func (b *baseline) Title() string            { return "Unusual volume of access for this actor" }
func (b *baseline) Severity() event.Severity { return b.cfg.Severity }

func (b *baseline) Stats() Stats {
	return Stats{Tracked: b.actors.len(), Evicted: b.actors.evictions + b.peers.evictions,
		Expired: b.actors.expired + b.peers.expired}
}

func (b *baseline) Device(*event.DeviceEvent, func(detector.Finding)) {}

func (b *baseline) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	if e.Actor.ID == "" {
		return
	}
	t := ms(e.OccurredAt)
	h := floorDiv(t, msHour)
	a, created := b.actors.get(key{e.Org, e.Actor.ID}, t)
	switch {
	case created:
		a.cur = h
	case h < a.cur:
		return // late for a closed bucket: ignored
	case h > a.cur:
		b.rollover(a, h, e)
	}
	if e.Action == event.ActionLogin || !b.cfg.IncludeCareRelationship && e.Relationship == event.RelationshipTrue {
		return
	}
	if a.curN[mEvents] == 0 {
		a.curFirst = t
	}
	a.curN[mEvents] = satAdd(a.curN[mEvents])
	if e.Subject.ID != "" && a.subjects.add(nonzero(hashString(e.Subject.ID))) {
		a.curN[mSubjects] = satAdd(a.curN[mSubjects])
	}
	into := t - h*msHour
	s := into / (10 * msMinute)
	if a.curSlots[s] < math.MaxUint16 {
		a.curSlots[s]++
	}
	if e.Outcome == event.OutcomeSuccess {
		a.curN[mRecords] = satAddN(a.curN[mRecords], max(1, e.RecordCount))
		a.curRecs[s] = satAddN(a.curRecs[s], max(1, e.RecordCount))
	}
	if !a.thr.learned {
		return
	}
	est := a.estimate(into)
	c := &b.cfg
	over := false
	for i := range est {
		over = over || est[i] >= b.floor[i] && est[i] > a.thr.own[i].limit(c.OwnFactor, c.OwnMADs) &&
			(!a.thr.peer || est[i] > a.thr.peers[i].limit(c.PeerFactor, c.PeerMADs))
	}
	if !over {
		return
	}
	f := actorFinding(RuleActorBaseline, b.Title(), c.Severity, e)
	if a.firedHour != h {
		a.firedHour = h
		f.Start, f.Count = tm(a.curFirst), int64(a.curN[mEvents])
	}
	f.Explanation = b.explain(a, e, est)
	emit(f)
}

// estimate returns the metrics of the last 50 to 60 minutes, `into` ms
// into the open hour: the open hour's, plus the accesses and records of
// the previous hour's slots that lie entirely within the last 60 minutes,
// and that hour's distinct subjects in proportion to its accesses
// covered. (The slot the window starts in is left out: counting a part
// of it would count a burst that ended before the window began.)
func (a *baseActor) estimate(into int64) [nMetrics]float64 {
	var est [nMetrics]float64
	for i := range est {
		est[i] = float64(a.curN[i])
	}
	if a.prevN[mEvents] == 0 {
		return est
	}
	var prev, recs float64
	for s := into/(10*msMinute) + 1; s < nSlots; s++ {
		prev += float64(a.prevSlots[s])
		recs += float64(a.prevRecs[s])
	}
	est[mEvents] += prev
	est[mSubjects] += min(1, prev/float64(a.prevN[mEvents])) * float64(a.prevN[mSubjects])
	est[mRecords] += recs
	return est
}

func (b *baseline) explain(a *baseActor, e *event.AccessEvent, est [nMetrics]float64) string {
	n := func(v float64) int64 { return int64(math.Round(v)) }
	what := plural(n(est[mEvents]), "access", "accesses")
	if !b.cfg.IncludeCareRelationship {
		what += " without a care relationship"
	}
	th := &a.thr
	s := fmt.Sprintf("In the last hour this actor made %s to %s and %s, against a usual %.0f, %.0f and %.0f an hour (medians of its %d active hours)",
		what, plural(n(est[mSubjects]), "distinct subject", "distinct subjects"), plural(n(est[mRecords]), "record", "records"),
		th.own[mEvents].med, th.own[mSubjects].med, th.own[mRecords].med, a.activeHours)
	if th.peer {
		s += fmt.Sprintf(" and %.0f, %.0f and %.0f for its peers (%s, %s)",
			th.peers[mEvents].med, th.peers[mSubjects].med, th.peers[mRecords].med, orNone(e.Actor.Role), orNone(e.Actor.Department))
	}
	return s + "."
}

func orNone(s string) string {
	if s == "" {
		return "no role"
	}
	return s
}

// rollover closes the actor's open bucket into its history and its peer
// group's, opens the bucket of hour h and computes its thresholds.
func (b *baseline) rollover(a *baseActor, h int64, e *event.AccessEvent) {
	c := &b.cfg
	g, _ := b.peers.get(peerKey{e.Org, e.Actor.Role, e.Actor.Department}, h*msHour)
	for i := range a.own {
		a.own[i].add(a.curN[i], uint32(c.HistoryHours))
		g.h[i].add(a.curN[i], uint32(c.PeerHistoryHours))
	}
	g.hours = satAdd(g.hours)
	a.activeHours = satAdd(a.activeHours)
	if d := floorDiv(a.cur, 24); d != a.lastDay {
		a.lastDay = d
		a.activeDays = satAdd(a.activeDays)
	}
	if h == a.cur+1 {
		a.prevN, a.prevSlots, a.prevRecs = a.curN, a.curSlots, a.curRecs
	} else {
		a.prevN, a.prevSlots, a.prevRecs = [nMetrics]uint32{}, [nSlots]uint16{}, [nSlots]uint32{}
	}
	a.cur, a.curN, a.curSlots, a.curRecs, a.curFirst = h, [nMetrics]uint32{}, [nSlots]uint16{}, [nSlots]uint32{}, 0
	a.subjects.reset()

	th := &a.thr
	th.learned = a.activeHours >= uint32(c.MinActiveHours) && a.activeDays >= uint32(c.MinActiveDays)
	if !th.learned {
		return
	}
	for i := range a.own {
		th.own[i].med, th.own[i].mad = a.own[i].medianMAD()
	}
	if g.statsHour != h {
		g.statsHour = h
		for i := range g.h {
			g.st[i].med, g.st[i].mad = g.h[i].medianMAD()
		}
	}
	th.peer = g.hours >= uint32(c.MinPeerHours)
	th.peers = g.st
}

// satAddN adds n (≥ 0) to v, saturating.
func satAddN(v uint32, n int64) uint32 {
	return uint32(min(int64(v)+n, math.MaxUint32))
}

func satAdd(v uint32) uint32 {
	if v == math.MaxUint32 {
		return v
	}
	return v + 1
}

func (b *baseline) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	cut := w.UnixMilli() - b.cfg.ForgetAfter.Milliseconds()
	b.actors.expire(cut)
	b.peers.expire(cut)
}

func writeStat(w *wbuf, s stat) { w.f(s.med); w.f(s.mad) }
func readStat(r *rbuf) stat     { return stat{r.f(), r.f()} }

func (b *baseline) MarshalState() ([]byte, error) {
	w := newWbuf(b.Name())
	w.i(b.lastSweep)
	w.u(uint64(b.peers.len()))
	b.peers.each(func(k peerKey, touched int64, g *peerGroup) {
		w.s(k.org)
		w.s(k.role)
		w.s(k.dept)
		w.i(touched)
		for i := range g.h {
			g.h[i].write(w)
			writeStat(w, g.st[i])
		}
		w.u(uint64(g.hours))
		w.i(g.statsHour)
	})
	w.u(uint64(b.actors.len()))
	b.actors.each(func(k key, touched int64, a *baseActor) {
		w.key(k)
		w.i(touched)
		w.i(a.cur)
		for i := range a.curN {
			w.u(uint64(a.curN[i]))
			w.u(uint64(a.prevN[i]))
		}
		for i := range a.curSlots {
			w.u(uint64(a.curSlots[i]))
			w.u(uint64(a.prevSlots[i]))
			w.u(uint64(a.curRecs[i]))
			w.u(uint64(a.prevRecs[i]))
		}
		w.i(a.curFirst)
		b.scratch = a.subjects.sorted(b.scratch[:0])
		w.u(uint64(len(b.scratch)))
		for _, h := range b.scratch {
			w.h(h)
		}
		w.u(uint64(a.activeHours))
		w.u(uint64(a.activeDays))
		w.i(a.lastDay)
		w.i(a.firedHour)
		th := &a.thr
		w.bool(th.learned)
		w.bool(th.peer)
		for i := range a.own {
			a.own[i].write(w)
			writeStat(w, th.own[i])
			writeStat(w, th.peers[i])
		}
	})
	return w.b, nil
}

func (b *baseline) UnmarshalState(data []byte) error {
	b.actors.clear()
	b.peers.clear()
	b.lastSweep = noHour
	if data == nil {
		return nil
	}
	r := newRbuf(data, b.Name())
	b.lastSweep = r.i()
	n := r.n(len(r.b))
	for range n {
		k := peerKey{r.s(), r.s(), r.s()}
		touched := r.i()
		if r.err != nil {
			break
		}
		g, _ := b.peers.get(k, touched)
		for i := range g.h {
			g.h[i].read(r)
			g.st[i] = readStat(r)
		}
		g.hours = uint32(r.n(math.MaxUint32))
		g.statsHour = r.i()
	}
	n = r.n(len(r.b))
	for range n {
		k := r.key()
		touched := r.i()
		if r.err != nil {
			break
		}
		a, _ := b.actors.get(k, touched)
		a.cur = r.i()
		for i := range a.curN {
			a.curN[i] = uint32(r.n(math.MaxUint32))
			a.prevN[i] = uint32(r.n(math.MaxUint32))
		}
		for i := range a.curSlots {
			a.curSlots[i] = uint16(r.n(math.MaxUint16))
			a.prevSlots[i] = uint16(r.n(math.MaxUint16))
			a.curRecs[i] = uint32(r.n(math.MaxUint32))
			a.prevRecs[i] = uint32(r.n(math.MaxUint32))
		}
		a.curFirst = r.i()
		m := r.n(2 * maxHashSet)
		for range m {
			a.subjects.add(nonzero(r.h()))
		}
		a.activeHours = uint32(r.n(math.MaxUint32))
		a.activeDays = uint32(r.n(math.MaxUint32))
		a.lastDay = r.i()
		a.firedHour = r.i()
		th := &a.thr
		th.learned = r.bool()
		th.peer = r.bool()
		for i := range a.own {
			a.own[i].read(r)
			th.own[i] = readStat(r)
			th.peers[i] = readStat(r)
		}
	}
	if err := r.done(); err != nil {
		b.actors.clear()
		b.peers.clear()
		b.lastSweep = noHour
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	return nil
}
