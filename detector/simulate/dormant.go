package simulate

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Dormant accounts. A dormant_account incident needs an actor last seen
// weeks before it, longer than any run. The generator therefore prepares,
// when the run starts, a pool of staff accounts that take no part in the
// background traffic: each has a few working days of ordinary activity
// backdated to between dormantMinGap and dormantMaxGap before the start
// of the run, emitted before every other event (so the stream stays in
// time order), and then nothing until an incident or a benign return
// wakes it. Their ids are those of the org's staff, numbered from
// dormantSeqBase, so they never collide with the population.

const (
	dormantMinGap  = 36 * 24 * time.Hour
	dormantMaxGap  = 60 * 24 * time.Hour
	dormantSeqBase = 90000
	// dormantReturnsPerHour is the rate of benign returns from long leave.
	dormantReturnsPerHour = 0.5
	// dormantUnbounded is how many hours of incidents and returns the pool
	// of a run without a duration is sized for.
	dormantUnbounded = 24
)

// dormantActor is an account of the pool.
type dormantActor struct {
	o     *org
	ident event.Actor
	cl    event.Client
	attrs map[string]string
	last  int64 // occurred_at of its last backdated event, Unix ms
}

// dormantRoles are the roles the pool's accounts have.
var dormantRoles = []roleID{roleDoctor, roleNurse, roleBilling, roleRegistration}

// prepareDormant builds a pool of n accounts and queues their backdated
// history; it uses its own rng stream, so the rest of the run is the
// same with or without them.
func (g *gen) prepareDormant(start time.Time, n int) {
	r := g.dorm
	for made, tries := 0, 0; made < n && tries < 100*n; tries++ {
		o := g.w.orgs[r.intn(len(g.w.orgs))]
		rid := dormantRoles[r.intn(len(dormantRoles))]
		if len(o.byRole[rid]) == 0 {
			continue
		}
		tmpl := &o.actors[o.byRole[rid][r.intn(len(o.byRole[rid]))]]
		if tmpl.departing || tmpl.shift != shiftDay {
			continue // an ordinary day-shift account: the pattern is the silence
		}
		made++
		i := g.dormSeq
		g.dormSeq++
		d := dormantActor{o: o, ident: tmpl.ident, cl: tmpl.clients[0], attrs: tmpl.attrs}
		d.ident.ID = fmt.Sprintf("%s-%c%05d", o.spec.code, roles[rid].code, dormantSeqBase+i)
		gap := dormantMinGap + time.Duration(r.float()*float64(dormantMaxGap-dormantMinGap))
		lastDay := start.Add(-gap).In(o.loc)
		days := r.between(4, 8)
		b := &builder{}
		for k := days - 1; k >= 0; k-- {
			day := time.Date(lastDay.Year(), lastDay.Month(), lastDay.Day()-k, 9, 0, 0, 0, o.loc)
			ses := newSession(r)
			for range r.between(3, 10) {
				at := day.Add(time.Duration(r.float() * float64(7*time.Hour))).UnixMilli()
				p := &o.patients[o.nonVIP(r)]
				e := d.access(at, ses)
				e.Action, e.Subject = event.ActionRead, p.subject(event.SubjectPatient)
				e.Categories = forSubject([][]event.Category{catContact, catContactHealth}[r.intn(2)], p.minor())
				b.access(e)
				d.last = max(d.last, at)
			}
		}
		if !g.submit(b, start.UnixMilli()) {
			continue
		}
		g.dormant = append(g.dormant, d)
	}
}

func (d *dormantActor) access(at int64, session string) event.AccessEvent {
	return event.AccessEvent{OccurredAt: ts(at), Org: d.o.id, Actor: d.ident, Client: d.cl, SessionID: session,
		Attrs: d.attrs, Outcome: ok, Relationship: relT, RecordCount: 1}
}

// takeDormant removes and returns an account of the pool idle for at
// least dormantMinGap at t, or nil.
func (g *gen) takeDormant(t time.Time) *dormantActor {
	for i := range g.dormant {
		if t.UnixMilli()-g.dormant[i].last >= dormantMinGap.Milliseconds() {
			d := g.dormant[i]
			g.dormant = append(g.dormant[:i], g.dormant[i+1:]...)
			return &d
		}
	}
	return nil
}

// dormantWake: an account silent for weeks logs in and reads the
// sensitive records of many patients, one after another, with no care
// relationship recorded; sometimes it also exports what it found.
func (g *gen) dormantWake(r *rng, b *builder, t time.Time) *dormantActor {
	d := g.takeDormant(t)
	if d == nil {
		return nil
	}
	o, ms := d.o, t.UnixMilli()
	ses := newSession(r)
	login := d.access(ms, ses)
	login.Action, login.Relationship, login.RecordCount = event.ActionLogin, event.RelationshipUnknown, 0
	b.access(login)
	n, dur := r.between(25, 90), r.between(20, 60)
	for _, off := range spread(r, n, g.mins(float64(dur))) {
		p := &o.patients[o.nonVIP(r)]
		e := d.access(ms+g.mins(1)+off, ses)
		e.Action, e.Subject, e.Relationship = event.ActionRead, p.subject(event.SubjectPatient), relU
		e.Categories = forSubject([][]event.Category{catHealth, catHealthID, catHealthRxID}[r.intn(3)], p.minor())
		b.access(e)
	}
	total := n
	if r.chance(0.3) {
		p := &o.patients[o.nonVIP(r)]
		e := d.access(ms+g.mins(float64(dur)+2), ses)
		e.Action, e.Subject, e.Relationship = event.ActionExport, p.subject(event.SubjectPatient), relU
		e.Categories = forSubject(catHealthID, p.minor())
		e.RecordCount = int64(r.between(100, 800))
		b.access(e)
		total += int(e.RecordCount)
	}
	gap := time.Duration(ms-d.last) * time.Millisecond
	b.ep.label.Description = fmt.Sprintf("%s (%s, %s), idle for %d days, read the sensitive records of %d patients (%d records) within %s of returning",
		d.ident.ID, d.ident.Role, d.ident.Department, int(gap.Hours()/24), n, total, g.span(float64(dur)))
	return d
}

// planDormant prepares the pools of a run of [start, end) (end zero: a
// run without a duration): first the accounts of the benign returns,
// which it queues, then those of the incidents dormant_account incidents
// are expected to need. Returns come first so that they are the same
// whatever the incidents.
func (g *gen) planDormant(start, end time.Time, incidents int) {
	r := g.dorm
	hours := float64(dormantUnbounded)
	endMs := int64(math.MaxInt64)
	if !end.IsZero() {
		hours, endMs = end.Sub(start).Hours(), end.UnixMilli()
	}
	returns := r.poisson(dormantReturnsPerHour * hours)
	g.prepareDormant(start, returns)
	for range returns {
		g.dormantReturn(r, start.Add(time.Duration(r.float()*hours*float64(time.Hour))), endMs)
	}
	g.dormant = g.dormant[:0]
	if incidents > 0 {
		g.prepareDormant(start, incidents+2)
	}
}

// dormantReturn is the benign look-alike: a person back from long leave
// logs in and reads the contact details of a few patients (no sensitive
// category, no export).
func (g *gen) dormantReturn(r *rng, t time.Time, end int64) {
	d := g.takeDormant(t)
	if d == nil {
		return
	}
	// During the day: a person back at work.
	lt := t.In(d.o.loc)
	if h := lt.Hour(); h < 9 || h >= 15 {
		day := lt.Day()
		if h >= 15 {
			day++
		}
		t = time.Date(lt.Year(), lt.Month(), day, 9, 0, 0, 0, d.o.loc).Add(time.Duration(r.float() * float64(6*time.Hour)))
	}
	ms := t.UnixMilli()
	ses := newSession(r)
	b := &builder{}
	login := d.access(ms, ses)
	login.Action, login.Relationship, login.RecordCount = event.ActionLogin, event.RelationshipUnknown, 0
	b.access(login)
	o := d.o
	for _, off := range spread(r, r.between(3, 8), minutes(30)) {
		p := &o.patients[o.nonVIP(r)]
		for p.minor() {
			p = &o.patients[o.nonVIP(r)]
		}
		e := d.access(ms+minutes(1)+off, ses)
		e.Action, e.Subject = event.ActionRead, p.subject(event.SubjectPatient)
		e.Categories = catContact
		b.access(e)
	}
	g.submit(b, end)
}
