package incident

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

var (
	t0  = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	now = t0.Add(48 * time.Hour)
)

type openObligations map[string]int

func (o openObligations) ObligationsOpen(id string) int { return o[id] }

// legal is the lifecycle written out independently of event.incidentNext.
var legal = map[event.IncidentState][]event.IncidentState{
	"detected":  {"triage", "confirmed", "dismissed"},
	"triage":    {"confirmed", "dismissed"},
	"confirmed": {"contained", "notifying", "reported"},
	"dismissed": {"triage"},
	"contained": {"notifying", "reported", "closed"},
	"notifying": {"contained", "reported", "closed"},
	"reported":  {"contained", "notifying", "closed"},
	"closed":    nil,
}

// mayReach is the default permission table written out: which role may
// move to which state (system only from detected).
func mayReach(r Role, from, to event.IncidentState) bool {
	switch r {
	case RoleAnalyst, RoleAdmin:
		return slices.Contains([]event.IncidentState{"triage", "confirmed", "dismissed", "contained"}, to)
	case RoleDPO:
		return to != "detected"
	case RoleSystem:
		return from == "detected" && (to == "triage" || to == "dismissed")
	}
	return false
}

func newInc(s event.IncidentState) *event.Incident {
	return &event.Incident{IncidentID: "inc-1", State: s, WindowStart: event.NewTimestamp(t0),
		WindowEnd: event.NewTimestamp(t0.Add(time.Hour))}
}

func TestApplyEveryTransitionEveryRole(t *testing.T) {
	l := NewLifecycle(DefaultConfig(), openObligations{})
	for _, from := range event.IncidentStates() {
		for _, to := range event.IncidentStates() {
			for _, r := range roles {
				t.Run(string(from)+"→"+string(to)+"/"+string(r), func(t *testing.T) {
					inc := newInc(from)
					before := len(inc.Transitions)
					err := l.Apply(inc, Command{To: to, Reason: "checked"}, Operator{Name: "op-1", Roles: []Role{r}}, now)
					var ill *IllegalTransitionError
					var forb *ForbiddenError
					switch {
					case !slices.Contains(legal[from], to):
						if !errors.As(err, &ill) {
							t.Fatalf("err = %v, want IllegalTransitionError", err)
						}
						if ill.From != from || ill.To != to || !slices.Equal(ill.Allowed, legal[from]) {
							t.Errorf("error = %+v, allowed want %v", ill, legal[from])
						}
					case !mayReach(r, from, to):
						if !errors.As(err, &forb) {
							t.Fatalf("err = %v, want ForbiddenError", err)
						}
						if forb.To != to || len(forb.Needs) == 0 || slices.Contains(forb.Needs, r) {
							t.Errorf("error = %+v", forb)
						}
					default:
						if err != nil {
							t.Fatalf("err = %v, want nil", err)
						}
						if inc.State != to || len(inc.Transitions) != before+1 {
							t.Fatalf("state %s, %d transitions", inc.State, len(inc.Transitions))
						}
						tr := inc.Transitions[before]
						if tr.From != from || tr.To != to || tr.By != "op-1" || tr.Reason != "checked" || !tr.At.Equal(now) {
							t.Errorf("transition = %+v", tr)
						}
						return
					}
					if inc.State != from || len(inc.Transitions) != before {
						t.Errorf("a refused command changed the incident")
					}
				})
			}
		}
	}
}

func TestApplyRules(t *testing.T) {
	dpo := Operator{Name: "dpo-1", Roles: []Role{RoleDPO}}
	tests := []struct {
		name    string
		from    event.IncidentState
		aware   time.Time // incident's existing awareness
		cmd     Command
		op      Operator
		obl     Obligations
		wantErr error
		check   func(*testing.T, *event.Incident)
	}{
		{name: "dismiss needs reason", from: "triage", cmd: Command{To: "dismissed"}, op: dpo, wantErr: ErrReasonRequired},
		{name: "dismiss blank reason", from: "detected", cmd: Command{To: "dismissed", Reason: "  "}, op: dpo, wantErr: ErrReasonRequired},
		{name: "reopen needs reason", from: "dismissed", cmd: Command{To: "triage"}, op: dpo, wantErr: ErrReasonRequired},
		{name: "reopen with reason", from: "dismissed", cmd: Command{To: "triage", Reason: "new evidence"}, op: dpo},
		{name: "triage without reason", from: "detected", cmd: Command{To: "triage"}, op: dpo},
		{name: "confirm now", from: "triage", cmd: Command{To: "confirmed"}, op: dpo,
			check: func(t *testing.T, inc *event.Incident) {
				if !inc.AwareAt.Equal(now) {
					t.Errorf("aware = %v, want now", inc.AwareAt)
				}
			}},
		{name: "confirm explicit now needs no reason", from: "triage", cmd: Command{To: "confirmed", AwareAt: now}, op: dpo},
		{name: "backdated needs reason", from: "triage", cmd: Command{To: "confirmed", AwareAt: t0.Add(2 * time.Hour)}, op: dpo, wantErr: ErrReasonRequired},
		{name: "backdated with reason", from: "triage", cmd: Command{To: "confirmed", AwareAt: t0.Add(2 * time.Hour), Reason: "call from ward"}, op: dpo,
			check: func(t *testing.T, inc *event.Incident) {
				if !inc.AwareAt.Equal(t0.Add(2 * time.Hour)) {
					t.Errorf("aware = %v", inc.AwareAt)
				}
			}},
		{name: "future awareness", from: "triage", cmd: Command{To: "confirmed", AwareAt: now.Add(time.Minute)}, op: dpo, wantErr: ErrAwareInFuture},
		{name: "awareness within margin", from: "triage", cmd: Command{To: "confirmed", AwareAt: t0.Add(-time.Hour), Reason: "r"}, op: dpo},
		{name: "awareness before margin", from: "triage", cmd: Command{To: "confirmed", AwareAt: t0.Add(-time.Hour - time.Millisecond), Reason: "r"}, op: dpo, wantErr: ErrAwareTooEarly},
		{name: "reconfirm keeps awareness", from: "triage", aware: t0.Add(3 * time.Hour), cmd: Command{To: "confirmed"}, op: dpo,
			check: func(t *testing.T, inc *event.Incident) {
				if !inc.AwareAt.Equal(t0.Add(3 * time.Hour)) {
					t.Errorf("aware changed to %v", inc.AwareAt)
				}
			}},
		{name: "reconfirm new awareness needs reason", from: "triage", aware: t0.Add(3 * time.Hour), cmd: Command{To: "confirmed", AwareAt: t0.Add(4 * time.Hour)}, op: dpo, wantErr: ErrReasonRequired},
		{name: "reconfirm new awareness amended", from: "triage", aware: t0.Add(3 * time.Hour), cmd: Command{To: "confirmed", AwareAt: t0.Add(4 * time.Hour), Reason: "log review"}, op: dpo,
			check: func(t *testing.T, inc *event.Incident) {
				r := inc.Transitions[len(inc.Transitions)-1].Reason
				if !inc.AwareAt.Equal(t0.Add(4*time.Hour)) || !strings.Contains(r, "awareness amended from 2026-03-01T11:00:00Z") || !strings.HasSuffix(r, "log review") {
					t.Errorf("aware %v reason %q", inc.AwareAt, r)
				}
			}},
		{name: "close with open obligations", from: "reported", cmd: Command{To: "closed"}, op: dpo, obl: openObligations{"inc-1": 2}, wantErr: ErrObligationsOpen},
		{name: "close without tracker", from: "reported", cmd: Command{To: "closed"}, op: dpo, wantErr: ErrObligationsUnknown},
		{name: "close all met", from: "notifying", cmd: Command{To: "closed"}, op: dpo, obl: openObligations{"other": 1}},
		{name: "no operator name", from: "detected", cmd: Command{To: "triage"}, op: Operator{Roles: []Role{RoleDPO}}, wantErr: ErrNoOperator},
		{name: "several roles", from: "reported", cmd: Command{To: "closed"}, op: Operator{Name: "x", Roles: []Role{RoleAnalyst, RoleDPO}}, obl: openObligations{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLifecycle(DefaultConfig(), tt.obl)
			inc := newInc(tt.from)
			if !tt.aware.IsZero() {
				inc.AwareAt = event.NewTimestamp(tt.aware)
			}
			err := l.Apply(inc, tt.cmd, tt.op, now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if inc.State != tt.from || len(inc.Transitions) != 0 {
					t.Errorf("refused command changed the incident: %+v", inc)
				}
				return
			}
			if inc.State != tt.cmd.To || len(inc.Transitions) != 1 {
				t.Fatalf("state %s transitions %d", inc.State, len(inc.Transitions))
			}
			if tt.check != nil {
				tt.check(t, inc)
			}
		})
	}
}

func TestAmendAwareness(t *testing.T) {
	l := NewLifecycle(DefaultConfig(), nil)
	dpo := Operator{Name: "dpo-1", Roles: []Role{RoleDPO}}
	inc := newInc("triage")
	if err := l.AmendAwareness(inc, t0, "x", dpo, now); !errors.Is(err, ErrNotAware) {
		t.Fatalf("before confirmation: %v", err)
	}
	if err := l.Apply(inc, Command{To: "confirmed"}, dpo, now); err != nil {
		t.Fatal(err)
	}
	if err := l.AmendAwareness(inc, t0.Add(time.Hour), "", dpo, now); !errors.Is(err, ErrReasonRequired) {
		t.Errorf("no reason: %v", err)
	}
	var forb *ForbiddenError
	if err := l.AmendAwareness(inc, t0.Add(time.Hour), "r", Operator{Name: "s", Roles: []Role{RoleSystem}}, now); !errors.As(err, &forb) {
		t.Errorf("system: %v", err)
	}
	if err := l.AmendAwareness(inc, now.Add(time.Hour), "r", dpo, now); !errors.Is(err, ErrAwareInFuture) {
		t.Errorf("future: %v", err)
	}
	if err := l.AmendAwareness(inc, t0.Add(time.Hour), "ticket found", dpo, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	tr := inc.Transitions[len(inc.Transitions)-1]
	if !inc.AwareAt.Equal(t0.Add(time.Hour)) || tr.From != "confirmed" || tr.To != "confirmed" || tr.By != "dpo-1" ||
		!strings.Contains(tr.Reason, "ticket found") || len(inc.Transitions) != 2 {
		t.Errorf("aware %v transition %+v", inc.AwareAt, tr)
	}
}
