package detector

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

// noTime is the time of nothing: before every event.
const noTime = math.MinInt64

// sweepEvery is how often, in watermark milliseconds, expired alerts and
// groups are dropped. Dropping them only frees memory (an expired alert
// takes no finding, a dead group's entries are out of every window), so
// it need not run at every event; it depends on the watermark alone, so
// it stays deterministic.
const sweepEvery = 1000

// Stats are a Partition's counters since New (Restore keeps them; a muted
// replay counts like live work). They are plain numbers: the runner
// exports them, e.g. as vigil_detector_events_total, adding the
// differences between two reads.
type Stats struct {
	// Events counts the events fed and processed; Duplicates the events
	// ignored because their offset was not after the last one fed.
	Events, Duplicates uint64
	// Late counts events older than the watermark at arrival; LateDropped
	// those of them too old for a correlation window (they still reach
	// standalone rules and behaviours).
	Late, LateDropped uint64
	// Findings counts findings of rules, correlations and behaviours.
	Findings uint64
	// AlertsOpened and AlertsUpdated count findings that opened an alert
	// or folded into one; Suppressed those an Exception kept from
	// alerting.
	AlertsOpened, AlertsUpdated, Suppressed uint64
	// AlertsExpired counts alerts forgotten after their suppression window
	// passed the watermark; AlertEvictions those forgotten early because
	// of Options.MaxAlerts.
	AlertsExpired, AlertEvictions uint64
	// GroupEvictions counts correlation groups dropped before their
	// window passed because of Options.MaxGroups; WindowEvictions events
	// dropped from a window because of Options.MaxWindowEvents.
	GroupEvictions, WindowEvictions uint64
	// Groups and Alerts are the groups and alerts in state now (gauges).
	Groups, Alerts int
}

// Partition is the detection state of one topic partition: correlation
// windows, behaviour state and alerts. It is fed that partition's events
// in offset order and is not safe for concurrent use.
type Partition struct {
	set        *sigma.Set
	opts       Options
	lateness   int64
	defSupp    int64
	behaviours []Behaviour
	excs       []*exception

	rules    []*ruleRT
	ruleByID map[string]int
	bySigma  map[*sigma.Rule]*matchRT
	corrs    []*corrState

	// State.
	offset  int64 // last offset fed; -1 before any
	seq     uint64
	maxSeen int64 // newest occurred_at (unix ms), noTime before any event
	wm      int64 // watermark: maxSeen - lateness
	// advancedWM is set by feed when the event moved the watermark,
	// sweepDue when it moved into a new sweepEvery period.
	advancedWM, sweepDue bool
	alerts               alertState
	muted                bool
	stats                Stats
	cur                  sigma.Event // the event being fed, zero while closing windows
	curT                 int64
	curID                string
	curSubj              string
	curCats              uint16

	// Scratch, reused across events.
	matchBuf []*sigma.Rule
	feedBuf  []feedItem
	keyBuf   []byte
	valBuf   []byte
	evBuf    []evid
	subjBuf  []string
	hitBuf   hit
	emitFn   func(Finding)
}

// ruleRT is what the Partition knows of one alerting rule: a standalone
// detection rule, a correlation or a behaviour.
type ruleRT struct {
	index       int
	id, title   string
	severity    event.Severity
	explanation string
	supp        int64 // suppression window, ms
	span        int64 // correlation timespan, ms; 0 otherwise
	excs        []*exception
	alerts      map[string]*slot
}

// matchRT is what a match of one detection rule feeds.
type matchRT struct {
	rule   *ruleRT // nil unless the rule is standalone
	inputs []corrInput
}

type corrInput struct {
	cs *corrState
	in *sigma.CorrelationInput
}

type feedItem struct {
	cs *corrState
	in *sigma.CorrelationInput
}

// New returns an empty Partition evaluating set with opts and the given
// behaviours, which belong to it from now on (see Behaviour).
func New(set *sigma.Set, opts Options, behaviours []Behaviour) (*Partition, error) {
	if set == nil {
		return nil, errors.New("detector: nil rule set")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("detector: options: %w", err)
	}
	o := opts.withDefaults()
	p := &Partition{
		set:        set,
		opts:       o,
		lateness:   o.Lateness.Milliseconds(),
		defSupp:    o.DefaultSuppression.Milliseconds(),
		behaviours: behaviours,
		excs:       compileExceptions(o.Exceptions),
		ruleByID:   map[string]int{},
		bySigma:    map[*sigma.Rule]*matchRT{},
	}
	p.emitFn = p.emitBehaviour
	for _, r := range set.Rules {
		if !r.Status.Active() {
			continue
		}
		m := &matchRT{}
		if r.Standalone {
			expl := r.Description
			if expl == "" {
				expl = r.Title
			}
			m.rule = p.addRule(r.ID, r.Title, r.Severity, expl, 0)
		}
		p.bySigma[r] = m
	}
	for _, c := range set.Correlations {
		if len(c.Inputs) > maxInputs {
			return nil, fmt.Errorf("detector: correlation %s: %d rules, at most %d are supported", c.ID, len(c.Inputs), maxInputs)
		}
		if err := checkReachable(c, o.MaxWindowEvents); err != nil {
			return nil, err
		}
		rt := p.addRule(c.ID, c.Title, c.Severity, "", c.Timespan.Milliseconds())
		cs := newCorrState(p, c, rt, len(p.corrs))
		p.corrs = append(p.corrs, cs)
		for _, in := range c.Inputs {
			m := p.bySigma[in.Rule]
			if m == nil {
				continue // an inactive rule cannot be referenced; be safe
			}
			m.inputs = append(m.inputs, corrInput{cs: cs, in: in})
		}
	}
	for _, b := range behaviours {
		name := b.Name()
		if _, dup := p.ruleByID[name]; dup {
			return nil, fmt.Errorf("detector: behaviour %s: name used twice or by a rule", name)
		}
		title, sev := name, event.SeverityMedium
		if bi, ok := b.(BehaviourInfo); ok {
			title, sev = bi.Title(), bi.Severity()
		}
		p.addRule(name, title, sev, "", 0)
	}
	p.reset()
	return p, nil
}

// checkReachable refuses a count threshold that a window capped at max
// events can never reach.
func checkReachable(c *sigma.Correlation, max int) error {
	if c.Type == sigma.ValueSum {
		return nil
	}
	for x := 0; x <= max; x++ {
		if c.Condition.Holds(float64(x)) {
			return nil
		}
	}
	return fmt.Errorf("detector: correlation %s: condition %s cannot hold within max_window_events %d", c.ID, c.Condition, max)
}

// addRule registers an alerting rule and returns it.
func (p *Partition) addRule(id, title string, sev event.Severity, expl string, span int64) *ruleRT {
	if !sev.Valid() {
		sev = event.SeverityMedium
	}
	supp := p.defSupp
	if d, ok := p.opts.Suppression[id]; ok {
		supp = d.Milliseconds()
	}
	rt := &ruleRT{index: len(p.rules), id: id, title: title, severity: sev, explanation: expl,
		supp: supp, span: span, alerts: map[string]*slot{}}
	for _, x := range p.excs {
		if x.appliesTo(id) {
			rt.excs = append(rt.excs, x)
		}
	}
	p.rules = append(p.rules, rt)
	p.ruleByID[id] = rt.index
	return rt
}

// reset empties the state.
func (p *Partition) reset() {
	p.offset = -1
	p.seq = 0
	p.maxSeen = noTime
	p.wm = noTime
	p.alerts = alertState{}
	p.alerts.init()
	for _, r := range p.rules {
		clear(r.alerts)
	}
	for _, cs := range p.corrs {
		cs.reset()
	}
}

// SetMuted switches replay mode on or off. A muted Partition updates its
// state as usual but records no output: Drain and DrainSuppressed return
// nothing for the events fed while muted. Muting discards output not yet
// drained.
func (p *Partition) SetMuted(muted bool) {
	if muted && !p.muted {
		p.alerts.discardPending()
	}
	p.muted = muted
}

// Muted reports whether the Partition is muted.
func (p *Partition) Muted() bool { return p.muted }

// Offset returns the offset of the last event fed, or -1.
func (p *Partition) Offset() int64 { return p.offset }

// Watermark returns the current watermark: the newest occurred_at fed
// minus the allowed lateness; the zero time before any event.
func (p *Partition) Watermark() time.Time {
	if p.maxSeen == noTime {
		return time.Time{}
	}
	return time.UnixMilli(p.wm).UTC()
}

// Stats returns the counters.
func (p *Partition) Stats() Stats {
	s := p.stats
	for _, cs := range p.corrs {
		s.Groups += cs.n
	}
	s.Alerts = p.alerts.n
	return s
}

// Access feeds one access event at the given offset. Offsets must
// increase; an event at or before the last offset fed is ignored and
// counted in Stats.Duplicates (redelivery).
func (p *Partition) Access(offset int64, e *event.AccessEvent) {
	if !p.accept(offset) {
		return
	}
	p.cur = sigma.Access(e)
	p.feed(e.OccurredAt.UnixMilli(), e.EventID, e.Subject.ID, catMask(e.Categories))
	for _, b := range p.behaviours {
		b.Access(e, p.emitFn)
	}
	p.finish()
}

// Device feeds one device event at the given offset, as Access does. The
// subject of a device event, for alerts' distinct subjects, is its
// account.
func (p *Partition) Device(offset int64, e *event.DeviceEvent) {
	if !p.accept(offset) {
		return
	}
	p.cur = sigma.Device(e)
	p.feed(e.OccurredAt.UnixMilli(), e.EventID, e.AccountID, 0)
	for _, b := range p.behaviours {
		b.Device(e, p.emitFn)
	}
	p.finish()
}

func (p *Partition) accept(offset int64) bool {
	if p.offset >= 0 && offset <= p.offset {
		p.stats.Duplicates++
		return false
	}
	p.offset = offset
	p.seq++
	p.stats.Events++
	return true
}

// feed updates the watermark, closes the windows it passed and feeds the
// event to the rules and correlations.
func (p *Partition) feed(t int64, id, subject string, cats uint16) {
	if p.maxSeen != noTime && t < p.wm {
		p.stats.Late++
	}
	p.advancedWM = false
	if t > p.maxSeen {
		p.maxSeen = t
		if w := t - p.lateness; w > p.wm {
			p.sweepDue = p.wm == noTime || w/sweepEvery != p.wm/sweepEvery
			p.wm = w
			p.advancedWM = true
		}
	}
	if p.advancedWM {
		ev := p.cur
		p.cur = sigma.Event{}
		for _, cs := range p.corrs {
			cs.closeDue()
		}
		p.cur = ev
	}
	p.curT, p.curID, p.curSubj, p.curCats = t, id, subject, cats

	matched := p.set.Match(p.cur, p.matchBuf[:0])
	feeds := p.feedBuf[:0]
	for _, r := range matched {
		m := p.bySigma[r]
		if m == nil {
			continue
		}
		if m.rule != nil {
			p.ruleFinding(m.rule)
		}
		for _, ci := range m.inputs {
			feeds = append(feeds, feedItem(ci))
		}
	}
	// Feed each correlation once per event, in load order, with all of
	// its inputs that matched.
	for i := 1; i < len(feeds); i++ {
		for j := i; j > 0 && feeds[j].cs.index < feeds[j-1].cs.index; j-- {
			feeds[j], feeds[j-1] = feeds[j-1], feeds[j]
		}
	}
	for i := 0; i < len(feeds); {
		j := i + 1
		for j < len(feeds) && feeds[j].cs == feeds[i].cs {
			j++
		}
		feeds[i].cs.feed(feeds[i:j])
		i = j
	}
	clear(matched)
	p.matchBuf = matched[:0]
	clear(feeds)
	p.feedBuf = feeds[:0]
}

// finish runs after the behaviours saw the event.
func (p *Partition) finish() {
	if p.advancedWM {
		w := time.UnixMilli(p.wm).UTC()
		for _, b := range p.behaviours {
			b.Advance(w)
		}
		if p.sweepDue {
			p.alerts.sweep(p)
			for _, cs := range p.corrs {
				cs.sweep()
			}
		}
	}
	p.cur = sigma.Event{}
	p.curID, p.curSubj = "", ""
}

// ruleFinding raises the finding of a standalone rule match.
func (p *Partition) ruleFinding(rt *ruleRT) {
	h := &p.hitBuf
	*h = hit{rule: rt, start: p.curT, end: p.curT, count: 1, cats: p.curCats, sev: rt.severity}
	h.expl = explanation{text: rt.explanation}
	p.keyBuf = p.keyBuf[:0]
	switch {
	case p.cur.Access != nil:
		e := p.cur.Access
		h.org, h.actor = e.Org, e.Actor.ID
		p.keyBuf = appendKey(p.keyBuf, e.Org, e.Actor.ID)
	case p.cur.Device != nil:
		e := p.cur.Device
		h.org, h.actor, h.device = e.Org, e.AccountID, e.DeviceID
		p.keyBuf = appendKey(p.keyBuf, e.Org, e.DeviceID)
	}
	h.key = p.keyBuf
	p.evBuf = append(p.evBuf[:0], evid{t: p.curT, seq: p.seq, id: p.curID})
	h.ev = p.evBuf
	p.subjBuf = p.subjBuf[:0]
	if p.curSubj != "" {
		p.subjBuf = append(p.subjBuf, p.curSubj)
	}
	h.subjects = p.subjBuf
	p.fold(h)
}

// emitBehaviour is the emit function given to behaviours.
func (p *Partition) emitBehaviour(f Finding) {
	idx, ok := p.ruleByID[f.RuleID]
	if !ok {
		idx = p.addRule(f.RuleID, f.RuleTitle, f.Severity, "", 0).index
	}
	rt := p.rules[idx]
	h := &p.hitBuf
	*h = hit{rule: rt, org: f.Org, actor: f.ActorID, device: f.DeviceID,
		start: f.Start.UnixMilli(), end: f.End.UnixMilli(), count: f.Count,
		sev: f.Severity, subjects: f.Subjects, cats: catMask(f.Categories)}
	if h.end < h.start {
		h.end = h.start
	}
	if !h.sev.Valid() {
		h.sev = rt.severity
	}
	h.expl = explanation{text: f.Explanation}
	if h.expl.text == "" {
		h.expl.text = f.RuleTitle
	}
	p.keyBuf = append(p.keyBuf[:0], f.GroupKey...)
	h.key = p.keyBuf
	p.evBuf = p.evBuf[:0]
	for _, id := range f.Evidence {
		p.evBuf = append(p.evBuf, evid{t: h.start, seq: p.seq, id: id})
	}
	h.ev = p.evBuf
	p.fold(h)
}

// appendKey appends "org/id" with "/" and "\" escaped as the correlation
// group keys escape them, so that a standalone rule and a correlation
// grouped by actor.id give the same key.
func appendKey(dst []byte, org, id string) []byte {
	dst = appendEscaped(dst, org)
	dst = append(dst, '/')
	return appendEscaped(dst, id)
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '/' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst
}

// catMask returns the categories as a bit set in schema order; unknown
// categories are left out.
func catMask(cs []event.Category) uint16 {
	var m uint16
	for _, c := range cs {
		if i := catIndex(c); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}

var allCategories = event.Categories()

func catIndex(c event.Category) int {
	for i, k := range allCategories {
		if k == c {
			return i
		}
	}
	return -1
}

func catList(m uint16) []event.Category {
	if m == 0 {
		return nil
	}
	var out []event.Category
	for i, c := range allCategories {
		if m&(1<<i) != 0 {
			out = append(out, c)
		}
	}
	return out
}
