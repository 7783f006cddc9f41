package notifier

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"github.com/vigil-audit/vigil/notifier/incident"
)

// TestIncidentsRestore: after a restart the grouping is seeded from the
// incident records, so a later alert of the same actor and rule family
// joins the open incident instead of opening a second one; dismissed and
// closed incidents are not restored.
func TestIncidentsRestore(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	a1 := alert("al1", "act1", t0.Add(-time.Hour))
	before := NewIncidents(incident.DefaultConfig(), nil)
	id, ok := before.Group(a1)
	if !ok {
		t.Fatal("the first alert opened no incident")
	}
	// The record as the service keeps it (RuleIDs from OnAlert).
	inc, _, err := r.svc.OnAlert(ctx, a1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inc.RuleIDs, []string{a1.RuleID}) {
		t.Fatalf("rule_ids %v, want [%s]", inc.RuleIDs, a1.RuleID)
	}
	inc.IncidentID = id
	dismissed := inc
	dismissed.IncidentID, dismissed.ActorID, dismissed.State = "inc-other", "act2", event.IncidentDismissed

	after := NewIncidents(incident.DefaultConfig(), nil)
	if n := after.Restore([]event.Incident{inc, dismissed}); n != 1 {
		t.Fatalf("restored %d incidents, want 1 (the dismissed one stays out)", n)
	}
	if got, _ := after.Group(alert("al2", "act1", t0)); got != id {
		t.Errorf("a later alert of the actor went to %s, want the open incident %s", got, id)
	}
	if got, _ := after.Group(alert("al3", "act2", t0)); got == "inc-other" || got == id {
		t.Errorf("an alert of the dismissed incident's actor went to %s, want a new incident", got)
	}
}

// TestIncidentsScopePerState: people are counted per US State through the
// org's configured state (us_states), which HIPAA's media notice reads.
func TestIncidentsScopePerState(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []event.AccessEvent
	for i := range 3 {
		at := event.NewTimestamp(t0.Add(time.Duration(i) * time.Minute))
		evs = append(evs, event.AccessEvent{EventID: fmt.Sprintf("e%d", i), OccurredAt: at, ReceivedAt: at, Source: "emr", Org: "clinic-sf",
			Actor: event.Actor{ID: "staff-1", Type: event.ActorStaff}, Action: event.ActionRead,
			Subject: event.Subject{ID: fmt.Sprintf("p%d", i), Type: event.SubjectPatient}, Categories: []event.Category{event.CategoryHealth},
			RecordCount: 1, Relationship: event.RelationshipFalse, Outcome: event.OutcomeSuccess})
	}
	if err := st.Write(ctx, &store.Batch{Access: evs}); err != nil {
		t.Fatal(err)
	}
	cfg := incident.DefaultConfig()
	cfg.Jurisdictions = map[string][]string{"clinic-sf": {"hipaa"}}
	inc := &event.Incident{Org: "clinic-sf", ActorID: "staff-1", WindowStart: event.NewTimestamp(t0), WindowEnd: event.NewTimestamp(t0.Add(time.Hour))}
	for _, tc := range []struct {
		states map[string]string
		want   map[string]int64
	}{
		{map[string]string{"clinic-sf": "CA"}, map[string]int64{"CA": 3}},
		{nil, nil}, // no state configured: no per-state count
	} {
		cfg.USStates = tc.states
		sc, err := NewIncidents(cfg, st).Scope(ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(sc.PerState, tc.want) || sc.People != 3 {
			t.Errorf("states %v: per state %v, people %d; want %v, 3", tc.states, sc.PerState, sc.People, tc.want)
		}
	}
}

func TestSecretFrom(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		name, env, file, want, err string
	}{
		{"env wins", "from-env", file, "from-env", ""},
		{"file, trimmed", "", file, "from-file", ""},
		{"neither", "", "", "", "VIGIL_NOTIFY_SMTP_PASSWORD is empty and no file is given"},
		{"missing file", "", file + ".nope", "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secretFrom(env(tc.env), EnvSMTPPassword, tc.file)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("secretFrom = %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}
