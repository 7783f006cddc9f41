package behave

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func TestCareRelationship(t *testing.T) {
	noRel := func(e *event.AccessEvent) { e.Relationship = event.RelationshipFalse }
	breakGlass := func(subject string, when time.Duration) *event.AccessEvent {
		e := acc("D1", when)
		e.Action, e.Relationship, e.Subject.ID = event.ActionBreakGlass, event.RelationshipFalse, subject
		return e
	}
	type mod func(e *event.AccessEvent)
	cases := []struct {
		name   string
		before []any // events before the probe
		probe  []mod
		sev    event.Severity // "" means no finding
		want   string
	}{
		{"health read without relationship", nil, []mod{noRel}, event.SeverityHigh, "read the health data of a patient with whom"},
		{"prescription export", nil, []mod{noRel, func(e *event.AccessEvent) {
			e.Action, e.Categories = event.ActionExport, []event.Category{event.CategoryPrescription, event.CategoryContact}
		}}, event.SeverityHigh, "exported the prescription data"},
		{"biometric of a minor", nil, []mod{noRel, func(e *event.AccessEvent) {
			e.Subject.Minor, e.Categories = true, []event.Category{event.CategoryBiometric, event.CategoryMinorData}
		}}, event.SeverityCritical, "a patient who is a minor"},
		{"VIP", nil, []mod{noRel, func(e *event.AccessEvent) { e.Subject.VIP = true }}, event.SeverityCritical, "a VIP patient"},
		{"with relationship", nil, nil, "", ""},
		{"relationship unknown", nil, []mod{func(e *event.AccessEvent) { e.Relationship = event.RelationshipUnknown }}, "", ""},
		{"contact data only", nil, []mod{noRel, func(e *event.AccessEvent) { e.Categories = []event.Category{event.CategoryContact} }}, "", ""},
		{"denied", nil, []mod{noRel, func(e *event.AccessEvent) { e.Outcome = event.OutcomeDenied }}, "", ""},
		{"update is not a read", nil, []mod{noRel, func(e *event.AccessEvent) { e.Action = event.ActionUpdate }}, "", ""},
		{"after break-glass on the subject", []any{breakGlass("P1", 0)}, []mod{noRel}, "", ""},
		{"after break-glass on another subject", []any{breakGlass("P2", 0)}, []mod{noRel}, event.SeverityHigh, ""},
		{"break-glass long ago", []any{breakGlass("P1", -13*time.Hour)}, []mod{noRel}, event.SeverityHigh, ""},
		{"break-glass attrs", nil, []mod{noRel, func(e *event.AccessEvent) {
			e.Attrs = map[string]string{"access_mode": "break_glass", "shift": "day"}
		}}, "", ""},
		{"other attrs", nil, []mod{noRel, func(e *event.AccessEvent) { e.Attrs = map[string]string{"access_mode": "normal"} }},
			event.SeverityHigh, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probe := acc("D1", time.Hour)
			probe.EventID = "probe"
			for _, m := range c.probe {
				m(probe)
			}
			for _, e := range c.before {
				e.(*event.AccessEvent).OccurredAt = event.NewTimestamp(e.(*event.AccessEvent).OccurredAt.Add(time.Hour - time.Minute))
			}
			fs := run(t, mustNew(t, Defaults(), RuleCareRelationship), append(c.before, probe))
			if c.sev == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("%d findings, want 1", len(fs))
			}
			f := fs[0]
			if f.Severity != c.sev || f.Evidence[0] != "probe" || f.Subjects[0] != probe.Subject.ID {
				t.Errorf("severity %s evidence %v subjects %v", f.Severity, f.Evidence, f.Subjects)
			}
			if !strings.Contains(f.Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", f.Explanation, c.want)
			}
		})
	}
}

func TestBreakGlassBurst(t *testing.T) {
	bg := func(subject string, when time.Duration) *event.AccessEvent {
		e := acc("D1", when)
		e.Action, e.Relationship, e.Subject.ID = event.ActionBreakGlass, event.RelationshipFalse, subject
		return e
	}
	series := func(n int, every time.Duration, distinct bool) []any {
		var out []any
		for i := range n {
			s := "P1"
			if distinct {
				s = fmt.Sprintf("P%d", i)
			}
			out = append(out, bg(s, time.Duration(i)*every))
		}
		return out
	}
	cases := []struct {
		name   string
		events []any
		want   string // "" means no finding
		count  int64
	}{
		{"four within the hour", series(4, 10*time.Minute, false), "", 0},
		{"five within the hour", series(5, 10*time.Minute, false), "used break-glass 5 times within 40 minutes", 5},
		{"five over four hours", series(5, time.Hour, false), "", 0},
		{"nine distinct subjects in a day", series(9, 2*time.Hour, true), "", 0},
		{"ten distinct subjects in a day", series(10, 2*time.Hour, true), "on 10 distinct subjects within 18.0 hours", 10},
		{"ten of one subject in a day", series(10, 2*time.Hour, false), "", 0},
		{"a legitimate emergency a day for a week", series(7, 24*time.Hour, true), "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := run(t, mustNew(t, Defaults(), RuleBreakGlassBurst), c.events)
			if c.want == "" {
				if len(fs) > 0 {
					t.Fatalf("fired: %s", fs[0].Explanation)
				}
				return
			}
			if len(fs) == 0 {
				t.Fatal("no finding")
			}
			f := fs[0]
			if f.Count != c.count || int64(len(f.Evidence)) != c.count {
				t.Errorf("Count %d evidence %v, want %d", f.Count, f.Evidence, c.count)
			}
			if !strings.Contains(f.Explanation, c.want) {
				t.Errorf("explanation %q lacks %q", f.Explanation, c.want)
			}
		})
	}
	// A sixth break-glass in the same burst updates with one event.
	fs := run(t, mustNew(t, Defaults(), RuleBreakGlassBurst), series(6, 10*time.Minute, false))
	if len(fs) != 2 || fs[1].Count != 1 || len(fs[1].Evidence) != 1 {
		t.Errorf("findings %+v: want the burst, then one more event", fs)
	}
}
