package incident

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

func alert(id, rule, actor string, at time.Time, sev event.Severity) *event.Alert {
	return &event.Alert{AlertID: id, RuleID: rule, ActorID: actor, Org: "hosp-sh", Severity: sev,
		WindowStart: event.NewTimestamp(at.Truncate(time.Hour)), WindowEnd: event.NewTimestamp(at.Truncate(time.Hour).Add(time.Hour)),
		FirstSeen: event.NewTimestamp(at), LastSeen: event.NewTimestamp(at.Add(10 * time.Minute)),
		Count: 3, Status: event.AlertOpen}
}

func closedAs(a *event.Alert, s event.AlertStatus) *event.Alert {
	c := *a
	c.Status, c.StatusReason, c.StatusBy = s, "reviewed", "analyst-1"
	return &c
}

func TestGrouper(t *testing.T) {
	cfg := DefaultConfig().Grouping
	type step struct {
		a       *event.Alert
		outcome Outcome
		group   int // index of the incident (in order of opening) it must belong to; -1 none
		sev     event.Severity
		closed  bool
	}
	a1 := alert("a1", "vigil-access-001", "staff-1", t0, event.SeverityLow)
	tests := []struct {
		name  string
		steps []step
	}{
		{"same actor within window joins", []step{
			{a1, Opened, 0, "low", false},
			{alert("a2", "vigil-access-020", "staff-1", t0.Add(23*time.Hour), "high"), Joined, 0, "high", false},
			{alert("a3", "vigil-access-003", "staff-1", t0.Add(46*time.Hour), "medium"), Joined, 0, "high", false},
		}},
		{"outside window opens new", []step{
			{a1, Opened, 0, "low", false},
			{alert("a2", "vigil-access-001", "staff-1", t0.Add(25*time.Hour), "low"), Opened, 1, "low", false},
		}},
		{"other rule family opens new", []step{
			{a1, Opened, 0, "low", false},
			{alert("a2", "vigil-device-001", "staff-1", t0.Add(time.Hour), "low"), Opened, 1, "low", false},
		}},
		{"other actor opens new", []step{
			{a1, Opened, 0, "low", false},
			{alert("a2", "vigil-access-001", "staff-2", t0, "low"), Opened, 1, "low", false},
		}},
		{"closed alert does not open", []step{
			{closedAs(a1, event.AlertClosedFalsePositive), Ignored, -1, "", false},
			{closedAs(alert("a2", "vigil-access-001", "staff-1", t0, "low"), event.AlertClosedDuplicate), Ignored, -1, "", false},
		}},
		{"repeat updates, all closed flagged", []step{
			{a1, Opened, 0, "low", false},
			{alert("a2", "vigil-access-002", "staff-1", t0.Add(time.Hour), "medium"), Joined, 0, "medium", false},
			{closedAs(a1, event.AlertClosedAuthorized), Updated, 0, "medium", false},
			{closedAs(alert("a2", "vigil-access-002", "staff-1", t0.Add(time.Hour), "critical"), event.AlertClosedFalsePositive), Updated, 0, "critical", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGrouper(cfg)
			var ids []string
			for i, s := range tt.steps {
				d := g.Add(s.a)
				if d.Outcome != s.outcome {
					t.Fatalf("step %d: outcome %s, want %s", i, d.Outcome, s.outcome)
				}
				if s.group < 0 {
					if d.Group != nil {
						t.Errorf("step %d: group %+v", i, d.Group)
					}
					continue
				}
				if d.Outcome == Opened {
					ids = append(ids, d.Group.IncidentID)
				}
				if d.Group.IncidentID != ids[s.group] || d.Group.Severity != s.sev || d.AllClosed != s.closed {
					t.Errorf("step %d: incident %s sev %s closed %v, want %s %s %v", i, d.Group.IncidentID,
						d.Group.Severity, d.AllClosed, ids[s.group], s.sev, s.closed)
				}
			}
			if len(ids) != len(slices.Compact(slices.Sorted(slices.Values(ids)))) {
				t.Errorf("opened incidents share ids: %v", ids)
			}
		})
	}
}

func TestGrouperFamilies(t *testing.T) {
	cfg := DefaultConfig().Grouping
	cfg.Families = map[string]string{"vigil-access-0*": "bulk", "vigil-access-c*": "bulk", "x.*": "x"}
	g := NewGrouper(cfg)
	for id, want := range map[string]string{"vigil-access-020": "bulk", "vigil-access-c03": "bulk",
		"vigil-access-f01": "vigil-access", "x.y.z": "x", "single": "single", "a.b-c": "a.b"} {
		if got := g.Family(id); got != want {
			t.Errorf("Family(%s) = %s, want %s", id, got, want)
		}
	}
}

func stream() []*event.Alert {
	var as []*event.Alert
	for i := range 60 {
		at := t0.Add(time.Duration(i*i) * 7 * time.Minute)
		a := alert(fmt.Sprintf("a%02d", i), []string{"vigil-access-001", "vigil-device-002", "vigil-access-c04"}[i%3],
			fmt.Sprintf("staff-%d", i%4), at, event.Severities()[i%5])
		if i%11 == 5 {
			a = closedAs(a, event.AlertClosedFalsePositive)
		}
		as = append(as, a)
		if i%7 == 3 { // a repeat of an earlier alert with a new status
			as = append(as, closedAs(as[len(as)-2], event.AlertClosedDuplicate))
		}
	}
	return as
}

func run(g *Grouper, as []*event.Alert) []string {
	var out []string
	for _, a := range as {
		d := g.Add(a)
		id := "-"
		if d.Group != nil {
			id = d.Group.IncidentID
		}
		out = append(out, string(d.Outcome)+" "+id)
	}
	return out
}

func TestGrouperDeterministicAndRestore(t *testing.T) {
	cfg := DefaultConfig().Grouping
	as := stream()
	whole := run(NewGrouper(cfg), as)
	if again := run(NewGrouper(cfg), as); !slices.Equal(whole, again) {
		t.Fatal("same alerts gave different incidents")
	}
	for cut := 1; cut < len(as); cut += 9 {
		g := NewGrouper(cfg)
		first := run(g, as[:cut])
		snap, err := g.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		r := NewGrouper(cfg)
		if err := r.Restore(snap); err != nil {
			t.Fatal(err)
		}
		snap2, _ := r.Snapshot()
		if !bytes.Equal(snap, snap2) {
			t.Fatalf("cut %d: snapshot not stable", cut)
		}
		if got := append(first, run(r, as[cut:])...); !slices.Equal(got, whole) {
			t.Fatalf("cut %d: restored grouper diverged", cut)
		}
	}
	if err := NewGrouper(cfg).Restore([]byte(`{"version":2}`)); err == nil {
		t.Error("unknown snapshot version accepted")
	}
}

func TestGrouperEviction(t *testing.T) {
	cfg := DefaultConfig().Grouping
	cfg.MaxOpen = 2
	g := NewGrouper(cfg)
	first := g.Add(alert("a1", "vigil-access-001", "staff-1", t0, "low")).Group.IncidentID
	g.Add(alert("a2", "vigil-access-001", "staff-2", t0.Add(time.Minute), "low"))
	g.Add(alert("a3", "vigil-access-001", "staff-3", t0.Add(2*time.Minute), "low"))
	if s := g.Stats(); s.Open != 2 || s.Evicted != 1 {
		t.Fatalf("stats %+v", s)
	}
	// staff-1's group was evicted: its next alert opens a new incident
	// with a new id (new window start), not the evicted one.
	d := g.Add(alert("a4", "vigil-access-001", "staff-1", t0.Add(3*time.Hour), "low"))
	if d.Outcome != Opened || d.Group.IncidentID == first {
		t.Errorf("after eviction: %s %s", d.Outcome, d.Group.IncidentID)
	}
	if s := g.Stats(); s.Evicted != 2 {
		t.Errorf("evicted %d", s.Evicted)
	}
}

func TestGroupIncident(t *testing.T) {
	g := NewGrouper(DefaultConfig().Grouping)
	g.Add(alert("b", "vigil-access-001", "staff-1", t0, "low"))
	d := g.Add(alert("a", "vigil-access-002", "staff-1", t0.Add(time.Hour), "high"))
	inc := d.Group.Incident()
	if inc.State != event.IncidentDetected || !slices.Equal(inc.AlertIDs, []string{"a", "b"}) || inc.Severity != "high" ||
		!inc.WindowStart.Equal(t0) || !inc.WindowEnd.Equal(t0.Add(70*time.Minute)) || inc.ActorID != "staff-1" || inc.Org != "hosp-sh" ||
		inc.IncidentID != IncidentID("hosp-sh", d.Group.Key, t0) {
		t.Errorf("incident %+v", inc)
	}
}

// TestGrouperSeed: a grouper seeded from incident records (as after a
// restart) joins later alerts to the same incidents as the grouper that
// opened them would have.
func TestGrouperSeed(t *testing.T) {
	cfg := DefaultConfig().Grouping
	before := NewGrouper(cfg)
	d := before.Add(alert("a1", "vigil-access-001", "staff-1", t0, event.SeverityLow))
	inc := d.Group.Incident()
	inc.RuleIDs = []string{"vigil-access-001"}
	for _, tc := range []struct {
		name    string
		a       *event.Alert
		outcome Outcome
		same    bool
	}{
		{"same actor and family within the window joins", alert("a2", "vigil-access-020", "staff-1", t0.Add(2*time.Hour), "high"), Joined, true},
		{"a repeat of the opening alert updates", alert("a1", "vigil-access-001", "staff-1", t0, "medium"), Updated, true},
		{"outside the window opens anew", alert("a3", "vigil-access-001", "staff-1", t0.Add(48*time.Hour), "low"), Opened, false},
		{"other family opens anew", alert("a4", "vigil-device-001", "staff-1", t0, "low"), Opened, false},
		{"other actor opens anew", alert("a5", "vigil-access-001", "staff-2", t0, "low"), Opened, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := before.Add(tc.a) // what the grouper without a restart says
			before = NewGrouper(cfg)
			before.Add(alert("a1", "vigil-access-001", "staff-1", t0, event.SeverityLow))
			after := NewGrouper(cfg)
			after.Seed(&inc, inc.RuleIDs[0])
			after.Seed(&inc, inc.RuleIDs[0]) // seeding twice changes nothing
			if st := after.Stats(); st.Open != 1 {
				t.Fatalf("seeded grouper holds %d groups, want 1", st.Open)
			}
			got := after.Add(tc.a)
			if got.Outcome != tc.outcome || want.Outcome != tc.outcome {
				t.Fatalf("outcome %v (without restart %v), want %v", got.Outcome, want.Outcome, tc.outcome)
			}
			if (got.Group.IncidentID == inc.IncidentID) != tc.same || got.Group.IncidentID != want.Group.IncidentID {
				t.Fatalf("incident %s (without restart %s), opening incident %s", got.Group.IncidentID, want.Group.IncidentID, inc.IncidentID)
			}
		})
	}
	var empty event.Incident
	g := NewGrouper(cfg)
	g.Seed(&empty, "vigil-access-001")
	if g.Stats().Open != 0 {
		t.Fatal("an empty incident record was seeded")
	}
}
