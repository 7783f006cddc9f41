package notifier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/notifier/incident"
)

// Incidents wires notifier/incident into the Service: alert grouping, the
// lifecycle with its permission table, and the scope from the store.
type Incidents struct {
	cfg   incident.Config
	store store.Reader
	// defaults are the regimes of orgs cfg names no jurisdiction for.
	defaults []string

	mu sync.Mutex // the Grouper is not safe for concurrent use
	g  *incident.Grouper
}

// NewIncidents returns the incident rules of cfg over the store r.
func NewIncidents(cfg incident.Config, r store.Reader) *Incidents {
	return &Incidents{cfg: cfg, store: r, g: incident.NewGrouper(cfg.Grouping)}
}

// Restore seeds the grouping state from the incidents recorded before a
// restart (the book): every incident neither dismissed nor closed takes
// its group back, so that a later alert of the same actor or device and
// rule family joins it instead of opening a second incident. Incidents
// recorded before rule_ids existed cannot be keyed and are skipped; it
// returns how many were restored.
func (x *Incidents) Restore(incs []event.Incident) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for i := range incs {
		inc := &incs[i]
		if inc.State == event.IncidentDismissed || inc.State == event.IncidentClosed || len(inc.RuleIDs) == 0 {
			continue
		}
		x.g.Seed(inc, inc.RuleIDs[0])
		n++
	}
	return n
}

// Group is Config.Group: the incident an alert opens or joins. The
// grouping state lives in memory and is seeded on start from the book
// (Restore).
func (x *Incidents) Group(a event.Alert) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	d := x.g.Add(&a)
	if d.Outcome == incident.Ignored || d.Group == nil {
		return "", false
	}
	return d.Group.IncidentID, true
}

// Transition is Config.Transition: incident.Lifecycle.Apply, with its
// errors mapped to the service's (ErrConflict, ErrForbidden,
// ErrBadCommand). Closing checks the incident's own obligations.
func (x *Incidents) Transition(inc *event.Incident, to event.IncidentState, reason string, awareAt time.Time, op Operator, now time.Time) error {
	roles := make([]incident.Role, len(op.Roles))
	for i, r := range op.Roles {
		roles[i] = incident.Role(r)
	}
	lc := incident.NewLifecycle(x.cfg, openObligations{inc})
	err := lc.Apply(inc, incident.Command{To: to, Reason: reason, AwareAt: awareAt}, incident.Operator{Name: op.Name, Roles: roles}, now)
	var ill *incident.IllegalTransitionError
	var forb *incident.ForbiddenError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ill), errors.Is(err, incident.ErrObligationsOpen), errors.Is(err, incident.ErrNotAware):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.As(err, &forb):
		return fmt.Errorf("%w: %v", ErrForbidden, err)
	default:
		return fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
}

// openObligations counts the incident's pending obligations (the record
// being changed, not the book: Transition runs inside a book update).
type openObligations struct{ inc *event.Incident }

func (o openObligations) ObligationsOpen(string) int {
	n := 0
	for _, ob := range o.inc.Obligations {
		if ob.Status.Pending() {
			n++
		}
	}
	return n
}

// Scope is the Scoper: incident.ComputeScope over the incident's window.
func (x *Incidents) Scope(ctx context.Context, inc *event.Incident) (Scope, error) {
	w := incident.WindowOf(inc, x.cfg)
	if _, ok := w.Jurisdictions[inc.Org]; !ok && len(x.defaults) > 0 {
		j := make(map[string][]string, len(w.Jurisdictions)+1)
		for k, v := range w.Jurisdictions {
			j[k] = v
		}
		j[inc.Org] = x.defaults
		w.Jurisdictions = j
	}
	s, err := incident.ComputeScope(ctx, x.store, w)
	if err != nil {
		return Scope{}, err
	}
	minors := make(map[string]bool, len(s.MinorSubjects))
	for _, tok := range s.MinorSubjects {
		minors[tok] = true
	}
	out := Scope{Scope: s.Event(), Records: s.Records, Subjects: make([]Subject, len(s.Subjects))}
	for org, n := range s.PeopleByOrg {
		if st, ok := x.cfg.USStates[org]; ok {
			if out.PerState == nil {
				out.PerState = map[string]int64{}
			}
			out.PerState[st] += n
		}
	}
	for i, tok := range s.Subjects {
		out.Subjects[i] = Subject{Token: tok, Minor: minors[tok]}
	}
	return out, nil
}
