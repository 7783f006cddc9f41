package simulate

import (
	"slices"
	"strconv"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

// Background traffic: every person on shift and every service account,
// minute by minute, and the app users' devices.

// subjectMode says whose data an activity touches.
type subjectMode uint8

const (
	subjNone        subjectMode = iota // a login
	subjPanel                          // the doctor's own patients (emergency: anyone)
	subjDept                           // a patient of the actor's department
	subjOrg                            // any patient (VIPs included: the relationship is true)
	subjOrgNonVIP                      // any patient but VIPs (relationship unknown or false)
	subjAdultNonVIP                    // any adult patient but VIPs (relationship false on contact data)
	subjOtherDept                      // a patient of another department, not a VIP (denied attempts)
	subjUser                           // an app user, as subject type user
	subjUserNonVIP                     // an app user, not a VIP
	subjDoctorStaff                    // a doctor of the org, as subject type doctor
)

// activity is one thing a role does, with its weight in the role's mix.
type activity struct {
	w       float64
	action  event.Action
	cats    [][]event.Category
	subj    subjectMode
	rel     event.Relationship
	rcLo    int64
	rcHi    int64
	purpose string
	outcome event.Outcome
}

type roleMix struct {
	acts []activity
	w    weights
}

func mix(acts ...activity) roleMix {
	w := make([]float64, len(acts))
	for i, a := range acts {
		w[i] = a.w
	}
	return roleMix{acts: acts, w: newWeights(w...)}
}

func cs(sets ...[]event.Category) [][]event.Category { return sets }

const (
	relT = event.RelationshipTrue
	relF = event.RelationshipFalse
	relU = event.RelationshipUnknown
	ok   = event.OutcomeSuccess
	den  = event.OutcomeDenied
	fail = event.OutcomeError
)

func login(w float64) activity {
	return activity{w: w, action: event.ActionLogin, outcome: ok, rel: relU}
}

// denied is a refused attempt on a patient outside the actor's care; erred
// is a read the system failed.
func denied(subj subjectMode) activity {
	return activity{w: 0.4, action: event.ActionRead, cats: cs(catHealth, catHealthRx), subj: subj, rel: relF, outcome: den}
}

func erred(cats []event.Category, subj subjectMode, rel event.Relationship) activity {
	return activity{w: 0.3, action: event.ActionRead, cats: cs(cats), subj: subj, rel: rel, outcome: fail, rcLo: 1, rcHi: 1}
}

// roleMixes: what each role does. Care-related reads carry relationship
// true; searches and records work unknown; false appears only in denied
// attempts and in registration's contact lookups (not sensitive data).
var roleMixes = [nRoles]roleMix{
	roleDoctor: mix(
		activity{46, event.ActionRead, cs(catHealth, catHealthRx, catPrescription, catHealthContact), subjPanel, relT, 1, 1, "treatment", ok},
		activity{3, event.ActionRead, cs(catChat), subjPanel, relT, 1, 1, "online consultation", ok},
		activity{7, event.ActionRead, cs(catHealth, catHealthRx), subjDept, relT, 1, 1, "consultation", ok},
		activity{14, event.ActionUpdate, cs(catHealth, catPrescription), subjPanel, relT, 1, 1, "treatment", ok},
		activity{10, event.ActionSearch, cs(catContactID), subjOrgNonVIP, relU, 1, 15, "", ok},
		activity{5, event.ActionPrint, cs(catPrescription, catHealth), subjPanel, relT, 1, 3, "treatment", ok},
		activity{1.5, event.ActionExport, cs(catHealth), subjPanel, relT, 1, 20, "referral", ok},
		activity{1.5, event.ActionDownload, cs(catHealth), subjPanel, relT, 1, 1, "treatment", ok},
		activity{1, event.ActionShare, cs(catHealth), subjPanel, relT, 1, 1, "referral", ok},
		login(6), denied(subjOtherDept), erred(catHealth, subjPanel, relT),
	),
	roleNurse: mix(
		activity{40, event.ActionRead, cs(catHealth, catPrescription, catHealthRx), subjDept, relT, 1, 1, "treatment", ok},
		activity{25, event.ActionUpdate, cs(catHealth), subjDept, relT, 1, 1, "treatment", ok},
		activity{8, event.ActionRead, cs(catPrescription), subjDept, relT, 1, 1, "medication administration", ok},
		activity{3, event.ActionPrint, cs(catHealth), subjDept, relT, 1, 2, "treatment", ok},
		activity{1, event.ActionRead, cs(catLocation), subjDept, relT, 1, 1, "home care", ok},
		activity{6, event.ActionSearch, cs(catContact), subjOrgNonVIP, relU, 1, 10, "", ok},
		login(6), denied(subjOtherDept), erred(catHealth, subjDept, relT),
	),
	roleBilling: mix(
		activity{38, event.ActionRead, cs(catFinancial), subjOrg, relT, 1, 1, "billing", ok},
		activity{8, event.ActionRead, cs(catFinancial), subjOrgNonVIP, relU, 1, 1, "billing", ok},
		activity{12, event.ActionRead, cs(catFinContact), subjOrg, relT, 1, 1, "billing", ok},
		activity{8, event.ActionRead, cs(catFinID), subjOrg, relT, 1, 1, "insurance claim", ok},
		activity{18, event.ActionUpdate, cs(catFinancial), subjOrg, relT, 1, 1, "billing", ok},
		activity{2, event.ActionExport, cs(catFinancial), subjOrgNonVIP, relU, 10, 300, "claims batch", ok},
		activity{8, event.ActionSearch, cs(catContact), subjOrgNonVIP, relU, 1, 20, "", ok},
		login(6), denied(subjOrgNonVIP), erred(catFinancial, subjOrg, relT),
	),
	roleRegistration: mix(
		activity{28, event.ActionRead, cs(catContactID), subjOrg, relT, 1, 1, "registration", ok},
		activity{20, event.ActionUpdate, cs(catContact), subjOrg, relT, 1, 1, "registration", ok},
		activity{10, event.ActionRead, cs(catIDNumber), subjOrg, relT, 1, 1, "identity check", ok},
		activity{8, event.ActionRead, cs(catFinancial), subjOrg, relT, 1, 1, "insurance check", ok},
		activity{16, event.ActionSearch, cs(catContact), subjOrgNonVIP, relU, 1, 20, "", ok},
		activity{2.5, event.ActionRead, cs(catContact), subjAdultNonVIP, relF, 1, 1, "registration lookup", ok},
		activity{2, event.ActionUpdate, cs(catBiometric), subjOrg, relT, 1, 1, "check-in kiosk enrolment", ok},
		activity{1.5, event.ActionRead, cs(catBiometricID), subjOrg, relT, 1, 1, "identity check", ok},
		login(6), denied(subjOrgNonVIP), erred(catContact, subjOrg, relT),
	),
	rolePharmacist: mix(
		activity{55, event.ActionRead, cs(catPrescription), subjOrg, relT, 1, 1, "dispensing", ok},
		activity{22, event.ActionUpdate, cs(catPrescription), subjOrg, relT, 1, 1, "dispensing", ok},
		activity{8, event.ActionRead, cs(catHealthRx), subjOrg, relT, 1, 1, "medication review", ok},
		activity{4, event.ActionSearch, cs(catContact), subjOrgNonVIP, relU, 1, 10, "", ok},
		login(5), denied(subjOtherDept), erred(catPrescription, subjOrg, relT),
	),
	roleLab: mix(
		activity{50, event.ActionRead, cs(catHealth), subjOrg, relT, 1, 1, "lab results", ok},
		activity{35, event.ActionUpdate, cs(catHealth), subjOrg, relT, 1, 1, "lab results", ok},
		activity{3, event.ActionSearch, cs(catContactID), subjOrgNonVIP, relU, 1, 5, "", ok},
		login(6), denied(subjOtherDept), erred(catHealth, subjOrg, relT),
	),
	roleITAdmin: mix(
		login(30),
		activity{30, event.ActionRead, cs(catAccount), subjDoctorStaff, relT, 1, 1, "account support", ok},
		activity{22, event.ActionUpdate, cs(catAccount), subjDoctorStaff, relT, 1, 1, "account support", ok},
		activity{10, event.ActionRead, cs(catDeviceID), subjDoctorStaff, relT, 1, 1, "device management", ok},
		denied(subjOrgNonVIP), erred(catAccount, subjDoctorStaff, relT),
	),
	roleRecordsAdmin: mix(
		activity{32, event.ActionRead, cs(catHealth), subjOrgNonVIP, relU, 1, 1, "release of information", ok},
		activity{18, event.ActionSearch, cs(catContactID), subjOrgNonVIP, relU, 1, 25, "", ok},
		activity{14, event.ActionPrint, cs(catHealth), subjOrgNonVIP, relU, 1, 40, "release of information", ok},
		activity{7, event.ActionExport, cs(catHealthID), subjOrgNonVIP, relU, 5, 150, "release of information", ok},
		activity{10, event.ActionUpdate, cs(catHealth), subjOrgNonVIP, relU, 1, 1, "record correction", ok},
		login(10), denied(subjOrgNonVIP), erred(catHealth, subjOrgNonVIP, relU),
	),
	roleSupport: mix(
		activity{28, event.ActionRead, cs(catAccount), subjUser, relT, 1, 1, "account support", ok},
		activity{20, event.ActionRead, cs(catContact), subjUser, relT, 1, 1, "patient support", ok},
		activity{18, event.ActionRead, cs(catChat), subjUser, relT, 1, 1, "patient support", ok},
		activity{14, event.ActionUpdate, cs(catAccount), subjUser, relT, 1, 1, "account support", ok},
		activity{5, event.ActionRead, cs(catDeviceID), subjUser, relT, 1, 1, "account support", ok},
		activity{3, event.ActionSearch, cs(catContact), subjUserNonVIP, relU, 1, 10, "", ok},
		login(7), denied(subjOrgNonVIP), erred(catAccount, subjUser, relT),
	),
}

// item is one event waiting to be emitted, in a background slab or in an
// episode (scenario or incident).
type item struct {
	at  int64 // occurred_at, Unix milliseconds
	ord uint64
	dev bool
	idx int32
	ep  *episode
}

func less(a, b *item) bool { return a.at < b.at || a.at == b.at && a.ord < b.ord }

// gen holds the generator state of a run.
type gen struct {
	w    *world
	cfg  Config
	bg   *rng // background
	sc   *rng // benign scenarios
	inc  *rng // incidents
	dorm *rng // dormant accounts: their history, returns and incidents
	ord  uint64
	acc  []event.AccessEvent // background slab of the current slice
	dev  []event.DeviceEvent
	bgIt []item
	heap itemHeap

	prefix string                // of event and label ids
	tok    *pseudo.Pseudonymiser // for label tokens; nil without a key
	busyIv map[uint64][2]int64   // busyKey → [start, end] of the person's last incident, Unix ms
	incSeq int
	speed  float64 // incident time scale: 1, or demoSpeed for the demo burst

	dormant []dormantActor // the pool of dormant accounts not woken yet
	dormSeq int            // dormant accounts made so far

	travel []travelClient // per travelPlaces entry
	devW   float64        // mean of appDiurnal
	devKW  weights
}

type travelClient struct {
	geo event.Geo
	ip  string
}

func newGen(w *world, cfg Config) *gen {
	g := &gen{
		w: w, cfg: cfg,
		bg:   newRNG(cfg.Seed, streamBackground),
		sc:   newRNG(cfg.Seed, streamScenario),
		inc:  newRNG(cfg.Seed, streamIncident),
		dorm: newRNG(cfg.Seed, streamDormant),

		speed: 1,
	}
	for i, p := range travelPlaces {
		g.travel = append(g.travel, travelClient{geo: placeGeo(p), ip: "192.0.2." + strconv.Itoa(10+i*20)})
	}
	for _, v := range appDiurnal {
		g.devW += v / 24
	}
	g.devKW = newWeights(devKindWeights[:]...)
	return g
}

func (g *gen) nextOrd() uint64 { g.ord++; return g.ord }

func ts(ms int64) event.Timestamp { return event.Timestamp{Time: time.UnixMilli(ms).UTC()} }

// background generates the background events of [from, to) into the slab,
// sorted by time.
func (g *gen) background(from, to time.Time) {
	g.acc = g.acc[:0]
	g.dev = g.dev[:0]
	g.bgIt = g.bgIt[:0]
	fromMs, span := from.UnixMilli(), to.Sub(from).Milliseconds()
	minutes := float64(span) / 60000
	r := g.bg
	for _, o := range g.w.orgs {
		o.setNow(from)
		if o.tableFor != o.now.slot {
			for rid := range nRoles {
				for s := range nShifts {
					o.tables[rid][s] = newPoissonTable(roles[rid].perHour * o.now.intensity[s] * o.thin / 60)
				}
			}
			o.tableFor = o.now.slot
		}
		partial := span < 60000
		for i := 0; i < o.nHumans; i++ {
			a := &o.actors[i]
			if o.now.intensity[a.shift] == 0 {
				continue
			}
			st := g.w.status(o, int32(i), o.now.shiftDay[a.shift])
			if st == dayOff {
				continue
			}
			var n int
			if partial {
				n = r.poisson(roles[a.role].perHour * o.now.intensity[a.shift] * o.thin / 60 * minutes)
			} else {
				n = o.tables[a.role][a.shift].draw(r)
			}
			for range n {
				at := fromMs + int64(r.intn(int(span)))
				g.acc = append(g.acc, event.AccessEvent{})
				g.personEvent(r, o, int32(i), st, at, &g.acc[len(g.acc)-1])
				g.bgIt = append(g.bgIt, item{at: at, ord: g.nextOrd(), idx: int32(len(g.acc) - 1)})
			}
		}
		for s := range nSteadyServices {
			n := r.poisson(o.svcPerMinute[s] * minutes)
			for range n {
				at := fromMs + int64(r.intn(int(span)))
				g.acc = append(g.acc, event.AccessEvent{})
				g.serviceEvent(r, o, s, at, &g.acc[len(g.acc)-1])
				g.bgIt = append(g.bgIt, item{at: at, ord: g.nextOrd(), idx: int32(len(g.acc) - 1)})
			}
		}
		n := r.poisson(o.devPerDay / 1440 * minutes * appDiurnal[o.now.hour] / g.devW)
		for range n {
			at := fromMs + int64(r.intn(int(span)))
			g.dev = append(g.dev, event.DeviceEvent{})
			g.deviceEvent(r, o, at, &g.dev[len(g.dev)-1])
			g.bgIt = append(g.bgIt, item{at: at, ord: g.nextOrd(), dev: true, idx: int32(len(g.dev) - 1)})
		}
	}
	sortItems(g.bgIt)
}

// client returns where a person works from: abroad on a travel day, home
// when on call outside office hours, else one of the usual workstations.
func (g *gen) client(r *rng, o *org, a *actor, ai int32, st dayStatus) event.Client {
	switch {
	case st == dayAbroad:
		tc := &g.travel[placeIndex(g.w.travelPlace(o, ai, o.now.day))]
		return event.Client{IP: tc.ip, UserAgent: a.home.UserAgent, DeviceID: a.home.DeviceID, Geo: tc.geo}
	case a.shift == shiftOnCall && (o.now.hour < 8 || o.now.hour >= 18):
		return a.home
	case r.chance(0.8):
		return a.clients[0]
	default:
		return a.clients[1]
	}
}

func placeIndex(p place) int {
	for i, q := range travelPlaces {
		if q.city == p.city {
			return i
		}
	}
	return 0
}

// personEvent fills e with one background access by person ai.
func (g *gen) personEvent(r *rng, o *org, ai int32, st dayStatus, at int64, e *event.AccessEvent) {
	a := &o.actors[ai]
	m := &roleMixes[a.role]
	act := &m.acts[r.pick(m.w)]
	*e = event.AccessEvent{
		OccurredAt:   ts(at),
		Org:          o.id,
		Actor:        a.ident,
		Action:       act.action,
		Relationship: act.rel,
		Outcome:      act.outcome,
		Purpose:      act.purpose,
		Client:       g.client(r, o, a, ai, st),
		SessionID:    a.sessionID(g.w.seed, o.now.shiftDay[a.shift]),
		Attrs:        a.attrs,
	}
	if act.subj == subjNone {
		return
	}
	subj, minor := g.subject(r, o, a, ai, act.subj)
	e.Subject = subj
	e.Categories = forSubject(act.cats[r.intn(len(act.cats))], minor)
	if act.rcHi > 0 {
		e.RecordCount = int64(r.between(int(act.rcLo), int(act.rcHi)))
	}
}

// subject picks whose data an activity touches.
func (g *gen) subject(r *rng, o *org, a *actor, ai int32, mode subjectMode) (event.Subject, bool) {
	var p *patient
	switch mode {
	case subjPanel:
		if a.dept == deptEmergency || len(a.panel) == 0 {
			p = &o.patients[r.intn(len(o.patients))]
		} else {
			p = &o.patients[a.panel[r.intn(len(a.panel))]]
		}
	case subjDept:
		if a.dept < nClinical && len(o.deptPats[a.dept]) > 0 {
			pats := o.deptPats[a.dept]
			p = &o.patients[pats[r.intn(len(pats))]]
		} else {
			p = &o.patients[r.intn(len(o.patients))]
		}
	case subjOrg:
		p = &o.patients[r.intn(len(o.patients))]
	case subjOrgNonVIP:
		p = &o.patients[o.nonVIP(r)]
	case subjAdultNonVIP:
		for {
			p = &o.patients[o.nonVIP(r)]
			if !p.minor() {
				break
			}
		}
	case subjOtherDept:
		for {
			p = &o.patients[o.nonVIP(r)]
			if p.dept != a.dept {
				break
			}
		}
	case subjUser, subjUserNonVIP:
		for {
			u := &o.users[r.intn(len(o.users))]
			p = &o.patients[u.patient]
			if mode == subjUser || !p.vip() {
				break
			}
		}
		return p.subject(event.SubjectUser), p.minor()
	case subjDoctorStaff:
		docs := o.byRole[roleDoctor]
		d := &o.actors[docs[r.intn(len(docs))]]
		return event.Subject{ID: d.id, Type: event.SubjectDoctor, Employee: true}, false
	}
	return p.subject(event.SubjectPatient), p.minor()
}

// nonVIP returns a random patient who is not a VIP.
func (o *org) nonVIP(r *rng) int32 {
	for {
		pi := int32(r.intn(len(o.patients)))
		if !o.patients[pi].vip() {
			return pi
		}
	}
}

// serviceEvent fills e with one access by steady service account s.
func (g *gen) serviceEvent(r *rng, o *org, s int, at int64, e *event.AccessEvent) {
	ai := o.services[s]
	a := &o.actors[ai]
	spec := &services[s]
	p := &o.patients[r.intn(len(o.patients))]
	action := event.ActionRead
	if s == svcLab && r.chance(0.3) {
		action = event.ActionUpdate
	}
	*e = event.AccessEvent{
		OccurredAt:   ts(at),
		Org:          o.id,
		Actor:        a.ident,
		Action:       action,
		Subject:      p.subject(event.SubjectPatient),
		Categories:   forSubject(spec.cat, p.minor()),
		RecordCount:  1,
		Relationship: relU,
		Outcome:      ok,
		Client:       a.clients[0],
		Attrs:        a.attrs,
	}
}

// Device event kinds of app users, by weight (real-name checks happen at
// registration, a scenario, and rarely after a phone change).
var devKinds = [...]event.DeviceKind{event.KindLogin, event.KindLogout, event.KindPayment, event.KindFaceVerify,
	event.KindBindCard, event.KindPasswordReset, event.KindChangePhone, event.KindSIMChange, event.KindRealnameAuth}

var devKindWeights = [len(devKinds)]float64{44, 15, 17, 10, 2, 1.5, 0.6, 0.5, 0.4}

// deviceEvent fills e with one background device event of a random app
// user of o.
func (g *gen) deviceEvent(r *rng, o *org, at int64, e *event.DeviceEvent) {
	u := &o.users[r.intn(len(o.users))]
	dv := u.devices[0]
	if u.devices[1] >= 0 && r.chance(0.2) {
		dv = u.devices[1]
	}
	d := &o.devices[dv]
	kind := devKinds[r.pick(g.devKW)]
	fillDevice(r, e, o, o.patients[u.patient].id, d, kind, at)
}

// fillDevice fills e with a clean device event of account on d.
func fillDevice(r *rng, e *event.DeviceEvent, o *org, account string, d *device, kind event.DeviceKind, at int64) {
	*e = event.DeviceEvent{
		OccurredAt: ts(at),
		Org:        o.id,
		AccountID:  account,
		DeviceID:   d.id,
		Kind:       kind,
		Device:     d.info(),
		Signals:    event.Signals{Rooted: d.rooted, ProxyOrVPN: r.chance(0.02)},
		Network:    event.Network{IP: d.ip, Carrier: o.spec.carriers[d.carr]},
		Outcome:    ok,
	}
	if d.bssid != "" && r.chance(0.6) {
		e.Network.WiFiBSSID = d.bssid
	}
	if r.chance(0.7) {
		e.Location = &d.loc
	}
	u := r.float()
	switch {
	case kind == event.KindLogin && u < 0.04, kind == event.KindFaceVerify && u < 0.03, kind == event.KindPayment && u < 0.01:
		e.Outcome = event.OutcomeFailure
	case kind == event.KindPayment && u < 0.015:
		e.Outcome = den
	case u > 0.997:
		e.Outcome = fail
	}
}

// itemHeap is a binary min-heap of items by (at, ord), without the
// interface boxing of container/heap.
type itemHeap []item

func (h *itemHeap) push(it item) {
	*h = append(*h, it)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(&s[i], &s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *itemHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, m := 2*i+1, i
		if l < n && less(&s[l], &s[m]) {
			m = l
		}
		if l+1 < n && less(&s[l+1], &s[m]) {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (h itemHeap) peek() *item {
	if len(h) == 0 {
		return nil
	}
	return &h[0]
}

// sortItems sorts by (at, ord).
func sortItems(s []item) {
	slices.SortFunc(s, func(a, b item) int {
		switch {
		case less(&a, &b):
			return -1
		case less(&b, &a):
			return 1
		}
		return 0
	})
}
