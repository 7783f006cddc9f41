package incident

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Command asks for one state change.
type Command struct {
	To     event.IncidentState
	Reason string
	// AwareAt is an explicit awareness time for a confirmation; zero means
	// now. An awareness time before now is "backdated" and needs a reason.
	AwareAt time.Time
}

// Operator is who issues a command.
type Operator struct {
	Name  string
	Roles []Role
}

// Obligations tells how many legal obligations of an incident are still
// open; the obligation planner implements it.
type Obligations interface {
	ObligationsOpen(incidentID string) int
}

// Lifecycle applies commands to incidents under a permission table.
type Lifecycle struct {
	cfg         Config
	obligations Obligations
}

// NewLifecycle returns a Lifecycle using cfg's roles and awareness margin;
// obligations answers whether an incident may close (nil: closing always
// fails with ErrObligationsUnknown).
func NewLifecycle(cfg Config, obligations Obligations) *Lifecycle {
	return &Lifecycle{cfg: cfg, obligations: obligations}
}

// Errors of Apply and AmendAwareness.
var (
	ErrReasonRequired     = errors.New("a reason is required")
	ErrNoOperator         = errors.New("the operator has no name")
	ErrAwareInFuture      = errors.New("awareness time is in the future")
	ErrAwareTooEarly      = errors.New("awareness time is before the incident's first activity")
	ErrObligationsOpen    = errors.New("obligations are still open")
	ErrObligationsUnknown = errors.New("no obligation tracker to check before closing")
	ErrNotAware           = errors.New("the incident has no awareness time yet")
)

// IllegalTransitionError is a change the lifecycle does not have.
type IllegalTransitionError struct {
	From, To event.IncidentState
	// Allowed are the states From may move to.
	Allowed []event.IncidentState
}

func (e *IllegalTransitionError) Error() string {
	a := make([]string, len(e.Allowed))
	for i, s := range e.Allowed {
		a[i] = string(s)
	}
	return fmt.Sprintf("incident cannot move from %s to %s (allowed: %s)", e.From, e.To, strings.Join(a, ", "))
}

// ForbiddenError is a legal change the operator's roles do not permit.
type ForbiddenError struct {
	Roles []Role
	To    event.IncidentState
	// Needs are the roles that may make the change.
	Needs []Role
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("roles %v may not move an incident to %s (needs one of %v)", e.Roles, e.To, e.Needs)
}

// Allowed lists the states s may move to, in lifecycle order.
func Allowed(s event.IncidentState) []event.IncidentState {
	var out []event.IncidentState
	for _, n := range event.IncidentStates() {
		if s.CanTransitionTo(n) {
			out = append(out, n)
		}
	}
	return out
}

// Apply moves inc to cmd.To on behalf of op at now, or returns why not
// without changing inc. Checks, in order: the transition exists
// (*IllegalTransitionError), op's roles permit it (*ForbiddenError), a
// reason is given where needed (ErrReasonRequired: dismissal, reopening,
// backdated confirmation), the awareness time of a confirmation is sane,
// and closing has no open obligation. The transition is appended with
// who, when and why.
func (l *Lifecycle) Apply(inc *event.Incident, cmd Command, op Operator, now time.Time) error {
	from, to := inc.State, cmd.To
	if strings.TrimSpace(op.Name) == "" {
		return ErrNoOperator
	}
	if !from.CanTransitionTo(to) {
		return &IllegalTransitionError{From: from, To: to, Allowed: Allowed(from)}
	}
	if !l.permits(op, from, to) {
		return &ForbiddenError{Roles: slices.Clone(op.Roles), To: to, Needs: l.cfg.NeedsRoles(from, to)}
	}
	reason := strings.TrimSpace(cmd.Reason)
	now = now.UTC().Truncate(time.Millisecond)
	switch {
	case to == event.IncidentDismissed && reason == "":
		return fmt.Errorf("%w to dismiss incident %s", ErrReasonRequired, inc.IncidentID)
	case from == event.IncidentDismissed && reason == "":
		return fmt.Errorf("%w to reopen incident %s", ErrReasonRequired, inc.IncidentID)
	}
	aware := inc.AwareAt
	var amended string
	if to == event.IncidentConfirmed {
		explicit := !cmd.AwareAt.IsZero()
		at := now
		if explicit {
			at = cmd.AwareAt.UTC().Truncate(time.Millisecond)
		}
		if err := l.checkAware(inc, at, now); err != nil {
			return err
		}
		switch {
		case !inc.AwareAt.IsZero() && (!explicit || at.Equal(inc.AwareAt.Time)):
			// Re-confirmation after a reopening keeps the first awareness.
		case !inc.AwareAt.IsZero():
			if reason == "" {
				return fmt.Errorf("%w to change the awareness time of incident %s", ErrReasonRequired, inc.IncidentID)
			}
			amended = awarenessNote(inc.AwareAt.Time, at)
			aware = event.NewTimestamp(at)
		default:
			if explicit && at.Before(now) && reason == "" {
				return fmt.Errorf("%w for a backdated awareness time of incident %s", ErrReasonRequired, inc.IncidentID)
			}
			aware = event.NewTimestamp(at)
		}
	}
	if to == event.IncidentClosed {
		if l.obligations == nil {
			return fmt.Errorf("closing incident %s: %w", inc.IncidentID, ErrObligationsUnknown)
		}
		if n := l.obligations.ObligationsOpen(inc.IncidentID); n > 0 {
			return fmt.Errorf("closing incident %s: %w (%d)", inc.IncidentID, ErrObligationsOpen, n)
		}
	}
	if amended != "" {
		reason = amended + ": " + reason
	}
	inc.AwareAt = aware
	inc.State = to
	inc.Transitions = append(inc.Transitions, event.Transition{From: from, To: to,
		At: event.NewTimestamp(now), By: op.Name, Reason: reason})
	return nil
}

// AmendAwareness changes a confirmed incident's awareness time to at,
// with a reason, recording the amendment as a transition from the current
// state to itself whose reason names the old and new times. It needs a
// role that may confirm.
func (l *Lifecycle) AmendAwareness(inc *event.Incident, at time.Time, reason string, op Operator, now time.Time) error {
	if strings.TrimSpace(op.Name) == "" {
		return ErrNoOperator
	}
	if inc.AwareAt.IsZero() {
		return fmt.Errorf("amending incident %s: %w", inc.IncidentID, ErrNotAware)
	}
	if !l.permits(op, event.IncidentTriage, event.IncidentConfirmed) {
		return &ForbiddenError{Roles: slices.Clone(op.Roles), To: event.IncidentConfirmed,
			Needs: l.cfg.NeedsRoles(event.IncidentTriage, event.IncidentConfirmed)}
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return fmt.Errorf("%w to amend the awareness time of incident %s", ErrReasonRequired, inc.IncidentID)
	}
	now = now.UTC().Truncate(time.Millisecond)
	at = at.UTC().Truncate(time.Millisecond)
	if err := l.checkAware(inc, at, now); err != nil {
		return err
	}
	note := awarenessNote(inc.AwareAt.Time, at)
	inc.AwareAt = event.NewTimestamp(at)
	inc.Transitions = append(inc.Transitions, event.Transition{From: inc.State, To: inc.State,
		At: event.NewTimestamp(now), By: op.Name, Reason: note + ": " + reason})
	return nil
}

func awarenessNote(old, at time.Time) string {
	return fmt.Sprintf("awareness amended from %s to %s", old.UTC().Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano))
}

func (l *Lifecycle) checkAware(inc *event.Incident, at, now time.Time) error {
	if at.After(now) {
		return fmt.Errorf("incident %s: %w (%s after %s)", inc.IncidentID, ErrAwareInFuture,
			at.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	if !inc.WindowStart.IsZero() && at.Before(inc.WindowStart.Add(-l.cfg.AwarenessMargin)) {
		return fmt.Errorf("incident %s: %w (%s, first activity %s, margin %s)", inc.IncidentID, ErrAwareTooEarly,
			at.Format(time.RFC3339Nano), inc.WindowStart.UTC().Format(time.RFC3339Nano), l.cfg.AwarenessMargin)
	}
	return nil
}

func (l *Lifecycle) permits(op Operator, from, to event.IncidentState) bool {
	for _, r := range op.Roles {
		if p, ok := l.cfg.Roles[r]; ok && p.Allows(from, to) {
			return true
		}
	}
	return false
}
