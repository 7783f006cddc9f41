package notifier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/deadline"
	"github.com/vigil-audit/vigil/notifier/delivery"
)

// Roles the service itself checks; the lifecycle's own permission table
// (notifier/incident) checks transitions.
const (
	RoleDPO     = "dpo"
	RoleAnalyst = "analyst"
	RoleAdmin   = "admin"
)

// Errors commands return; each says what the caller should do.
var (
	// ErrForbidden: the operator lacks the role the command needs.
	ErrForbidden = errors.New("forbidden")
	// ErrUnknownObligation: the incident has no obligation with that id.
	ErrUnknownObligation = errors.New("unknown obligation")
	// ErrNotConfirmed: obligations exist only once an incident is
	// confirmed.
	ErrNotConfirmed = errors.New("incident not confirmed")
	// ErrObligationClosed: the obligation is done or waived already.
	ErrObligationClosed = errors.New("obligation already done or waived")
	// ErrBadCommand: the command's arguments are incomplete or malformed.
	ErrBadCommand = errors.New("bad command")
)

// Service runs incidents from alert to closure. Its state is the Book
// (incidents) and the Ledger (notices); everything else is derived.
type Service struct {
	book       *Book
	ledger     *delivery.Ledger
	scoper     Scoper
	planner    Planner
	transition Transitioner
	group      func(a event.Alert) (incidentID string, join bool)
	now        func() time.Time
	log        *slog.Logger
}

// Config wires a Service.
type Config struct {
	Book       *Book
	Ledger     *delivery.Ledger
	Scoper     Scoper
	Planner    Planner
	Transition Transitioner
	// Group names the incident an alert opens or joins; join false means
	// the alert opens no incident (closed alerts).
	Group  func(a event.Alert) (incidentID string, join bool)
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns a Service; every field of cfg but Now and Logger is
// required.
func New(cfg Config) (*Service, error) {
	if cfg.Book == nil || cfg.Ledger == nil || cfg.Scoper == nil || cfg.Planner == nil || cfg.Transition == nil || cfg.Group == nil {
		return nil, errors.New("notifier: book, ledger, scoper, planner, transition and group are required")
	}
	s := &Service{
		book: cfg.Book, ledger: cfg.Ledger, scoper: cfg.Scoper, planner: cfg.Planner,
		transition: cfg.Transition, group: cfg.Group, now: cfg.Now, log: cfg.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Book returns the incidents.
func (s *Service) Book() *Book { return s.book }

// Ledger returns the notices.
func (s *Service) Ledger() *delivery.Ledger { return s.ledger }

// OnAlert folds an alert record into the incident it opens or joins. A
// repeated record of the same alert updates nothing but the severity and
// window; an alert closed by an analyst opens nothing.
func (s *Service) OnAlert(ctx context.Context, a event.Alert) (event.Incident, bool, error) {
	id, join := s.group(a)
	if !join {
		return event.Incident{}, false, nil
	}
	inc, err := s.book.Update(ctx, id, true, func(inc *event.Incident) error {
		fresh := inc.State == ""
		if fresh {
			inc.State = event.IncidentDetected
			inc.DetectedAt = event.NewTimestamp(s.now())
			inc.Org = a.Org
			inc.ActorID = a.ActorID
			inc.DeviceID = a.DeviceID
			inc.Transitions = []event.Transition{{From: "", To: event.IncidentDetected, At: inc.DetectedAt, By: "system",
				Reason: "alert " + a.AlertID + " (" + a.RuleID + ")"}}
		}
		changed := fresh
		if !slices.Contains(inc.AlertIDs, a.AlertID) {
			inc.AlertIDs = append(inc.AlertIDs, a.AlertID)
			changed = true
		}
		if a.RuleID != "" && !slices.Contains(inc.RuleIDs, a.RuleID) {
			inc.RuleIDs = append(inc.RuleIDs, a.RuleID)
			changed = true
		}
		if a.Severity.Rank() > inc.Severity.Rank() {
			inc.Severity = a.Severity
			changed = true
		}
		if inc.WindowStart.IsZero() || a.FirstSeen.Before(inc.WindowStart.Time) {
			inc.WindowStart = a.FirstSeen
			changed = true
		}
		if a.LastSeen.After(inc.WindowEnd.Time) {
			inc.WindowEnd = a.LastSeen
			changed = true
		}
		if !changed {
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return event.Incident{}, false, fmt.Errorf("alert %s into incident %s: %w", a.AlertID, id, err)
	}
	return inc, true, nil
}

// Transition applies a lifecycle command. Confirming computes the scope
// and the obligations; every later change of the window recomputes them
// (Rescope).
func (s *Service) Transition(ctx context.Context, id string, to event.IncidentState, reason string, awareAt time.Time, op Operator) (event.Incident, error) {
	cur, err := s.book.Find(id)
	if err != nil {
		return cur, err
	}
	var scope Scope
	if to == event.IncidentConfirmed {
		// The scope is computed before the record changes: a store
		// outage fails the command instead of confirming without
		// obligations.
		if scope, err = s.scoper.Scope(ctx, &cur); err != nil {
			return cur, fmt.Errorf("confirm %s: computing the scope: %w", cur.IncidentID, err)
		}
	}
	return s.book.Update(ctx, cur.IncidentID, false, func(inc *event.Incident) error {
		if err := s.transition(inc, to, reason, awareAt, op, s.now()); err != nil {
			return err
		}
		switch {
		case to == event.IncidentConfirmed:
			return s.replan(inc, scope)
		case to == event.IncidentContained && !inc.AwareAt.IsZero():
			// Handling has ended: follow-ups timed from it (the CAC
			// 30-day summary) get their deadlines.
			return s.replan(inc, Scope{Scope: inc.Scope})
		}
		return nil
	})
}

// Rescope recomputes the scope of a confirmed incident (after its window
// changed, or new data reached the store) and the obligations with it.
func (s *Service) Rescope(ctx context.Context, id string, op Operator) (event.Incident, error) {
	if !op.Has(RoleDPO) && !op.Has(RoleAnalyst) {
		return event.Incident{}, fmt.Errorf("%w: rescoping needs the %s or %s role", ErrForbidden, RoleAnalyst, RoleDPO)
	}
	cur, err := s.book.Find(id)
	if err != nil {
		return cur, err
	}
	if cur.AwareAt.IsZero() {
		return cur, fmt.Errorf("%w: %s is %s", ErrNotConfirmed, cur.IncidentID, cur.State)
	}
	scope, err := s.scoper.Scope(ctx, &cur)
	if err != nil {
		return cur, fmt.Errorf("rescope %s: %w", cur.IncidentID, err)
	}
	return s.book.Update(ctx, cur.IncidentID, false, func(inc *event.Incident) error { return s.replan(inc, scope) })
}

// replan records scope and merges the planned obligations into inc: an
// obligation already there keeps its status, approval and dates (its
// deadline may move only with its clock's start); a new one is added open;
// an open one that no longer applies is waived by the system, saying why.
func (s *Service) replan(inc *event.Incident, scope Scope) error {
	inc.Scope = scope.Scope
	planned, err := s.planner.Plan(inc, scope, s.unreachable(inc.IncidentID))
	if err != nil {
		return fmt.Errorf("planning the obligations of %s: %w", inc.IncidentID, err)
	}
	have := map[string]int{}
	for i, o := range inc.Obligations {
		have[o.ID] = i
	}
	now := event.NewTimestamp(s.now())
	seen := map[string]bool{}
	for _, p := range planned {
		seen[p.ID] = true
		i, ok := have[p.ID]
		if !ok {
			p.Status = event.ObligationOpen
			inc.Obligations = append(inc.Obligations, p)
			continue
		}
		o := &inc.Obligations[i]
		if !o.Status.Pending() {
			continue
		}
		o.StartsAt, o.DueAt, o.Why, o.Grade, o.Basis = p.StartsAt, p.DueAt, p.Why, p.Grade, p.Basis
		o.Fields, o.Channels, o.ApprovalRole = p.Fields, p.Channels, p.ApprovalRole
	}
	for i := range inc.Obligations {
		o := &inc.Obligations[i]
		if !seen[o.ID] && o.Status == event.ObligationOpen {
			o.Status, o.WaivedBy, o.DoneAt = event.ObligationWaived, "system", now
			o.WaivedReason = fmt.Sprintf("no longer applies to the scope computed at %s (%d people, %d minors)",
				now, scope.People, scope.Minors)
		}
	}
	slices.SortStableFunc(inc.Obligations, func(a, b event.Obligation) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt.Time), strings.Compare(a.ID, b.ID))
	})
	return nil
}

// unreachable counts, per regime, the notices of an incident that failed
// for good (no contact, every channel refused).
func (s *Service) unreachable(incidentID string) map[string]int64 {
	out := map[string]int64{}
	for _, n := range s.ledger.Notices(incidentID) {
		if n.State == event.NoticeFailed {
			out[n.Regime]++
		}
	}
	return out
}

// SetFields records content fields of the incident's notices and reports
// (facts, cause, measures_taken, …). An empty value removes a field.
func (s *Service) SetFields(ctx context.Context, id string, fields map[string]string, op Operator) (event.Incident, error) {
	if !op.Has(RoleDPO) && !op.Has(RoleAnalyst) {
		return event.Incident{}, fmt.Errorf("%w: editing notice content needs the %s or %s role", ErrForbidden, RoleAnalyst, RoleDPO)
	}
	if len(fields) == 0 {
		return event.Incident{}, fmt.Errorf("%w: no fields given", ErrBadCommand)
	}
	for k, v := range fields {
		if !validFieldName(k) {
			return event.Incident{}, fmt.Errorf("%w: field name %q: want lower-case letters, digits and _", ErrBadCommand, k)
		}
		if len(v) > 8<<10 {
			return event.Incident{}, fmt.Errorf("%w: field %s is %d bytes; at most 8 KiB", ErrBadCommand, k, len(v))
		}
	}
	cur, err := s.book.Find(id)
	if err != nil {
		return cur, err
	}
	return s.book.Update(ctx, cur.IncidentID, false, func(inc *event.Incident) error {
		if inc.Fields == nil {
			inc.Fields = map[string]string{}
		}
		for k, v := range fields {
			if v == "" {
				delete(inc.Fields, k)
			} else {
				inc.Fields[k] = v
			}
		}
		return nil
	})
}

func validFieldName(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// obligation returns the index of obligation oid in inc.
func obligation(inc *event.Incident, oid string) (int, error) {
	for i, o := range inc.Obligations {
		if o.ID == oid {
			return i, nil
		}
	}
	ids := make([]string, len(inc.Obligations))
	for i, o := range inc.Obligations {
		ids[i] = o.ID
	}
	return -1, fmt.Errorf("%w: %s has no obligation %q (it has: %s)", ErrUnknownObligation, inc.IncidentID, oid, strings.Join(ids, ", "))
}

// Waive records that an obligation is not needed, why and by whom (e.g.
// PIPL art. 57: measures effectively prevent harm). It needs the role that
// would have approved it (DPO).
func (s *Service) Waive(ctx context.Context, id, oid, reason string, op Operator) (event.Incident, error) {
	if strings.TrimSpace(reason) == "" {
		return event.Incident{}, fmt.Errorf("%w: waiving an obligation needs a reason", ErrBadCommand)
	}
	return s.updateObligation(ctx, id, oid, func(inc *event.Incident, o *event.Obligation) error {
		if err := s.mayDecide(o, op); err != nil {
			return err
		}
		o.Status, o.WaivedBy, o.WaivedReason, o.DoneAt = event.ObligationWaived, op.Name, reason, event.NewTimestamp(s.now())
		return nil
	})
}

// updateObligation records a change fn makes to obligation oid of
// incident id.
func (s *Service) updateObligation(ctx context.Context, id, oid string, fn func(*event.Incident, *event.Obligation) error) (event.Incident, error) {
	cur, err := s.book.Find(id)
	if err != nil {
		return cur, err
	}
	return s.book.Update(ctx, cur.IncidentID, false, func(inc *event.Incident) error {
		i, err := obligation(inc, oid)
		if err != nil {
			return err
		}
		return fn(inc, &inc.Obligations[i])
	})
}

func (s *Service) mayDecide(o *event.Obligation, op Operator) error {
	if !o.Status.Pending() {
		return fmt.Errorf("%w: %s is %s", ErrObligationClosed, o.ID, o.Status)
	}
	role := cmp.Or(o.ApprovalRole, RoleDPO)
	if !op.Has(role) {
		return fmt.Errorf("%w: %s needs the %s role (%s has %s)", ErrForbidden, o.ID, role, op.Name, strings.Join(op.Roles, ", "))
	}
	return nil
}

// Submit records that a regulator report of an obligation was submitted,
// with the regulator's reference number; a report obligation is done with
// its first submission (later versions, e.g. supplements, add to the
// record).
func (s *Service) Submit(ctx context.Context, id, oid, version, reference string, op Operator) (event.Incident, error) {
	if strings.TrimSpace(reference) == "" || strings.TrimSpace(version) == "" {
		return event.Incident{}, fmt.Errorf("%w: a submission needs a version and the regulator's reference number", ErrBadCommand)
	}
	return s.updateObligation(ctx, id, oid, func(inc *event.Incident, o *event.Obligation) error {
		if !op.Has(cmp.Or(o.ApprovalRole, RoleDPO)) {
			return fmt.Errorf("%w: submitting %s needs the %s role", ErrForbidden, o.ID, cmp.Or(o.ApprovalRole, RoleDPO))
		}
		if IsNoticeKind(o.Kind) {
			return fmt.Errorf("%w: %s is a notice to %s, sent by the notifier, not a report to submit", ErrBadCommand, o.ID, o.Recipient)
		}
		now := event.NewTimestamp(s.now())
		inc.Submissions = append(inc.Submissions, event.Submission{Obligation: o.ID, Version: version, Reference: reference, At: now, By: op.Name})
		if o.Status.Pending() {
			o.Status, o.DoneAt = event.ObligationDone, now
			if o.ApprovedBy == "" {
				o.ApprovedBy, o.ApprovedAt = op.Name, now
			}
		}
		return nil
	})
}

// IsNoticeKind reports whether obligations of kind are notices the
// notifier sends (to people, guardians, media or the public) rather than
// reports an operator submits to a regulator.
func IsNoticeKind(kind string) bool {
	switch kind {
	case "individual_notice", "guardian_notice", "media_notice", "public_announcement":
		return true
	}
	return false
}

// DeadlineObligations lists every obligation's clock for the deadline
// metrics and escalations.
func (s *Service) DeadlineObligations() []deadline.Obligation {
	var out []deadline.Obligation
	for _, inc := range s.book.List() {
		for _, o := range inc.Obligations {
			st := deadline.StatusOpen
			switch o.Status {
			case event.ObligationDone:
				st = deadline.StatusDone
			case event.ObligationWaived:
				st = deadline.StatusWaived
			}
			out = append(out, deadline.Obligation{ID: inc.IncidentID + "/" + o.ID, Regime: o.Regime, Kind: o.Kind,
				Status: st, Start: o.StartsAt.Time, Due: o.DueAt.Time})
		}
	}
	return out
}
