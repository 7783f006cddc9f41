package notifier

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/regime"
)

func TestRegimePlannerWithTheShippedRegimes(t *testing.T) {
	set, err := regime.Default()
	if err != nil {
		t.Fatal(err)
	}
	p := RegimePlanner{Set: set, Profile: regime.Profile{Operator: regime.OperatorOrdinary, Jurisdictions: []string{"pipl"}, DPO: "dpo@example.org"}}
	aware := event.NewTimestamp(t0)
	inc := &event.Incident{IncidentID: "inc-1", State: event.IncidentConfirmed, AwareAt: aware,
		Fields: map[string]string{"cause": "phished password", "impact": "records read"}}
	scope := Scope{Scope: event.Scope{People: 1_200_000, Minors: 3, Categories: []event.Category{"health", "minor_data"}}}

	obs, err := p.Plan(inc, scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]event.Obligation{}
	for _, o := range obs {
		byID[o.ID] = o
	}
	for _, tc := range []struct {
		id   string
		due  time.Duration
		kind string
	}{
		{"cac.initial", 4 * time.Hour, "regulator_report"},
		{"pipl.individual", 24 * time.Hour, "individual_notice"},
		{"pipl.guardian", 24 * time.Hour, "guardian_notice"},
		{"pipl.regulator", 24 * time.Hour, "regulator_report"},
	} {
		o, ok := byID[tc.id]
		if !ok {
			t.Errorf("no %s in the plan (%d obligations)", tc.id, len(obs))
			continue
		}
		if !o.DueAt.Equal(t0.Add(tc.due)) || o.Kind != tc.kind || o.ApprovalRole != "dpo" || !o.StartsAt.Equal(t0) {
			t.Errorf("%s: %+v", tc.id, o)
		}
	}
	if byID["cac.initial"].Grade != "较大" {
		t.Errorf("grade %q for 1.2M people", byID["cac.initial"].Grade)
	}
	if o := byID["pipl.individual"]; len(o.Channels) == 0 || o.Channels[0] != event.ChannelEmail || len(o.Fields) == 0 {
		t.Errorf("individual notice channels %v fields %v", o.Channels, o.Fields)
	}
	// The summary waits for the end of handling; containment sets it.
	if s, ok := byID["cac.summary"]; ok && !s.DueAt.IsZero() {
		t.Errorf("cac.summary due %v before handling ended", s.DueAt)
	}
	inc.Transitions = append(inc.Transitions, event.Transition{From: event.IncidentConfirmed, To: event.IncidentContained, At: event.NewTimestamp(t0.Add(48 * time.Hour))})
	obs, err = p.Plan(inc, scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if o.ID == "cac.summary" && !o.DueAt.Equal(t0.Add(48*time.Hour+30*24*time.Hour)) {
			t.Errorf("cac.summary due %v, want 30 days after containment", o.DueAt)
		}
	}

	// Below 1e6 people: no CAC report, PIPL duties stay; GDPR only for
	// orgs under it.
	small, err := p.Plan(inc, Scope{Scope: event.Scope{People: 999_999, Jurisdictions: []string{"pipl", "gdpr"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	has := func(obs []event.Obligation, id string) bool {
		for _, o := range obs {
			if o.ID == id {
				return true
			}
		}
		return false
	}
	if has(small, "cac.initial") || !has(small, "pipl.individual") || !has(small, "gdpr.authority") {
		t.Errorf("999,999 people under pipl+gdpr: %v", small)
	}
	// Unreachable people bring the substitute notice.
	withUnreachable, err := p.Plan(inc, scope, map[string]int64{"pipl": 2})
	if err != nil {
		t.Fatal(err)
	}
	if !has(withUnreachable, "pipl.public") {
		t.Errorf("no public announcement with 2 unreachable: %v", withUnreachable)
	}
	if _, err := p.Plan(&event.Incident{IncidentID: "x"}, scope, nil); !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("plan without awareness: %v", err)
	}
}
