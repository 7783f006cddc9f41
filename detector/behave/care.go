package behave

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// care is the care_relationship behaviour.
type care struct {
	cfg       CareConfig
	cats      uint32
	actions   uint32
	outcomes  []event.Outcome
	cover     int64
	grants    *table[key, careActor]
	lastSweep int64
}

// careActor holds an actor's recent break-glass grants, newest last.
type careActor struct{ grants []grant }

// grant is a break_glass action on a subject (by hash) at a time.
type grant struct {
	subj uint64
	at   int64
}

// maxGrants is how many break-glass subjects per actor are remembered;
// the oldest is forgotten first.
const maxGrants = 32

func newCare(c CareConfig) *care {
	b := &care{cfg: c, cats: categorySet(c.Categories), outcomes: c.Outcomes,
		cover: c.BreakGlassCover.Milliseconds(), lastSweep: noHour}
	for _, a := range c.Actions {
		b.actions |= actionBit(a)
	}
	b.grants = newTable[key](c.MaxActors, func(a *careActor) { a.grants = a.grants[:0] })
	return b
}

func actionBit(a event.Action) uint32 {
	if i := slices.Index(event.Actions(), a); i >= 0 {
		return 1 << i
	}
	return 0
}

var actionBits = func() map[event.Action]uint32 {
	m := map[event.Action]uint32{}
	for _, a := range event.Actions() {
		m[a] = actionBit(a)
	}
	return m
}()

func (b *care) Name() string             { return RuleCareRelationship }
func (b *care) Title() string            { return "Sensitive data read without a care relationship" }
func (b *care) Severity() event.Severity { return b.cfg.Severity }
func (b *care) Stats() Stats {
	return Stats{Tracked: b.grants.len(), Evicted: b.grants.evictions, Expired: b.grants.expired}
}
func (b *care) Device(*event.DeviceEvent, func(detector.Finding)) {}

func (b *care) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	if e.Actor.ID == "" {
		return
	}
	t := ms(e.OccurredAt)
	if e.Action == event.ActionBreakGlass {
		if e.Subject.ID != "" {
			a, _ := b.grants.get(key{e.Org, e.Actor.ID}, t)
			if len(a.grants) >= maxGrants {
				copy(a.grants, a.grants[1:])
				a.grants = a.grants[:maxGrants-1]
			}
			a.grants = append(a.grants, grant{hashString(e.Subject.ID), t})
		}
		return
	}
	if e.Relationship != event.RelationshipFalse || actionBits[e.Action]&b.actions == 0 ||
		!slices.Contains(b.outcomes, e.Outcome) || !hasCategory(e.Categories, b.cats) || b.attrsBreakGlass(e) {
		return
	}
	if a := b.grants.peek(key{e.Org, e.Actor.ID}); a != nil && e.Subject.ID != "" {
		h := hashString(e.Subject.ID)
		for _, g := range a.grants {
			if g.subj == h && g.at <= t && t-g.at <= b.cover {
				return
			}
		}
	}
	sev := b.cfg.Severity
	if e.Subject.Minor || e.Subject.VIP || slices.Contains(e.Categories, event.CategoryMinorData) {
		sev = event.SeverityCritical
	}
	f := actorFinding(RuleCareRelationship, b.Title(), sev, e)
	f.Explanation = b.explain(e)
	emit(f)
}

func (b *care) attrsBreakGlass(e *event.AccessEvent) bool {
	if len(b.cfg.BreakGlassAttrs) == 0 || len(e.Attrs) == 0 {
		return false
	}
	for k, v := range b.cfg.BreakGlassAttrs {
		if e.Attrs[k] != v {
			return false
		}
	}
	return true
}

func (b *care) explain(e *event.AccessEvent) string {
	var cs []string
	for _, c := range e.Categories {
		if categoryBit(c)&b.cats != 0 {
			cs = append(cs, string(c))
		}
	}
	who := string(e.Subject.Type)
	if who == "" {
		who = "subject"
	}
	whose := "a " + who
	switch {
	case e.Subject.Minor && e.Subject.VIP:
		whose = "a " + who + " who is a minor and a VIP"
	case e.Subject.Minor:
		whose = "a " + who + " who is a minor"
	case e.Subject.VIP:
		whose = "a VIP " + who
	}
	return fmt.Sprintf("This actor %s the %s data of %s with whom it has no care relationship, outside any break-glass.",
		pastTense(e.Action), strings.Join(cs, " and "), whose)
}

// pastTense says what an action did: "read", "exported", ….
func pastTense(a event.Action) string {
	switch a {
	case event.ActionRead:
		return "read"
	case event.ActionSearch:
		return "searched"
	case event.ActionShare:
		return "shared"
	case event.ActionBreakGlass:
		return "broke the glass on"
	case event.ActionLogin:
		return "logged in to"
	}
	if strings.HasSuffix(string(a), "e") {
		return string(a) + "d" // updated, deleted
	}
	return string(a) + "ed" // exported, printed, downloaded
}

func (b *care) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	b.grants.expire(w.UnixMilli() - b.cover)
}

func (b *care) MarshalState() ([]byte, error) {
	return marshalTable(b.Name(), b.lastSweep, b.grants, func(w *wbuf, a *careActor) {
		w.u(uint64(len(a.grants)))
		for _, g := range a.grants {
			w.h(g.subj)
			w.i(g.at)
		}
	}), nil
}

func (b *care) UnmarshalState(data []byte) error {
	return unmarshalTable(data, b.Name(), &b.lastSweep, b.grants, func(r *rbuf, a *careActor) {
		m := r.n(maxGrants)
		for range m {
			a.grants = append(a.grants, grant{r.h(), r.i()})
		}
	})
}

// breakGlass is the break_glass_burst behaviour.
type breakGlass struct {
	cfg       BreakGlassConfig
	actors    *table[key, bgActor]
	window    int64
	subjWin   int64
	lastSweep int64
}

// bgActor holds an actor's last burst_actions break-glass events and the
// last distinct_subjects distinct subjects, oldest first.
type bgActor struct {
	recent   []bgEvent
	subjects []bgEvent // one per subject, at its latest break-glass
}

// bgEvent is an event kept for a burst: when, whose, its id, and whether
// a finding covered it already (its Count counted it).
type bgEvent struct {
	at      int64
	subject string
	id      string
	covered bool
}

// cover fills f's start, count, evidence and subjects with the events of
// evs (oldest first) that no finding covered yet, marks them covered in
// evs and in each of also (the same event may be kept in several lists),
// and returns the earliest event's time.
func cover(f *detector.Finding, evs []bgEvent, also ...[]bgEvent) {
	f.Count, f.Evidence, f.Subjects = 0, nil, nil
	for i := range evs {
		x := &evs[i]
		if x.covered {
			continue
		}
		x.covered = true
		for _, l := range also {
			for j := range l {
				if l[j].at == x.at && l[j].id == x.id {
					l[j].covered = true
				}
			}
		}
		if f.Count == 0 {
			f.Start = tm(x.at)
		}
		f.Count++
		if x.id != "" {
			f.Evidence = append(f.Evidence, x.id)
		}
		if x.subject != "" && !slices.Contains(f.Subjects, x.subject) {
			f.Subjects = append(f.Subjects, x.subject)
		}
	}
}

func newBreakGlass(c BreakGlassConfig) *breakGlass {
	return &breakGlass{
		cfg:       c,
		window:    c.BurstWindow.Milliseconds(),
		subjWin:   c.SubjectsWindow.Milliseconds(),
		lastSweep: noHour,
		actors: newTable[key](c.MaxActors, func(a *bgActor) {
			*a = bgActor{recent: a.recent[:0], subjects: a.subjects[:0]}
		}),
	}
}

func (b *breakGlass) Name() string             { return RuleBreakGlassBurst }
func (b *breakGlass) Title() string            { return "Break-glass burst" }
func (b *breakGlass) Severity() event.Severity { return b.cfg.Severity }
func (b *breakGlass) Stats() Stats {
	return Stats{Tracked: b.actors.len(), Evicted: b.actors.evictions, Expired: b.actors.expired}
}
func (b *breakGlass) Device(*event.DeviceEvent, func(detector.Finding)) {}

func (b *breakGlass) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	if e.Action != event.ActionBreakGlass || e.Actor.ID == "" {
		return
	}
	t := ms(e.OccurredAt)
	a, _ := b.actors.get(key{e.Org, e.Actor.ID}, t)
	ev := bgEvent{at: t, subject: strings.Clone(e.Subject.ID), id: strings.Clone(e.EventID)}
	a.recent = pushBounded(a.recent, ev, b.cfg.BurstActions)
	if ev.subject != "" {
		i := slices.IndexFunc(a.subjects, func(x bgEvent) bool { return x.subject == ev.subject })
		if i >= 0 {
			a.subjects = slices.Delete(a.subjects, i, i+1)
		}
		a.subjects = pushBounded(a.subjects, ev, b.cfg.DistinctSubjects)
	}
	burst := len(a.recent) == b.cfg.BurstActions && spanOK(a.recent, b.window)
	many := len(a.subjects) == b.cfg.DistinctSubjects && spanOK(a.subjects, b.subjWin)
	if !burst && !many {
		return
	}
	f := actorFinding(RuleBreakGlassBurst, b.Title(), b.cfg.Severity, e)
	var why string
	if burst {
		cover(&f, a.recent, a.subjects)
		why = fmt.Sprintf("This actor used break-glass %s within %s (usual: an occasional emergency).",
			plural(int64(len(a.recent)), "time", "times"), ago(time.Duration(t-a.recent[0].at)*time.Millisecond))
	} else {
		cover(&f, a.subjects, a.recent)
		why = fmt.Sprintf("This actor used break-glass on %d distinct subjects within %s (usual: an occasional emergency).",
			len(a.subjects), ago(time.Duration(t-a.subjects[0].at)*time.Millisecond))
	}
	f.Explanation = why
	emit(f)
}

// pushBounded appends v, dropping the oldest entries beyond n.
func pushBounded(s []bgEvent, v bgEvent, n int) []bgEvent {
	if len(s) >= n {
		k := len(s) - n + 1
		copy(s, s[k:])
		s = s[:len(s)-k]
	}
	return append(s, v)
}

// spanOK reports whether the events (oldest first) lie within window.
func spanOK(s []bgEvent, window int64) bool {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, x := range s {
		lo, hi = min(lo, x.at), max(hi, x.at)
	}
	return hi-lo <= window
}

func (b *breakGlass) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= b.lastSweep {
		return
	}
	b.lastSweep = h
	b.actors.expire(w.UnixMilli() - max(b.window, b.subjWin))
}

func writeBG(w *wbuf, s []bgEvent) {
	w.u(uint64(len(s)))
	for _, x := range s {
		w.i(x.at)
		w.s(x.subject)
		w.s(x.id)
		w.bool(x.covered)
	}
}

func readBG(r *rbuf, dst []bgEvent) []bgEvent {
	n := r.n(maxBurst)
	for range n {
		dst = append(dst, bgEvent{at: r.i(), subject: r.s(), id: r.s(), covered: r.bool()})
	}
	return dst
}

func (b *breakGlass) MarshalState() ([]byte, error) {
	return marshalTable(b.Name(), b.lastSweep, b.actors, func(w *wbuf, a *bgActor) {
		writeBG(w, a.recent)
		writeBG(w, a.subjects)
	}), nil
}

func (b *breakGlass) UnmarshalState(data []byte) error {
	return unmarshalTable(data, b.Name(), &b.lastSweep, b.actors, func(r *rbuf, a *bgActor) {
		a.recent = readBG(r, a.recent)
		a.subjects = readBG(r, a.subjects)
	})
}
