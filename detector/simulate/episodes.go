package simulate

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

// An episode is a run of related events generated together: a benign
// scenario (break-glass, ward rounds, a scheduled export, an app
// registration) or a labelled incident. Its events wait in the generator's
// heap until their time comes.
type episode struct {
	kind   Kind   // "" for a benign scenario
	label  *Label // nil for a benign scenario
	acc    []event.AccessEvent
	dev    []event.DeviceEvent
	left   int   // events not emitted yet
	lastAt int64 // occurred_at of the last event emitted, Unix ms
}

// builder collects an episode's events and the subjects they touch.
type builder struct {
	ep       episode
	subjects []string
	seen     map[string]bool
}

func (b *builder) access(e event.AccessEvent) {
	b.ep.acc = append(b.ep.acc, e)
	if id := e.Subject.ID; id != "" && e.Subject.Type != event.SubjectDoctor {
		if b.seen == nil {
			b.seen = map[string]bool{}
		}
		if !b.seen[id] {
			b.seen[id] = true
			b.subjects = append(b.subjects, id)
		}
	}
}

func (b *builder) device(e event.DeviceEvent) { b.ep.dev = append(b.ep.dev, e) }

// submit queues the episode's events. An episode that would not finish
// before the end of the run is dropped whole, so that no incident is ever
// half in the stream; submit reports whether it was queued.
func (g *gen) submit(b *builder, end int64) bool {
	ep := &b.ep
	// Events in time order, and subjects in order of first access.
	slices.SortStableFunc(ep.acc, func(x, y event.AccessEvent) int { return x.OccurredAt.Compare(y.OccurredAt.Time) })
	slices.SortStableFunc(ep.dev, func(x, y event.DeviceEvent) int { return x.OccurredAt.Compare(y.OccurredAt.Time) })
	b.subjects, b.seen = b.subjects[:0], map[string]bool{}
	for i := range ep.acc {
		if s := ep.acc[i].Subject; s.ID != "" && s.Type != event.SubjectDoctor && !b.seen[s.ID] {
			b.seen[s.ID] = true
			b.subjects = append(b.subjects, s.ID)
		}
	}
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range ep.acc {
		at := ep.acc[i].OccurredAt.UnixMilli()
		first, last = min(first, at), max(last, at)
	}
	for i := range ep.dev {
		at := ep.dev[i].OccurredAt.UnixMilli()
		first, last = min(first, at), max(last, at)
	}
	if first > last || last >= end {
		return false
	}
	e := new(episode)
	*e = *ep
	e.left = len(e.acc) + len(e.dev)
	if e.label != nil {
		e.label.Start, e.label.End = ts(first), ts(last)
		e.label.SubjectIDs = b.subjects
		if g.tok != nil {
			e.label.SubjectTokens = g.tokens(pseudo.Person, b.subjects)
			e.label.AccountTokens = g.tokens(pseudo.Person, e.label.AccountIDs)
			if e.label.ActorID != "" {
				e.label.ActorToken = g.tok.Token(pseudo.Person, e.label.ActorID)
			}
			if e.label.DeviceID != "" {
				e.label.DeviceToken = g.tok.Token(pseudo.Device, e.label.DeviceID)
			}
		}
		e.label.EventIDs = make([]string, 0, e.left)
	}
	for i := range e.acc {
		g.heap.push(item{at: e.acc[i].OccurredAt.UnixMilli(), ord: g.nextOrd(), idx: int32(i), ep: e})
	}
	for i := range e.dev {
		g.heap.push(item{at: e.dev[i].OccurredAt.UnixMilli(), ord: g.nextOrd(), dev: true, idx: int32(i), ep: e})
	}
	return true
}

func (g *gen) tokens(ns pseudo.Namespace, ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = g.tok.Token(ns, id)
	}
	return out
}

// base is an access by person ai at ms from client cl.
func (g *gen) base(o *org, ai int32, ms int64, cl event.Client, session string) event.AccessEvent {
	a := &o.actors[ai]
	return event.AccessEvent{OccurredAt: ts(ms), Org: o.id, Actor: a.ident, Client: cl, SessionID: session,
		Attrs: a.attrs, Outcome: ok, Relationship: relT, RecordCount: 1}
}

func (g *gen) session(o *org, ai int32, t time.Time) string {
	a := &o.actors[ai]
	day := o.localDay(t)
	if a.shift == shiftNight && o.localHour(t) < 8 {
		day--
	}
	return a.sessionID(g.w.seed, day)
}

func newSession(r *rng) string { return fmt.Sprintf("ses-%x", r.u64()>>20) }

func minutes(m float64) int64 { return int64(m * 60000) }

// mins is minutes for incidents: scaled by g.speed, which the demo burst
// (Config.FirstIncidentsAfter) sets so that every incident plays out
// within a few minutes.
func (g *gen) mins(m float64) int64 { return int64(m * 60000 * g.speed) }

// span says how long m minutes of an incident last, for descriptions.
func (g *gen) span(m float64) string {
	d := time.Duration(m * g.speed * float64(time.Minute))
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	}
	if d < 2*time.Minute {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}

// spread returns n sorted offsets in [0, span) ms, the first 0: an
// episode starts at its time.
func spread(r *rng, n int, span int64) []int64 {
	out := make([]int64, n)
	for i := 1; i < n; i++ {
		out[i] = int64(r.float() * float64(span))
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ---- Benign scenarios ------------------------------------------------------

// scheduleScenarios queues the benign scenarios of [from, to).
func (g *gen) scheduleScenarios(from, to time.Time, end int64) {
	r := g.sc
	span := to.Sub(from)
	hours := span.Hours()
	at := func() time.Time { return from.Add(time.Duration(r.float() * float64(span))) }
	for _, o := range g.w.orgs {
		// Legitimate break-glass in the emergency department.
		for range r.poisson((0.2 + float64(o.nHumans)/3000) * hours) {
			g.breakGlass(r, o, at(), end)
		}
		// Ward rounds: a doctor reads many of their own patients.
		for q := time.Duration(0); q < span; q += 15 * time.Minute {
			tq := from.Add(q)
			if h := o.localHour(tq); h >= 8 && h < 11 {
				n := r.poisson(float64(len(o.byRole[roleDoctor])) * 0.72 * 0.3 / 12 * min(1, (span-q).Hours()*4))
				for range n {
					g.rounds(r, o, tq.Add(time.Duration(r.float()*float64(15*time.Minute))), end)
				}
			}
		}
		// The nightly regulatory report, 02:00 local.
		for d := o.localDay(from) - 1; d <= o.localDay(to); d++ {
			t2 := time.Date(1970, 1, 1, 2, 0, 0, 0, o.loc).AddDate(0, 0, int(d))
			if !t2.Before(from) && t2.Before(to) {
				g.scheduledExport(r, o, t2.Add(time.Duration(r.intn(600))*time.Second), end)
			}
		}
		// New app users register.
		lam := float64(len(o.users)) * 0.004 / 24 * hours * appDiurnal[o.localHour(from)] / g.devW
		for range r.poisson(lam) {
			g.registration(r, o, at(), end)
		}
	}
}

// breakGlass: an emergency doctor opens the record of a patient not yet
// under their care with break-glass, then reads it a few times. The
// relationship is false and the attrs say access_mode=break_glass.
func (g *gen) breakGlass(r *rng, o *org, t time.Time, end int64) {
	ai := g.pickIn(r, o, t, func(a *actor, _ int32) bool { return a.role == roleDoctor && a.dept == deptEmergency }, true, busyAny)
	if ai < 0 {
		return
	}
	a := &o.actors[ai]
	p := &o.patients[o.nonVIP(r)]
	attrs := map[string]string{"access_mode": "break_glass"}
	for k, v := range a.attrs {
		attrs[k] = v
	}
	var b builder
	ms := t.UnixMilli()
	cl, ses := a.clients[0], g.session(o, ai, t)
	e := g.base(o, ai, ms, cl, ses)
	e.Action, e.Subject, e.Relationship = event.ActionBreakGlass, p.subject(event.SubjectPatient), relF
	e.Categories, e.Purpose, e.Attrs = forSubject(catHealthRx, p.minor()), "emergency treatment", attrs
	b.access(e)
	for _, off := range spread(r, r.between(2, 6), minutes(40)) {
		e := g.base(o, ai, ms+minutes(1)+off, cl, ses)
		e.Action, e.Subject, e.Relationship = event.ActionRead, p.subject(event.SubjectPatient), relF
		e.Categories = forSubject([][]event.Category{catHealth, catPrescription, catHealthRx}[r.intn(3)], p.minor())
		e.Purpose, e.Attrs = "emergency treatment", attrs
		b.access(e)
	}
	g.submit(&b, end)
}

// rounds: a day-shift doctor reads most of their panel in under an hour,
// all with relationship true.
func (g *gen) rounds(r *rng, o *org, t time.Time, end int64) {
	day := o.localDay(t)
	ai := g.pickIn(r, o, t, func(a *actor, _ int32) bool {
		return a.role == roleDoctor && a.shift == shiftDay && a.dept != deptEmergency && len(a.panel) >= 10 && a.roundsDay != day
	}, true, busyAny)
	if ai < 0 {
		return
	}
	a := &o.actors[ai]
	a.roundsDay = day
	n := min(35, len(a.panel)*r.between(60, 85)/100)
	start := r.intn(len(a.panel))
	var b builder
	ms := t.UnixMilli()
	ses := g.session(o, ai, t)
	cl := a.clients[r.intn(2)]
	for k, off := range spread(r, n, minutes(float64(r.between(25, 45)))) {
		p := &o.patients[a.panel[(start+k)%len(a.panel)]]
		e := g.base(o, ai, ms+off, cl, ses)
		e.Action, e.Subject = event.ActionRead, p.subject(event.SubjectPatient)
		e.Categories, e.Purpose = forSubject([][]event.Category{catHealth, catHealthRx}[r.intn(2)], p.minor()), "ward round"
		b.access(e)
	}
	g.submit(&b, end)
}

// scheduledExport: the reporting service exports thousands of records at
// night, as it does every night.
func (g *gen) scheduledExport(r *rng, o *org, t time.Time, end int64) {
	ai := o.services[svcReporting]
	a := &o.actors[ai]
	attrs := map[string]string{"account_kind": "service", "job": "nightly-regulatory-report"}
	var b builder
	ms := t.UnixMilli()
	for i := range r.between(1, 3) {
		p := &o.patients[o.nonVIP(r)]
		e := g.base(o, ai, ms+int64(i)*minutes(float64(r.between(2, 8))), a.clients[0], "")
		e.Action, e.Subject, e.Relationship = event.ActionExport, p.subject(event.SubjectPatient), relU
		e.Categories = [][]event.Category{services[svcReporting].cat, catFinancial}[r.intn(2)]
		e.RecordCount = int64(r.between(2000, 20000))
		e.Purpose, e.Attrs = "scheduled regulatory report", attrs
		b.access(e)
	}
	g.submit(&b, end)
}

// registration: a new app user registers, passes real-name and face
// checks and logs in; now and then on a rooted phone (1.5% of Android
// phones).
func (g *gen) registration(r *rng, o *org, t time.Time, end int64) {
	d := o.makeDevice(r, false)
	account := fmt.Sprintf("APP-%s-%08d", o.spec.code, r.intn(100_000_000))
	var b builder
	ms := t.UnixMilli()
	steps := []struct {
		kind event.DeviceKind
		gap  float64
	}{{event.KindRegister, 0}, {event.KindRealnameAuth, 1 + r.float()*2}, {event.KindFaceVerify, 0.5 + r.float()*1.5}, {event.KindLogin, r.float()}}
	for _, s := range steps {
		ms += minutes(s.gap)
		var e event.DeviceEvent
		fillDevice(r, &e, o, account, &d, s.kind, ms)
		b.device(e)
	}
	g.submit(&b, end)
}

// ---- Picking people ----------------------------------------------------------

// pickIn returns a person of o for whom pred holds, who is free by the
// busy rule and, with working, on shift at t (not abroad); -1 if none.
func (g *gen) pickIn(r *rng, o *org, t time.Time, pred func(*actor, int32) bool, working bool, busy busyRule) int32 {
	okAt := func(ai int32) bool {
		a := &o.actors[ai]
		if !pred(a, ai) {
			return false
		}
		if working {
			if st, v := g.w.onShift(o, ai, t); st != dayWork || v == 0 {
				return false
			}
		}
		return g.free(o, ai, t, busy)
	}
	for range 200 {
		if ai := int32(r.intn(o.nHumans)); okAt(ai) {
			return ai
		}
	}
	start := r.intn(o.nHumans)
	for k := range o.nHumans {
		if ai := int32((start + k) % o.nHumans); okAt(ai) {
			return ai
		}
	}
	return -1
}

// busyRule says which people an incident may not pick: by default those
// in another incident within busyMargin (so that a detector's windows
// never merge two incidents), or, when no one else is at hand (a small
// population, many incidents), only those in an incident at the time.
type busyRule uint8

const (
	busyAny     busyRule = iota // anyone (benign scenarios)
	busyMargin                  // not within incidentMargin of another incident
	busyOverlap                 // not during another incident
)

const incidentMargin = 6 * time.Hour

func busyKey(o *org, ai int32) uint64 { return uint64(o.idx)<<32 | uint64(uint32(ai)) }

func (g *gen) free(o *org, ai int32, t time.Time, rule busyRule) bool {
	iv, ok := g.busyIv[busyKey(o, ai)]
	if !ok || rule == busyAny {
		return true
	}
	m := int64(0)
	if rule == busyMargin {
		m = incidentMargin.Milliseconds()
	}
	ms := t.UnixMilli()
	return ms < iv[0]-m || ms > iv[1]+m
}

// find looks for a person for an incident at t or, failing that, every
// half hour up to a day later, in the orgs in a random order.
func (g *gen) find(r *rng, t time.Time, pred func(o *org, t time.Time, a *actor, ai int32) bool, working bool) (*org, int32, time.Time) {
	n := len(g.w.orgs)
	for step := range 48 {
		tt := t.Add(time.Duration(step) * 30 * time.Minute)
		first := r.intn(n)
		for k := range n {
			o := g.w.orgs[(first+k)%n]
			p := func(a *actor, ai int32) bool { return pred(o, tt, a, ai) }
			if ai := g.pickIn(r, o, tt, p, working, busyMargin); ai >= 0 {
				return o, ai, tt
			}
		}
		for k := range n {
			o := g.w.orgs[(first+k)%n]
			p := func(a *actor, ai int32) bool { return pred(o, tt, a, ai) }
			if ai := g.pickIn(r, o, tt, p, working, busyOverlap); ai >= 0 {
				return o, ai, tt
			}
		}
	}
	return nil, -1, t
}

// ---- Incidents ---------------------------------------------------------------

// incident builds and queues one incident of kind k at about t; it reports
// whether one was queued (false: no suitable actor, or it would not end
// before the run does).
func (g *gen) incident(k Kind, t time.Time, end int64) bool {
	r := g.inc
	g.incSeq++
	l := &Label{ID: fmt.Sprintf("%sinc-%d", g.prefix, g.incSeq), Kind: k, Stream: k.Stream()}
	b := &builder{ep: episode{kind: k, label: l}}
	var o *org
	var ai int32 = -1
	switch k {
	case KindVIPSnooping:
		o, ai = g.vipSnooping(r, b, t)
	case KindBulkExport:
		o, ai = g.bulkExport(r, b, t)
	case KindOffHoursBrowsing:
		o, ai = g.offHours(r, b, t)
	case KindNoRelationshipAccess:
		o, ai = g.noRelationship(r, b, t)
	case KindDeniedBurst:
		o, ai = g.deniedBurst(r, b, t)
	case KindCompromisedAccount:
		o, ai = g.compromised(r, b, t)
	case KindDepartingExfil:
		o, ai = g.departing(r, b, t)
	case KindDeviceFarm:
		o = g.deviceFarm(r, b, t)
	case KindEmulatorRealname:
		o = g.emulator(r, b, t)
	case KindDormantAccount:
		// Its own rng stream: the other kinds' incidents stay the same.
		if d := g.dormantWake(g.dorm, b, t); d != nil {
			o, l.ActorID = d.o, d.ident.ID
		}
	}
	if o == nil {
		return false
	}
	l.Org = o.id
	if ai >= 0 {
		l.ActorID = o.actors[ai].id
	}
	if !g.submit(b, end) {
		return false
	}
	if ai >= 0 {
		g.busyIv[busyKey(o, ai)] = [2]int64{l.Start.UnixMilli(), l.End.UnixMilli()}
	}
	return true
}

// maxDuration is the longest an incident of each kind lasts (before the
// demo speed-up), so that a bounded run places incidents early enough to
// end before it does.
var maxDuration = map[Kind]time.Duration{
	KindVIPSnooping:          140 * time.Minute,
	KindBulkExport:           60 * time.Minute,
	KindOffHoursBrowsing:     90 * time.Minute,
	KindNoRelationshipAccess: 30 * time.Minute,
	KindDeniedBurst:          12 * time.Minute,
	KindCompromisedAccount:   70 * time.Minute,
	KindDepartingExfil:       125 * time.Minute,
	KindDeviceFarm:           200 * time.Minute,
	KindEmulatorRealname:     15 * time.Minute,
	KindDormantAccount:       65 * time.Minute,
}

// Roles that handle patients' records at the front line.
func patientFacing(a *actor) bool {
	return a.service < 0 && a.role != roleITAdmin && a.role != roleSupport && a.role != roleRecordsAdmin
}

func describe(a *actor) string {
	return fmt.Sprintf("%s (%s, %s)", a.id, a.ident.Role, a.ident.Department)
}

// vipSnooping: someone outside the VIP's care opens their record: maybe a
// search for the name first, then one to four reads with relationship
// false.
func (g *gen) vipSnooping(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, _ time.Time, a *actor, _ int32) bool {
		return patientFacing(a) && !a.departing && a.role != roleBilling
	}, true)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	var vips []*patient
	for range r.between(1, 2) {
		for range 50 {
			p := &o.patients[o.vips[r.intn(len(o.vips))]]
			if p.dept != a.dept && p.doctor != ai && (len(vips) == 0 || vips[0] != p) {
				vips = append(vips, p)
				break
			}
		}
	}
	if len(vips) == 0 {
		return nil, -1
	}
	ms := tt.UnixMilli()
	cl, ses := a.clients[r.intn(2)], g.session(o, ai, tt)
	for _, p := range vips {
		if r.chance(0.4) {
			e := g.base(o, ai, ms, cl, ses)
			e.Action, e.Subject, e.Relationship = event.ActionSearch, p.subject(event.SubjectPatient), relU
			e.Categories, e.RecordCount = forSubject(catContact, p.minor()), int64(r.between(1, 4))
			b.access(e)
			ms += g.mins(0.2 + r.float())
		}
		for _, off := range spread(r, r.between(1, 4), g.mins(float64(r.between(2, 25)))) {
			e := g.base(o, ai, ms+off, cl, ses)
			e.Action, e.Subject, e.Relationship = event.ActionRead, p.subject(event.SubjectPatient), relF
			e.Categories = forSubject([][]event.Category{catHealth, catHealthRx, catContactID, catHealthContact}[r.intn(4)], p.minor())
			if r.chance(0.5) {
				e.Purpose = "treatment"
			}
			b.access(e)
		}
		ms += g.mins(float64(r.between(26, 40)))
	}
	b.ep.label.Description = fmt.Sprintf("%s opened the record of %d VIP patient(s) outside their care, without a care relationship", describe(a), len(vips))
	return o, ai
}

// bulkExport: either a few exports of thousands of records each, or a
// stream of exports of one patient after another.
func (g *gen) bulkExport(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, _ time.Time, a *actor, _ int32) bool {
		return !a.departing && (a.role == roleDoctor || a.role == roleNurse || a.role == roleBilling ||
			a.role == roleRegistration || a.role == roleRecordsAdmin)
	}, true)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	ms := tt.UnixMilli()
	cl, ses := a.clients[0], g.session(o, ai, tt)
	if r.chance(0.6) {
		n := r.between(1, 4)
		var total int64
		for _, off := range spread(r, n, g.mins(30)) {
			p := &o.patients[o.nonVIP(r)]
			e := g.base(o, ai, ms+off, cl, ses)
			e.Action, e.Subject, e.Relationship = event.ActionExport, p.subject(event.SubjectPatient), relU
			if r.chance(0.3) {
				e.Action = event.ActionDownload
			}
			e.Categories = forSubject(catExportBulk, p.minor())
			e.RecordCount = int64(math.Round(1000 * math.Pow(20, r.float())))
			total += e.RecordCount
			b.access(e)
		}
		b.ep.label.Description = fmt.Sprintf("%s exported %d records in %d export(s) within %s", describe(a), total, n, g.span(30))
		return o, ai
	}
	n := r.between(60, 160)
	dur := r.between(20, 50)
	for _, off := range spread(r, n, g.mins(float64(dur))) {
		var p *patient
		for {
			p = &o.patients[o.nonVIP(r)]
			if !b.seen[p.id] {
				break
			}
		}
		e := g.base(o, ai, ms+off, cl, ses)
		e.Action, e.Subject, e.Relationship = event.ActionExport, p.subject(event.SubjectPatient), relU
		if p.doctor == ai {
			e.Relationship = relT
		}
		if r.chance(0.3) {
			e.Action = event.ActionDownload
		}
		e.Categories = forSubject([][]event.Category{catHealth, catHealthID}[r.intn(2)], p.minor())
		e.RecordCount = int64(r.between(1, 5))
		b.access(e)
	}
	b.ep.label.Description = fmt.Sprintf("%s exported the records of %d patients one by one within %s", describe(a), n, g.span(float64(dur)))
	return o, ai
}

// offHours: a day-shift person logs in from home in the middle of the
// night and reads sensitive records (their own patients or anyone's,
// never with relationship false).
func (g *gen) offHours(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, tt time.Time, a *actor, _ int32) bool {
		h := o.localHour(tt)
		return (h >= 22 || h < 4) && a.shift == shiftDay && !a.canTravel && !a.departing &&
			(a.role == roleDoctor || a.role == roleNurse || a.role == roleBilling || a.role == roleRegistration ||
				a.role == rolePharmacist || a.role == roleLab)
	}, false)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	ms := tt.UnixMilli()
	cl, ses := a.home, newSession(r)
	e := g.base(o, ai, ms, cl, ses)
	e.Action, e.Relationship, e.RecordCount = event.ActionLogin, relU, 0
	b.access(e)
	n := r.between(4, 12)
	for _, off := range spread(r, n, g.mins(float64(r.between(20, 80)))) {
		var p *patient
		rel := relT
		switch {
		case len(a.panel) > 0 && r.chance(0.6):
			p = &o.patients[a.panel[r.intn(len(a.panel))]]
		case a.dept < nClinical && r.chance(0.5):
			pats := o.deptPats[a.dept]
			p = &o.patients[pats[r.intn(len(pats))]]
		default:
			p, rel = &o.patients[o.nonVIP(r)], relU
		}
		e := g.base(o, ai, ms+g.mins(0.5)+off, cl, ses)
		e.Action, e.Subject, e.Relationship = event.ActionRead, p.subject(event.SubjectPatient), rel
		e.Categories = forSubject([][]event.Category{catHealth, catHealthRx, catPrescription, catHealthID}[r.intn(4)], p.minor())
		b.access(e)
	}
	b.ep.label.Description = fmt.Sprintf("%s, who works day shifts, read %d sensitive records from home at %02d:%02d local time",
		describe(a), n, tt.In(o.loc).Hour(), tt.In(o.loc).Minute())
	return o, ai
}

// noRelationship: someone reads the health, prescription or biometric data
// of one or two patients outside their care, relationship false, no
// break-glass.
func (g *gen) noRelationship(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, _ time.Time, a *actor, _ int32) bool {
		return patientFacing(a) && !a.departing
	}, true)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	ms := tt.UnixMilli()
	cl, ses := a.clients[r.intn(2)], g.session(o, ai, tt)
	nSubj := r.between(1, 2)
	reads := 0
	for range nSubj {
		var p *patient
		for {
			p = &o.patients[o.nonVIP(r)]
			if p.dept != a.dept && p.doctor != ai && !b.seen[p.id] {
				break
			}
		}
		for _, off := range spread(r, r.between(1, 3), g.mins(6)) {
			e := g.base(o, ai, ms+off, cl, ses)
			e.Action, e.Subject, e.Relationship = event.ActionRead, p.subject(event.SubjectPatient), relF
			c := [][]event.Category{catHealth, catPrescription, catHealthRx, catHealth, catBiometric}[r.intn(5)]
			e.Categories = forSubject(c, p.minor())
			b.access(e)
			reads++
		}
		ms += g.mins(float64(r.between(2, 8)))
	}
	b.ep.label.Description = fmt.Sprintf("%s read sensitive data of %d patient(s) outside their care (%d reads, relationship false, no break-glass)",
		describe(a), nSubj, reads)
	return o, ai
}

// deniedBurst: someone is refused dozens of times within minutes, trying
// one record after another.
func (g *gen) deniedBurst(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, _ time.Time, a *actor, _ int32) bool {
		return a.service < 0 && !a.departing
	}, true)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	ms := tt.UnixMilli()
	cl, ses := a.clients[0], g.session(o, ai, tt)
	n := r.between(12, 40)
	dur := r.between(2, 10)
	actions := []event.Action{event.ActionRead, event.ActionRead, event.ActionRead, event.ActionRead,
		event.ActionRead, event.ActionRead, event.ActionRead, event.ActionSearch, event.ActionExport, event.ActionPrint}
	for _, off := range spread(r, n, g.mins(float64(dur))) {
		p := &o.patients[o.nonVIP(r)]
		e := g.base(o, ai, ms+off, cl, ses)
		e.Action, e.Subject, e.Relationship, e.Outcome = actions[r.intn(len(actions))], p.subject(event.SubjectPatient), relF, den
		e.Categories = forSubject([][]event.Category{catHealth, catHealthRx, catIDNumber}[r.intn(3)], p.minor())
		e.RecordCount = 0
		b.access(e)
	}
	b.ep.label.Description = fmt.Sprintf("%s was denied access %d times within %s", describe(a), n, g.span(float64(dur)))
	return o, ai
}

// compromised: the actor works at the hospital as usual; within minutes
// someone logs in with their account from a place too far away to have
// travelled to, on a device and network never seen, and reads records.
func (g *gen) compromised(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, _ time.Time, a *actor, _ int32) bool {
		return patientFacing(a) && !a.departing && a.shift != shiftOnCall
	}, true)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	// Where from: abroad, or a far city of the same country.
	var dest place
	if len(o.spec.far) > 0 && r.chance(0.3) {
		dest = o.spec.far[r.intn(len(o.spec.far))]
	} else {
		for {
			dest = attackerPlaces[r.intn(len(attackerPlaces))]
			if dest.country != o.spec.home.country && distanceKm(o.spec.home, dest) >= 1500 {
				break
			}
		}
	}
	km := distanceKm(o.spec.home, dest)
	gapMax := max(5, min(45, int(km/2000*60)))
	gap := r.between(min(5, gapMax), gapMax)

	ms := tt.UnixMilli()
	ses := g.session(o, ai, tt)
	home := a.clients[0]
	readOwn := func(ms int64, cl event.Client, ses string) event.AccessEvent {
		var p *patient
		switch {
		case a.role == roleDoctor && a.dept != deptEmergency && len(a.panel) > 0:
			p = &o.patients[a.panel[r.intn(len(a.panel))]]
		case (a.role == roleDoctor || a.role == roleNurse) && len(o.deptPats[a.dept]) > 0:
			pats := o.deptPats[a.dept]
			p = &o.patients[pats[r.intn(len(pats))]]
		default:
			p = &o.patients[r.intn(len(o.patients))]
		}
		e := g.base(o, ai, ms, cl, ses)
		e.Action, e.Subject = event.ActionRead, p.subject(event.SubjectPatient)
		var c []event.Category
		switch a.role {
		case roleBilling:
			c = catFinContact
		case roleRegistration:
			c = catContactID
		case rolePharmacist:
			c = catPrescription
		case roleLab:
			c = catHealth
		default:
			c = [][]event.Category{catHealth, catContactID, catHealthID}[r.intn(3)]
		}
		e.Categories = forSubject(c, p.minor())
		return e
	}
	b.access(readOwn(ms, home, ses))

	var ip string
	switch r.intn(3) {
	case 0:
		ip = fmt.Sprintf("203.0.113.%d", r.between(1, 254))
	case 1:
		ip = fmt.Sprintf("198.51.100.%d", r.between(1, 254))
	default:
		ip = fmt.Sprintf("2001:db8:ffff:%x::%x", r.intn(0x10000), r.between(1, 0xfffe))
	}
	away := event.Client{IP: ip, UserAgent: uaAttackers[r.intn(len(uaAttackers))],
		DeviceID: fmt.Sprintf("PC-%016x", r.u64()), Geo: placeGeo(dest)}
	aSes := newSession(r)
	ms += g.mins(float64(gap))
	e := g.base(o, ai, ms, away, aSes)
	e.Action, e.Relationship, e.RecordCount = event.ActionLogin, relU, 0
	b.access(e)
	n := r.between(3, 8)
	for _, off := range spread(r, n, g.mins(float64(r.between(2, 20)))) {
		b.access(readOwn(ms+g.mins(0.3)+off, away, aSes))
	}
	b.ep.label.Description = fmt.Sprintf("%s worked in %s, and %s later the account logged in from %s, %s (%.0f km away) on a new device and read %d records",
		describe(a), o.spec.home.city, g.span(float64(gap)), dest.city, dest.country, km, n)
	return o, ai
}

// departing: a person on notice reads (and prints, and exports a few of)
// the contact and identity data of far more patients than anyone's work
// needs, within one or two hours.
func (g *gen) departing(r *rng, b *builder, t time.Time) (*org, int32) {
	o, ai, tt := g.find(r, t, func(o *org, _ time.Time, a *actor, _ int32) bool { return a.departing }, true)
	if o == nil {
		return nil, -1
	}
	a := &o.actors[ai]
	ms := tt.UnixMilli()
	cl, ses := a.clients[0], g.session(o, ai, tt)
	n := r.between(150, 300)
	dur := r.between(60, 120)
	exports := 0
	for k, off := range spread(r, n, g.mins(float64(dur))) {
		var pi int32
		for {
			if k < len(a.panel) && k%2 == 0 {
				pi = a.panel[(k/2)%len(a.panel)]
			} else {
				pi = o.nonVIP(r)
			}
			if !b.seen[o.patients[pi].id] && !o.patients[pi].vip() {
				break
			}
			k++
		}
		p := &o.patients[pi]
		e := g.base(o, ai, ms+off, cl, ses)
		e.Subject, e.Relationship = p.subject(event.SubjectPatient), relU
		if p.doctor == ai {
			e.Relationship = relT
		}
		switch u := r.float(); {
		case u < 0.06 && exports < 8:
			e.Action, e.RecordCount = event.ActionExport, int64(r.between(1, 20))
			exports++
		case u < 0.14:
			e.Action = event.ActionPrint
		case u < 0.3:
			e.Action, e.RecordCount = event.ActionSearch, int64(r.between(1, 10))
		default:
			e.Action = event.ActionRead
		}
		e.Categories = forSubject([][]event.Category{catContact, catContactID, catContactID, catContactHealth}[r.intn(4)], p.minor())
		b.access(e)
	}
	b.ep.label.Description = fmt.Sprintf("%s, on notice, touched the contact and identity data of %d patients within %s",
		describe(a), n, g.span(float64(dur)))
	return o, ai
}

// deviceFarm: one phone registers or logs in a dozen or more accounts
// within hours, binding cards and paying for promotions.
func (g *gen) deviceFarm(r *rng, b *builder, t time.Time) *org {
	o := g.w.orgs[r.intn(len(g.w.orgs))]
	d := o.makeDevice(r, false)
	d.rooted = r.chance(0.3)
	d.ip = fmt.Sprintf("198.51.100.%d", r.between(1, 254))
	d.bssid = ""
	multi, proxy := r.chance(0.6), r.chance(0.5)
	n := r.between(8, 20)
	span := g.mins(float64(r.between(30, 180)))
	ms := t.UnixMilli()
	l := b.ep.label
	for _, off := range spread(r, n, span) {
		var account string
		existing := r.chance(0.2)
		if existing {
			account = o.patients[o.users[r.intn(len(o.users))].patient].id
		} else {
			account = fmt.Sprintf("APP-%s-%08d", o.spec.code, r.intn(100_000_000))
		}
		l.AccountIDs = append(l.AccountIDs, account)
		at := ms + off
		kinds := []event.DeviceKind{event.KindRegister, event.KindLogin}
		if existing {
			kinds = kinds[1:]
		}
		if r.chance(0.5) {
			kinds = append(kinds, []event.DeviceKind{event.KindBindCard, event.KindPayment}[r.intn(2)])
		}
		for _, k := range kinds {
			var e event.DeviceEvent
			fillDevice(r, &e, o, account, &d, k, at)
			e.Signals.MultiOpen, e.Signals.ProxyOrVPN = multi, proxy
			e.Location = nil
			e.Outcome = ok
			b.device(e)
			at += g.mins(0.5 + r.float()*3)
		}
	}
	l.DeviceID = d.id
	b.ep.label.Description = fmt.Sprintf("one %s phone was used by %d accounts within %s", d.info().Model, n, g.span(float64(span)/60000/g.speed))
	return o
}

// emulator: real-name verification or a face check from an emulator or a
// device with a hook framework: a new account registering, or someone
// else's account being taken over.
func (g *gen) emulator(r *rng, b *builder, t time.Time) *org {
	o := g.w.orgs[r.intn(len(g.w.orgs))]
	d := o.makeDevice(r, false)
	d.model = uint8(len(deviceModels) + r.intn(len(emulatorModels)))
	d.id = hex16(r.u64()) // an Android id
	d.bssid = ""
	ms := t.UnixMilli()
	l := b.ep.label
	var account string
	var steps []event.DeviceKind
	var sig event.Signals
	newAccount := r.chance(0.65)
	if newAccount {
		account = fmt.Sprintf("APP-%s-%08d", o.spec.code, r.intn(100_000_000))
		steps = []event.DeviceKind{event.KindRegister, event.KindRealnameAuth, event.KindFaceVerify}
		sig = event.Signals{Emulator: true, HookFramework: r.chance(0.5), Rooted: r.chance(0.5)}
	} else {
		account = o.patients[o.users[r.intn(len(o.users))].patient].id
		steps = []event.DeviceKind{event.KindLogin, event.KindFaceVerify}
		if r.chance(0.4) {
			steps = append(steps, event.KindRealnameAuth)
		}
		sig = event.Signals{Emulator: r.chance(0.3), HookFramework: true, Rooted: true}
	}
	sig.ProxyOrVPN = r.chance(0.4)
	for _, k := range steps {
		var e event.DeviceEvent
		fillDevice(r, &e, o, account, &d, k, ms)
		e.Signals = sig
		e.Location = nil
		e.Outcome = ok
		if k == event.KindFaceVerify && r.chance(0.4) {
			e.Outcome = event.OutcomeFailure
		}
		b.device(e)
		ms += g.mins(1 + r.float()*4)
	}
	l.DeviceID, l.AccountIDs = d.id, []string{account}
	what := "an existing account"
	if newAccount {
		what = "a new account"
	}
	tool := "a hook framework"
	if sig.Emulator {
		tool = "an emulator"
	}
	b.ep.label.Description = fmt.Sprintf("%s passed real-name or face checks from %s (%s)", what, tool, d.info().Model)
	return o
}

// distanceKm is the great-circle distance between two places.
func distanceKm(a, b place) float64 {
	const rad = math.Pi / 180
	la1, la2 := a.lat*rad, b.lat*rad
	dla, dlo := (b.lat-a.lat)*rad, (b.lon-a.lon)*rad
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * 6371 * math.Asin(math.Sqrt(h))
}
