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

// dormant is the dormant_account behaviour.
type dormant struct {
	cfg       DormantConfig
	idle      int64 // ms
	window    int64 // ms
	forget    int64 // ms
	actors    *table[key, dmActor]
	lastSweep int64
}

// dmActor is an actor's activity: when it was last seen, on how many
// days, and what it has done since it woke after an idle gap.
type dmActor struct {
	last    int64 // latest occurred_at
	days    uint32
	lastDay int64
	wake    int64 // occurred_at of the first event after the idle gap, or noHour
	gap     int64 // length of that gap, ms
	prev    int64 // last occurred_at before the gap
	records int64 // records of watched accesses since waking
	events  int64 // watched accesses since waking
	first   int64 // occurred_at of the first watched access since waking
	cats    uint32
	special bool // minors' or VIPs' data among them
	fired   bool
	evs     []bgEvent // the watched accesses since waking (at most min_records)
}

func newDormant(c DormantConfig) *dormant {
	d := &dormant{cfg: c, idle: c.Idle.Milliseconds(), window: c.Window.Milliseconds(),
		forget: c.ForgetAfter.Milliseconds(), lastSweep: noHour}
	d.actors = newTable[key](c.MaxActors, func(a *dmActor) {
		*a = dmActor{lastDay: noHour, wake: noHour, evs: a.evs[:0]}
	})
	return d
}

func (d *dormant) Name() string             { return RuleDormantAccount }
func (d *dormant) Title() string            { return "Dormant account woke and read sensitive data" }
func (d *dormant) Severity() event.Severity { return d.cfg.Severity }
func (d *dormant) Stats() Stats {
	return Stats{Tracked: d.actors.len(), Evicted: d.actors.evictions, Expired: d.actors.expired}
}

// Device is a no-op: customers' accounts return after weeks as a matter
// of course, and the device stream is partitioned by device, not by
// account.
func (d *dormant) Device(*event.DeviceEvent, func(detector.Finding)) {}

// watched reports whether e is an access the behaviour counts after a
// wake-up: sensitive data, or an export, print or download.
func watched(e *event.AccessEvent) bool {
	if e.Outcome != event.OutcomeSuccess {
		return false
	}
	switch e.Action {
	case event.ActionExport, event.ActionPrint, event.ActionDownload:
		return true
	}
	for _, c := range e.Categories {
		if c.Sensitive() {
			return true
		}
	}
	return false
}

func (d *dormant) Access(e *event.AccessEvent, emit func(detector.Finding)) {
	if e.Actor.ID == "" {
		return
	}
	t := ms(e.OccurredAt)
	a, created := d.actors.get(key{e.Org, e.Actor.ID}, t)
	if created {
		a.last = t
	}
	if !created && t-a.last >= d.idle && a.days >= uint32(d.cfg.MinActiveDays) {
		// Woke after an idle gap: watch what it does for window.
		a.wake, a.gap, a.prev = t, t-a.last, a.last
		a.records, a.events, a.first, a.cats, a.special, a.fired = 0, 0, 0, 0, false, false
		clear(a.evs)
		a.evs = a.evs[:0]
	}
	a.last = max(a.last, t)
	if dd := floorDiv(t, msDay); dd > a.lastDay {
		a.lastDay = dd
		a.days = satAdd(a.days)
	}
	if a.wake == noHour || a.fired || t < a.wake || t-a.wake >= d.window || !watched(e) {
		return
	}
	if a.events == 0 {
		a.first = t
	}
	a.events++
	a.records = min(a.records+max(e.RecordCount, 1), math.MaxInt64/2)
	a.cats |= categorySet(e.Categories)
	if len(a.evs) < d.cfg.MinRecords {
		a.evs = append(a.evs, bgEvent{at: t, subject: strings.Clone(e.Subject.ID), id: strings.Clone(e.EventID)})
	}
	if e.Subject.Minor || e.Subject.VIP || hasCategory(e.Categories, categoryBit(event.CategoryMinorData)) {
		a.special = true
	}
	if a.records < int64(d.cfg.MinRecords) {
		return
	}
	a.fired = true
	sev := d.cfg.Severity
	if a.special {
		sev = raise(sev)
	}
	fd := actorFinding(RuleDormantAccount, d.Title(), sev, e)
	fd.Start = tm(a.first)
	fd.Count = a.events
	fd.Evidence, fd.Subjects = nil, nil
	for _, x := range a.evs {
		if x.id != "" {
			fd.Evidence = append(fd.Evidence, x.id)
		}
		if x.subject != "" && !slices.Contains(fd.Subjects, x.subject) {
			fd.Subjects = append(fd.Subjects, x.subject)
		}
	}
	fd.Categories = d.cats(a.cats)
	fd.Explanation = d.explain(a, e)
	emit(fd)
}

// raise returns the next severity above s (critical stays critical).
func raise(s event.Severity) event.Severity {
	switch s {
	case event.SeverityInfo:
		return event.SeverityLow
	case event.SeverityLow:
		return event.SeverityMedium
	case event.SeverityMedium:
		return event.SeverityHigh
	}
	return event.SeverityCritical
}

// cats returns the categories of set, in schema order.
func (d *dormant) cats(set uint32) []event.Category {
	var out []event.Category
	for _, c := range event.Categories() {
		if set&categoryBit(c) != 0 {
			out = append(out, c)
		}
	}
	return out
}

func (d *dormant) explain(a *dmActor, e *event.AccessEvent) string {
	var cats []string
	for _, c := range event.Categories() {
		if a.cats&categoryBit(c) != 0 && c.Sensitive() {
			cats = append(cats, string(c))
		}
	}
	what := "exported, printed or downloaded " + plural(a.records, "record", "records")
	if len(cats) > 0 {
		what = fmt.Sprintf("read %s of sensitive categories (%s)", plural(a.records, "record", "records"), strings.Join(cats, ", "))
	}
	extra := ""
	if a.special {
		extra = ", including minors' or VIPs' data"
	}
	return fmt.Sprintf("This account (%s, %s) was idle for %s (last seen %s) and then, within %s of returning, %s in %s%s.",
		e.Actor.Type, orNone(e.Actor.Role), plural(a.gap/msDay, "day", "days"), tm(a.prev).Format(time.DateOnly),
		ago(time.Duration(a.last-a.wake)*time.Millisecond), what, plural(a.events, "access", "accesses"), extra)
}

func (d *dormant) Advance(w time.Time) {
	h := floorDiv(w.UnixMilli(), msHour)
	if h <= d.lastSweep {
		return
	}
	d.lastSweep = h
	d.actors.expire(w.UnixMilli() - d.forget)
}

func (d *dormant) MarshalState() ([]byte, error) {
	return marshalTable(d.Name(), d.lastSweep, d.actors, func(w *wbuf, a *dmActor) {
		w.i(a.last)
		w.u(uint64(a.days))
		w.i(a.lastDay)
		w.i(a.wake)
		w.i(a.gap)
		w.i(a.prev)
		w.i(a.records)
		w.i(a.events)
		w.i(a.first)
		w.u(uint64(a.cats))
		w.bool(a.special)
		w.bool(a.fired)
		writeBG(w, a.evs)
	}), nil
}

func (d *dormant) UnmarshalState(data []byte) error {
	return unmarshalTable(data, d.Name(), &d.lastSweep, d.actors, func(r *rbuf, a *dmActor) {
		a.last = r.i()
		a.days = uint32(r.n(math.MaxUint32))
		a.lastDay = r.i()
		a.wake = r.i()
		a.gap = r.i()
		a.prev = r.i()
		a.records = r.i()
		a.events = r.i()
		a.first = r.i()
		a.cats = uint32(r.n(math.MaxUint32))
		a.special = r.bool()
		a.fired = r.bool()
		a.evs = readBG(r, a.evs[:0])
	})
}
