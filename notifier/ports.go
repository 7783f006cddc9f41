package notifier

import (
	"context"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Scope is what an incident affected: the counts recorded in the incident
// and the subjects the notices go to. Subjects are tokens, never contact
// details, and stay out of the incident record (there may be millions).
type Scope struct {
	event.Scope
	// Records is how many records were touched; PerState counts people by
	// state or province of residence where known (HIPAA media notice).
	Records  int64
	PerState map[string]int64
	// Subjects are the affected people, by token, sorted.
	Subjects []Subject
}

// Subject is one affected person.
type Subject struct {
	Token string
	Minor bool
}

// Scoper computes an incident's scope from the store.
type Scoper interface {
	Scope(ctx context.Context, inc *event.Incident) (Scope, error)
}

// Planner turns an incident's scope into its obligations, from the regime
// files and the operator's profile. unreachable counts, per regime, the
// people no notice could reach so far (substitute-notice rules).
type Planner interface {
	Plan(inc *event.Incident, scope Scope, unreachable map[string]int64) ([]event.Obligation, error)
}

// Operator is an authenticated person (or "system") issuing a command.
type Operator struct {
	Name  string
	Roles []string
}

// Has reports whether the operator holds role.
func (o Operator) Has(role string) bool { return slices.Contains(o.Roles, role) }

// Transitioner checks and applies a lifecycle command to an incident,
// appending the transition (who, when, why). It sets AwareAt on
// confirmation (awareAt, or now when zero).
type Transitioner func(inc *event.Incident, to event.IncidentState, reason string, awareAt time.Time, op Operator, now time.Time) error
