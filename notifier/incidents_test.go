package notifier

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
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
