package detector

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

// maxInputs bounds the rules of one correlation: an entry records the
// inputs it matched as bits of a uint64.
const maxInputs = 64

// corrMode is how a correlation's threshold is decided.
type corrMode uint8

const (
	// modeSliding: the condition has lower bounds only (gt, gte), so it
	// can only become true as events arrive; it is decided at every event
	// on the sliding window ending at that event.
	modeSliding corrMode = iota
	// modeClosing: the condition has an upper bound (lt, lte, eq, neq, or
	// a range), so a window can only be judged once it is complete; it is
	// decided when the watermark passes the window's end.
	modeClosing
)

func modeOf(t sigma.Threshold) corrMode {
	for _, b := range t.Bounds {
		if b.Op != sigma.OpGt && b.Op != sigma.OpGte {
			return modeClosing
		}
	}
	return modeSliding
}

// corrState is the state of one correlation: its groups and, in closing
// mode, the deadlines of their open windows.
type corrState struct {
	p     *Partition
	c     *sigma.Correlation
	rule  *ruleRT
	index int
	mode  corrMode
	span  int64 // ms
	// actorOf and deviceOf say, per input, which event field gives the
	// alert's actor and device: 0 none, else the source (see groupIDs).
	actorOf, deviceOf []uint8
	titles            string

	groups  map[string]*group
	head    *group // most recently updated
	tail    *group
	n       int
	nextSeq uint64
	heap    []deadline
	touched []*group
	scratch map[string]struct{}
}

// deadline is when an open window of a group closes, in closing mode.
type deadline struct {
	at  int64
	seq uint64
	g   *group
}

func (d deadline) less(o deadline) bool { return d.at < o.at || d.at == o.at && d.seq < o.seq }

// group is the window state of one group key.
type group struct {
	key                string
	org, actor, device string
	seq                uint64 // creation order within the correlation
	prev, next         *group
	alive              bool

	q  []entry // entries sorted by (t, seq); live ones are q[h:]
	h  int
	lo int // sliding: the current window is q[lo:]
	// maxT is the newest entry time (sliding).
	maxT int64
	// Aggregates of the current window (sliding).
	sum      float64
	distinct int
	present  int
	inCnt    []int32
	// vals counts the values of live entries (value_count).
	vals map[string]valCount
	// lateUnrep is set when a late entry may sit unreported before the
	// tail of the window.
	lateUnrep bool
	// lastSeq and lastPos locate the entry of the event fed last.
	lastSeq uint64
	lastPos int
	// Closing mode: the open window starts at winStart; windows before
	// closedEnd are decided.
	open      bool
	winStart  int64
	closedEnd int64
	touchSeq  uint64
}

type valCount struct {
	s   string // the key, interned
	all int32  // live entries with the value
	win int32  // entries of the current window with the value (sliding)
}

// entry is one event in a group's window.
type entry struct {
	t             int64
	seq           uint64
	num           float64
	id, subj, val string
	in            uint64 // inputs matched, as bits
	cats          uint16
	hasNum        bool
	hasVal        bool
	reported      bool
}

func newCorrState(p *Partition, c *sigma.Correlation, rt *ruleRT, index int) *corrState {
	cs := &corrState{p: p, c: c, rule: rt, index: index, mode: modeOf(c.Condition),
		span: c.Timespan.Milliseconds()}
	for _, in := range c.Inputs {
		var a, d uint8
		for _, f := range in.GroupBy {
			switch {
			case in.Rule.Service == sigma.ServiceAccess && f == "actor.id":
				a = srcActorID
			case in.Rule.Service == sigma.ServiceAccess && f == "client.device_id":
				d = srcClientDevice
			case in.Rule.Service == sigma.ServiceDevice && f == "account_id":
				a = srcAccount
			case in.Rule.Service == sigma.ServiceDevice && f == "device_id":
				d = srcDevice
			}
		}
		cs.actorOf = append(cs.actorOf, a)
		cs.deviceOf = append(cs.deviceOf, d)
	}
	titles := make([]string, len(c.Inputs))
	for i, in := range c.Inputs {
		titles[i] = strconv.Quote(in.Rule.Title)
	}
	cs.titles = strings.Join(titles, ", ")
	cs.reset()
	return cs
}

// Sources of a group's actor and device.
const (
	srcNone uint8 = iota
	srcActorID
	srcClientDevice
	srcAccount
	srcDevice
)

func source(ev sigma.Event, src uint8) string {
	switch src {
	case srcActorID:
		return ev.Access.Actor.ID
	case srcClientDevice:
		return ev.Access.Client.DeviceID
	case srcAccount:
		return ev.Device.AccountID
	case srcDevice:
		return ev.Device.DeviceID
	}
	return ""
}

func (cs *corrState) reset() {
	cs.groups = map[string]*group{}
	cs.head, cs.tail, cs.n, cs.nextSeq = nil, nil, 0, 0
	cs.heap = nil
}

// explain renders the explanation of a finding with aggregate x over n
// events.
func (cs *corrState) explain(x float64, n int64) string {
	c := cs.c
	span := fmtSpan(c.Timespan)
	switch c.Type {
	case sigma.EventCount:
		return fmt.Sprintf("%d events matched %s within %s (condition %s).", n, cs.titles, span, c.Condition)
	case sigma.ValueCount:
		return fmt.Sprintf("%s distinct values of %s in %d events matching %s within %s (condition %s).",
			fmtNum(x), c.Field, n, cs.titles, span, c.Condition)
	case sigma.ValueSum:
		return fmt.Sprintf("%s summed to %s over %d events matching %s within %s (condition %s).",
			c.Field, fmtNum(x), n, cs.titles, span, c.Condition)
	case sigma.Temporal:
		return fmt.Sprintf("%s of %d rules (%s) matched within %s (condition %s).",
			fmtNum(x), len(c.Inputs), cs.titles, span, c.Condition)
	case sigma.TemporalOrdered:
		return fmt.Sprintf("%s of %d rules (%s) matched in this order within %s (condition %s).",
			fmtNum(x), len(c.Inputs), cs.titles, span, c.Condition)
	}
	return c.Title
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func fmtSpan(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// Recency list of groups.

func (cs *corrState) pushFront(g *group) {
	g.prev, g.next = nil, cs.head
	if cs.head != nil {
		cs.head.prev = g
	} else {
		cs.tail = g
	}
	cs.head = g
}

func (cs *corrState) unlink(g *group) {
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		cs.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		cs.tail = g.prev
	}
	g.prev, g.next = nil, nil
}

func (cs *corrState) touch(g *group) {
	if cs.head != g {
		cs.unlink(g)
		cs.pushFront(g)
	}
}

func (cs *corrState) removeGroup(g *group) {
	cs.unlink(g)
	delete(cs.groups, g.key)
	g.alive = false
	cs.n--
}

// dead reports whether no future event can use g's state.
func (cs *corrState) dead(g *group) bool {
	w := cs.p.wm
	if cs.mode == modeSliding {
		return g.h == len(g.q) || g.maxT <= w-cs.span
	}
	return !g.open && (g.closedEnd == noTime || w >= g.closedEnd+cs.span)
}

// sweep removes dead groups from the old end of the recency list.
func (cs *corrState) sweep() {
	for cs.tail != nil && cs.dead(cs.tail) {
		cs.removeGroup(cs.tail)
	}
}

func (cs *corrState) newGroup(key string, in *sigma.CorrelationInput) *group {
	p := cs.p
	for cs.n >= p.opts.MaxGroups && cs.tail != nil {
		if !cs.dead(cs.tail) {
			p.stats.GroupEvictions++
		}
		cs.removeGroup(cs.tail)
	}
	g := &group{key: key, org: p.cur.Org(), seq: cs.nextSeq, alive: true,
		maxT: noTime, closedEnd: noTime, q: make([]entry, 0, 4)}
	g.actor = source(p.cur, cs.actorOf[in.Index])
	g.device = source(p.cur, cs.deviceOf[in.Index])
	cs.nextSeq++
	cs.initAgg(g)
	cs.groups[key] = g
	cs.pushFront(g)
	cs.n++
	return g
}

func (cs *corrState) initAgg(g *group) {
	switch cs.c.Type {
	case sigma.ValueCount:
		g.vals = map[string]valCount{}
	case sigma.Temporal, sigma.TemporalOrdered:
		g.inCnt = make([]int32, len(cs.c.Inputs))
	}
}

// feed adds the current event to the groups of the inputs it matched and,
// in sliding mode, decides the threshold for each group it touched.
func (cs *corrState) feed(items []feedItem) {
	p := cs.p
	t := p.curT
	if (cs.mode == modeSliding && p.maxSeen != noTime && t <= p.wm-cs.span) ||
		(cs.mode == modeClosing && t+cs.span <= p.wm) {
		p.stats.LateDropped++
		return
	}
	cs.touched = cs.touched[:0]
	for _, it := range items {
		in := it.in
		p.keyBuf = in.AppendGroupKey(p.keyBuf[:0], p.cur)
		g := cs.groups[string(p.keyBuf)]
		if g == nil {
			g = cs.newGroup(string(p.keyBuf), in)
		}
		if cs.mode == modeClosing && t < g.closedEnd {
			p.stats.LateDropped++
			continue
		}
		cs.touch(g)
		bit := uint64(1) << in.Index
		if g.lastSeq == p.seq {
			cs.mergeInput(g, bit)
			continue
		}
		e := entry{t: t, seq: p.seq, id: p.curID, subj: p.curSubj, cats: p.curCats, in: bit}
		switch cs.c.Type {
		case sigma.ValueCount:
			var ok bool
			p.valBuf, ok = in.AppendValue(p.valBuf[:0], p.cur)
			if ok {
				e.hasVal = true
				vc, found := g.vals[string(p.valBuf)]
				if !found {
					vc.s = string(p.valBuf)
				}
				vc.all++
				g.vals[vc.s] = vc
				e.val = vc.s
			}
		case sigma.ValueSum:
			e.num, e.hasNum = in.Number(p.cur)
		}
		if cs.mode == modeSliding {
			cs.insertSliding(g, e)
		} else {
			cs.insertClosing(g, e)
		}
		if g.touchSeq != p.seq {
			g.touchSeq = p.seq
			cs.touched = append(cs.touched, g)
		}
	}
	if cs.mode == modeSliding {
		for _, g := range cs.touched {
			if g.alive {
				cs.evaluate(g)
			}
		}
	}
	clear(cs.touched)
}

// mergeInput records that the entry of the current event also matched
// another input (it counts once).
func (cs *corrState) mergeInput(g *group, bit uint64) {
	e := &g.q[g.lastPos]
	if e.in&bit != 0 {
		return
	}
	e.in |= bit
	if cs.mode == modeSliding && g.lastPos >= g.lo && g.inCnt != nil {
		cs.addBits(g, bit)
	}
}

func (cs *corrState) addBits(g *group, bits uint64) {
	for i := range g.inCnt {
		if bits&(1<<i) != 0 {
			g.inCnt[i]++
			if g.inCnt[i] == 1 {
				g.present++
			}
		}
	}
}

// aggAdd and aggRemove maintain the current window's aggregates
// (sliding mode).
func (cs *corrState) aggAdd(g *group, e *entry) {
	if e.hasNum {
		g.sum += e.num
	}
	if e.hasVal {
		vc := g.vals[e.val]
		vc.win++
		if vc.win == 1 {
			g.distinct++
		}
		g.vals[vc.s] = vc
	}
	if g.inCnt != nil {
		cs.addBits(g, e.in)
	}
}

func (cs *corrState) aggRemove(g *group, e *entry) {
	if e.hasNum {
		g.sum -= e.num
	}
	if e.hasVal {
		vc := g.vals[e.val]
		vc.win--
		if vc.win == 0 {
			g.distinct--
		}
		g.vals[vc.s] = vc
	}
	for i := range g.inCnt {
		if e.in&(1<<i) != 0 {
			g.inCnt[i]--
			if g.inCnt[i] == 0 {
				g.present--
			}
		}
	}
}

// popFront drops the oldest live entry.
func (cs *corrState) popFront(g *group) {
	e := &g.q[g.h]
	if cs.mode == modeSliding && g.h >= g.lo {
		cs.aggRemove(g, e)
		g.lo++
	}
	if e.hasVal {
		vc := g.vals[e.val]
		vc.all--
		if vc.all == 0 {
			delete(g.vals, e.val)
		} else {
			g.vals[vc.s] = vc
		}
	}
	*e = entry{}
	g.h++
	if g.lo < g.h {
		g.lo = g.h
	}
	if g.lo == len(g.q) {
		g.sum = 0 // exactly, not what is left of rounding
	}
	if g.h == len(g.q) {
		g.q, g.h, g.lo = g.q[:0], 0, 0
	} else if g.h >= 16 && g.h*2 >= len(g.q) {
		n := copy(g.q, g.q[g.h:])
		clear(g.q[n:])
		g.q = g.q[:n]
		g.lo -= g.h
		g.lastPos -= g.h
		g.h = 0
	}
}

// insertSorted inserts e after every live entry at or before its time
// and returns its index.
func (g *group) insertSorted(e entry) int {
	n := len(g.q)
	if n == g.h || g.q[n-1].t <= e.t {
		g.q = append(g.q, e)
		return n
	}
	i := g.h + sortSearch(n-g.h, func(i int) bool { return g.q[g.h+i].t > e.t })
	g.q = append(g.q, entry{})
	copy(g.q[i+1:], g.q[i:])
	g.q[i] = e
	return i
}

func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// firstAtOrAfter returns the index of the first live entry at or after t.
func (g *group) firstAtOrAfter(t int64) int {
	return g.h + sortSearch(len(g.q)-g.h, func(i int) bool { return g.q[g.h+i].t >= t })
}

// firstAfter returns the index of the first live entry after t.
func (g *group) firstAfter(t int64) int {
	return g.h + sortSearch(len(g.q)-g.h, func(i int) bool { return g.q[g.h+i].t > t })
}

func (cs *corrState) insertSliding(g *group, e entry) {
	p := cs.p
	for g.h < len(g.q) && g.q[g.h].t <= p.wm-cs.span {
		cs.popFront(g)
	}
	if len(g.q)-g.h >= p.opts.MaxWindowEvents {
		cs.popFront(g)
		p.stats.WindowEvictions++
	}
	pos := g.insertSorted(e)
	g.lastSeq, g.lastPos = e.seq, pos
	switch {
	case e.t >= g.maxT:
		g.maxT = e.t
		for g.lo < pos && g.q[g.lo].t <= g.maxT-cs.span {
			cs.aggRemove(g, &g.q[g.lo])
			g.lo++
		}
		if g.lo == pos {
			// Only the new entry is left in the window.
			g.sum = 0
		}
		cs.aggAdd(g, &g.q[pos])
	case e.t > g.maxT-cs.span:
		cs.aggAdd(g, &g.q[pos])
		g.lateUnrep = true
	default:
		g.lo++
		g.lateUnrep = true
	}
}

// evaluate decides the threshold for g after the current event (sliding
// mode): on the current window if the event is in it, otherwise (a late
// event) on the window ending at the event.
func (cs *corrState) evaluate(g *group) {
	var a, b int
	var x float64
	if g.lastPos >= g.lo {
		a, b = g.lo, len(g.q)
		switch cs.c.Type {
		case sigma.EventCount:
			x = float64(b - a)
		case sigma.ValueCount:
			x = float64(g.distinct)
		case sigma.ValueSum:
			x = g.sum
		case sigma.Temporal:
			x = float64(g.present)
		case sigma.TemporalOrdered:
			x = cs.ordered(g, a, b)
		}
	} else {
		t := g.q[g.lastPos].t
		a, b = g.firstAfter(t-cs.span), g.firstAfter(t)
		x = cs.aggregate(g, a, b)
	}
	if cs.c.Condition.Holds(x) {
		cs.fire(g, a, b, x)
	}
}

// aggregate computes the aggregate of q[a:b] from scratch.
func (cs *corrState) aggregate(g *group, a, b int) float64 {
	switch cs.c.Type {
	case sigma.EventCount:
		return float64(b - a)
	case sigma.ValueCount:
		if cs.scratch == nil {
			cs.scratch = map[string]struct{}{}
		}
		for i := a; i < b; i++ {
			if g.q[i].hasVal {
				cs.scratch[g.q[i].val] = struct{}{}
			}
		}
		n := len(cs.scratch)
		clear(cs.scratch)
		return float64(n)
	case sigma.ValueSum:
		var s float64
		for i := a; i < b; i++ {
			if g.q[i].hasNum {
				s += g.q[i].num
			}
		}
		return s
	case sigma.Temporal:
		var bits uint64
		for i := a; i < b; i++ {
			bits |= g.q[i].in
		}
		n := 0
		for ; bits != 0; bits &= bits - 1 {
			n++
		}
		return float64(n)
	case sigma.TemporalOrdered:
		return cs.ordered(g, a, b)
	}
	return 0
}

// ordered returns how many of the inputs matched in their order within
// q[a:b]: the longest prefix of the inputs matched by entries in time
// order, one entry per step (greedy, which finds the longest).
func (cs *corrState) ordered(g *group, a, b int) float64 {
	k, n := 0, len(cs.c.Inputs)
	for i := a; i < b && k < n; i++ {
		if g.q[i].in&(1<<k) != 0 {
			k++
		}
	}
	return float64(k)
}

// fire raises the finding of the window q[a:b] with aggregate x. Its
// count, evidence and subjects are the window's entries no earlier
// finding reported, so that an alert folding many findings of a sliding
// window counts each event once.
func (cs *corrState) fire(g *group, a, b int, x float64) {
	p := cs.p
	ev := p.evBuf[:0]
	subj := p.subjBuf[:0]
	var cats uint16
	var n int64
	add := func(e *entry) {
		e.reported = true
		n++
		ev = append(ev, evid{t: e.t, seq: e.seq, id: e.id})
		if e.subj != "" {
			subj = append(subj, e.subj)
		}
		cats |= e.cats
	}
	full := g.lateUnrep || cs.mode == modeClosing
	if full {
		for i := a; i < b; i++ {
			if !g.q[i].reported {
				add(&g.q[i])
			}
		}
		if a <= g.lo && b == len(g.q) {
			g.lateUnrep = false
		}
	} else {
		i := b - 1
		for i >= a && !g.q[i].reported {
			i--
		}
		for i++; i < b; i++ {
			add(&g.q[i])
		}
	}
	p.evBuf, p.subjBuf = ev[:0], subj[:0]
	if n == 0 {
		return
	}
	if len(ev) > event.MaxEvidence {
		ev = ev[:event.MaxEvidence]
	}
	h := &p.hitBuf
	p.keyBuf = append(p.keyBuf[:0], g.key...)
	*h = hit{rule: cs.rule, key: p.keyBuf, org: g.org, actor: g.actor, device: g.device,
		start: g.q[a].t, end: g.q[b-1].t, count: n, sev: cs.rule.severity,
		subjects: subj, cats: cats, ev: ev,
		expl: explanation{cs: cs, x: x, n: int64(b - a)}}
	p.fold(h)
}

// Closing mode.

func (cs *corrState) insertClosing(g *group, e entry) {
	p := cs.p
	if len(g.q)-g.h >= p.opts.MaxWindowEvents {
		cs.popFront(g)
		p.stats.WindowEvictions++
	}
	pos := g.insertSorted(e)
	g.lastSeq, g.lastPos = e.seq, pos
	if !g.open || e.t < g.winStart {
		g.open = true
		g.winStart = e.t
		cs.push(deadline{at: e.t + cs.span, seq: g.seq, g: g})
	}
}

// closeDue decides every window whose end the watermark passed, in order
// of end time and group age.
func (cs *corrState) closeDue() {
	if cs.mode != modeClosing {
		return
	}
	for len(cs.heap) > 0 && cs.heap[0].at <= cs.p.wm {
		d := cs.pop()
		g := d.g
		if !g.alive || !g.open || g.winStart+cs.span != d.at {
			continue // superseded
		}
		cs.closeWindow(g)
	}
}

func (cs *corrState) closeWindow(g *group) {
	end := g.winStart + cs.span
	a, b := g.h, g.firstAtOrAfter(end)
	if b > a {
		if x := cs.aggregate(g, a, b); cs.c.Condition.Holds(x) {
			cs.fire(g, a, b, x)
		}
	}
	for k := b - a; k > 0; k-- { // popFront may move the entries
		cs.popFront(g)
	}
	g.closedEnd = end
	if g.h < len(g.q) {
		g.winStart = g.q[g.h].t
		cs.push(deadline{at: g.winStart + cs.span, seq: g.seq, g: g})
	} else {
		g.open = false
	}
}

func (cs *corrState) push(d deadline) {
	cs.heap = append(cs.heap, d)
	i := len(cs.heap) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !cs.heap[i].less(cs.heap[parent]) {
			break
		}
		cs.heap[i], cs.heap[parent] = cs.heap[parent], cs.heap[i]
		i = parent
	}
}

func (cs *corrState) pop() deadline {
	h := cs.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = deadline{}
	h = h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	cs.heap = h
	return top
}

// groupsInOrder returns the groups from least to most recently updated.
func (cs *corrState) groupsInOrder() []*group {
	out := make([]*group, 0, cs.n)
	for g := cs.tail; g != nil; g = g.prev {
		out = append(out, g)
	}
	return out
}
