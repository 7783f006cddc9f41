package detector

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestSuppressionFolding(t *testing.T) {
	runCases(t, []corrCase{
		{
			name:  "standalone_default_window",
			rules: "standalone.yml",
			seq: []in{
				acc(0, "a", breakGlass, subject("p1")),
				acc(30*minute, "a", breakGlass, subject("p2")),
				acc(59*minute, "a", breakGlass, subject("p1"), cats(event.CategoryHealth, event.CategoryMinorData)),
				acc(30*minute, "b", breakGlass), // another group
				acc(60*minute, "a", breakGlass), // start + 1h: a new alert
			},
			alerts: map[string]int{"t-break-glass": 3},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.Count != 3 || a.DistinctSubjects != 2 || !a.LastSeen.Equal(t0.Add(59*minute)) ||
					len(a.Categories) != 2 || a.Explanation != "Emergency access that bypasses the normal permission checks." {
					t.Errorf("alert %+v", a)
				}
				if a.ActorID != "a" || a.Severity != event.SeverityHigh || a.Status != event.AlertOpen {
					t.Errorf("alert %+v", a)
				}
			},
		},
		{
			name:  "standalone_rule_window",
			rules: "standalone.yml",
			opts:  Options{Suppression: map[string]time.Duration{"t-break-glass": 10 * minute}},
			seq: []in{
				acc(0, "a", breakGlass),
				acc(9*minute, "a", breakGlass),
				acc(10*minute, "a", breakGlass),
				acc(12*minute, "a", read, minor), // another rule: its own window
			},
			alerts: map[string]int{"t-break-glass": 2, "t-minor": 1},
		},
		{
			name:  "device",
			rules: "standalone.yml",
			seq: []in{
				dev(0, "acct-1", "dev-1", event.KindPayment, func(e *event.DeviceEvent) { e.Signals.Rooted = true }),
				dev(1*minute, "acct-2", "dev-1", event.KindPayment, func(e *event.DeviceEvent) { e.Signals.Rooted = true }),
				dev(2*minute, "acct-2", "dev-1", event.KindLogin, func(e *event.DeviceEvent) { e.Signals.Rooted = true }),
			},
			alerts: map[string]int{"t-rooted-payment": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.GroupKey != "app-1/dev-1" || a.DeviceID != "dev-1" || a.Count != 2 || a.DistinctSubjects != 2 {
					t.Errorf("alert %+v", a)
				}
			},
		},
	})
}

func TestAlertsExpire(t *testing.T) {
	p := newPartition(t, loadRules(t, "standalone.yml"), Options{Lateness: -1})
	run(t, p, []in{acc(0, "a", breakGlass), acc(59*minute, "b", breakGlass)})
	if s := p.Stats(); s.Alerts != 2 {
		t.Fatalf("alerts %d", s.Alerts)
	}
	p.Access(2, acc(60*minute, "c", event.ActionSearch).a)
	if s := p.Stats(); s.Alerts != 1 || s.AlertsExpired != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestExceptions(t *testing.T) {
	exp := t0.Add(30 * minute)
	exc := func(e Exception) Options {
		if e.Reason == "" {
			e.Reason, e.Author, e.Expires = "audit team", "ciso", exp
		}
		return Options{Exceptions: []Exception{e}}
	}
	runCases(t, []corrCase{
		{
			name:  "exception_actor_expires",
			rules: "standalone.yml",
			opts:  exc(Exception{Rule: "t-break-glass", Actors: []string{"a"}}),
			seq: []in{
				acc(0, "a", breakGlass),
				acc(1*minute, "b", breakGlass),
				acc(29*minute, "a", breakGlass),
				acc(30*minute, "a", breakGlass), // expired: alerts
			},
			alerts: map[string]int{"t-break-glass": 2},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				if s := p.Stats(); s.Suppressed != 2 {
					t.Errorf("suppressed %d", s.Suppressed)
				}
				if sup := p.DrainSuppressed(nil); len(sup) != 1 || sup[0].Count != 2 {
					t.Errorf("suppressed %+v", sup)
				}
			},
		},
		{
			name:  "exception_glob_role",
			rules: "standalone.yml",
			opts:  exc(Exception{Rule: "t-*", Roles: []string{"auditor"}}),
			seq: []in{
				acc(0, "a", breakGlass, role("auditor")),
				acc(1*minute, "a", read, minor, role("auditor")),
				acc(2*minute, "b", breakGlass),
			},
			alerts: map[string]int{"t-break-glass": 1},
		},
		{
			name:  "exception_fields",
			rules: "counts.yml",
			opts:  exc(Exception{Rule: "t-count-gte", Fields: map[string][]string{"attrs.source_system": {"pentest"}}}),
			seq: []in{
				acc(0, "a", login, denied, func(e *event.AccessEvent) { e.Attrs = map[string]string{"source_system": "pentest"} }),
				acc(1*minute, "a", login, denied, func(e *event.AccessEvent) { e.Attrs = map[string]string{"source_system": "pentest"} }),
				acc(2*minute, "a", login, denied, func(e *event.AccessEvent) { e.Attrs = map[string]string{"source_system": "pentest"} }),
				acc(3*minute, "a", login, denied), // the triggering event is not excepted
			},
			alerts: map[string]int{"t-count-gte": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				if a := latest(recs)[0]; a.Count != 1 {
					// The suppressed finding consumed the first three
					// events: the alert counts the one that was not.
					t.Errorf("alert %+v", a)
				}
			},
		},
	})
}

func TestSuppressedReport(t *testing.T) {
	opts := Options{Exceptions: []Exception{{Rule: "t-break-glass", Actors: []string{"a"},
		Reason: "drill", Author: "ciso", Expires: t0.Add(time.Hour)}}}
	p := newPartition(t, loadRules(t, "standalone.yml"), opts)
	for i, x := range ids([]in{acc(0, "a", breakGlass), acc(minute, "a", breakGlass), acc(2*minute, "b", breakGlass)}) {
		feedOne(t, p, int64(i), x)
	}
	sup := p.DrainSuppressed(nil)
	if len(sup) != 1 || sup[0].Count != 2 || sup[0].GroupKey != "hosp-1/a" || sup[0].Reason != "drill" ||
		!sup[0].First.Equal(t0) || !sup[0].Last.Equal(t0.Add(minute)) {
		t.Errorf("suppressed %+v", sup)
	}
	if len(p.DrainSuppressed(nil)) != 0 {
		t.Error("DrainSuppressed twice returned records")
	}
	if n := len(p.Drain(nil)); n != 1 {
		t.Errorf("%d alerts", n)
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{
		Suppression: map[string]time.Duration{"r": -1},
		MaxGroups:   -1,
		Exceptions: []Exception{
			{Rule: "[", Fields: map[string][]string{"actor.rol": {"x"}, "org": nil}},
			{Rule: "ok", Reason: "r", Author: "a", Expires: t0},
		},
	}
	err := o.Validate()
	for _, want := range []string{
		"suppression.r: must be positive", "max_groups: must not be negative",
		`exceptions[0].rule: bad pattern "["`, "exceptions[0].reason: required",
		"exceptions[0].author: required", "exceptions[0].expires: required",
		"exceptions[0].fields.actor.rol: unknown field", "exceptions[0].fields.org: empty list",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "exceptions[1]") {
		t.Errorf("valid exception reported: %v", err)
	}
	exp := o.ExpiredExceptions(t0)
	if len(exp) != 1 || exp[0].Rule != "ok" {
		t.Errorf("expired %v", exp)
	}
	if len(o.ExpiredExceptions(t0.Add(-time.Second))) != 0 {
		t.Error("expired before its time")
	}
	if _, err := New(loadRules(t, "standalone.yml"), o, nil); err == nil {
		t.Error("New accepted invalid options")
	}
}

func TestDispositions(t *testing.T) {
	key := "hosp-1/a"
	runCases(t, []corrCase{
		{
			name:  "disposition_keeps_status",
			rules: "standalone.yml",
			seq: []in{
				acc(0, "a", breakGlass),
				{dispose: &dispose{rule: "t-break-glass", key: key, start: 0,
					status: event.AlertClosedFalsePositive, reason: "drill"}},
				acc(10*minute, "a", breakGlass), // folds: stays closed
				acc(70*minute, "a", breakGlass), // a new window: open
			},
			alerts: map[string]int{"t-break-glass": 2},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				// open, the disposition, the update, the new alert.
				if len(recs) != 4 {
					t.Fatalf("%d records, want 4", len(recs))
				}
				if recs[1].Status != event.AlertClosedFalsePositive || recs[1].Count != 1 {
					t.Errorf("disposed %+v", recs[1])
				}
				if recs[2].Status != event.AlertClosedFalsePositive || recs[2].Count != 2 {
					t.Errorf("update %+v", recs[2])
				}
				if recs[3].Status != event.AlertOpen {
					t.Errorf("new alert %+v", recs[3])
				}
				// The disposition fed back changes nothing.
				if found, _ := p.Dispose(recs[3].AlertID, event.AlertOpen, "", ""); !found || p.Pending() != 0 {
					t.Errorf("found %v, pending %d", found, p.Pending())
				}
				if _, _, _, ok := p.Disposition(recs[1].AlertID); ok {
					t.Error("the first alert is still in state after its window passed")
				}
			},
		},
		{
			name:  "disposition_before_alert",
			rules: "standalone.yml",
			seq: []in{
				{dispose: &dispose{rule: "t-break-glass", key: key, start: 5 * minute,
					status: event.AlertClosedAuthorized, reason: "approved"}},
				acc(5*minute, "a", breakGlass),
			},
			alerts: map[string]int{"t-break-glass": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				if recs[0].Status != event.AlertClosedAuthorized {
					t.Errorf("alert %+v", recs[0])
				}
				st, reason, by, ok := p.Disposition(recs[0].AlertID)
				if !ok || st != event.AlertClosedAuthorized || reason != "approved" || by != "analyst-1" {
					t.Errorf("disposition %v %q %q %v", st, reason, by, ok)
				}
			},
		},
	})
	p := newPartition(t, loadRules(t, "standalone.yml"), Options{})
	if _, err := p.Dispose("x", "bogus", "", ""); err == nil {
		t.Error("Dispose accepted an unknown status")
	}
}

func TestDrainCoalesces(t *testing.T) {
	p := newPartition(t, loadRules(t, "standalone.yml"), Options{})
	seq := ids([]in{acc(0, "a", breakGlass), acc(minute, "b", breakGlass), acc(2*minute, "a", breakGlass)})
	for i, x := range seq {
		feedOne(t, p, int64(i), x)
	}
	if p.Pending() != 2 {
		t.Errorf("pending %d", p.Pending())
	}
	recs := p.Drain(nil)
	if len(recs) != 2 || recs[0].ActorID != "a" || recs[0].Count != 2 || recs[1].ActorID != "b" {
		t.Errorf("records %+v", recs)
	}
	if len(p.Drain(nil)) != 0 {
		t.Error("second Drain returned records")
	}
	// Duplicates by offset are ignored.
	p.Access(2, seq[2].a)
	if s := p.Stats(); s.Duplicates != 1 || p.Pending() != 0 {
		t.Errorf("stats %+v", s)
	}
}
