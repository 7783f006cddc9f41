package notifier

import (
	"fmt"
	"slices"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/regime"
)

// Assessment fields: what the DPO records about an incident besides the
// notice content, read by the planner (`vigil incident set ID
// risk_assessment=low`).
const (
	// FieldRiskAssessment "low" tells the regimes that the breach is
	// unlikely to result in a high risk (GDPR art. 34); anything else, or
	// nothing, counts as high risk — the safe default.
	FieldRiskAssessment = "risk_assessment"
	// FieldEncrypted "yes" says the data was unintelligible to whoever got
	// it (encrypted, keys not exposed).
	FieldEncrypted = "data_encrypted"
)

// RegimePlanner plans obligations from the regime files for the
// operator's profile.
type RegimePlanner struct {
	Set *regime.Set
	// Profile is the operator's profile; its Jurisdictions are the
	// regimes that apply when the scope names none.
	Profile regime.Profile
}

// Plan implements Planner: the scope's counts and categories, the
// unreachable count (the largest of any regime: a person without a
// working address is unreachable for all), the DPO's assessment fields,
// awareness and the end of handling (the first containment) as clocks.
func (p RegimePlanner) Plan(inc *event.Incident, scope Scope, unreachable map[string]int64) ([]event.Obligation, error) {
	if inc.AwareAt.IsZero() {
		return nil, fmt.Errorf("%w: no awareness time", ErrNotConfirmed)
	}
	f := regime.Facts{
		People: scope.People, Minors: scope.Minors, Categories: scope.Categories, PeopleByState: scope.PerState,
		HighRisk:       inc.Fields[FieldRiskAssessment] != "low",
		Encrypted:      inc.Fields[FieldEncrypted] == "yes",
		PHI:            slices.ContainsFunc(scope.Categories, func(c event.Category) bool { return c == "health" || c == "prescription" }),
		DetailsPending: inc.Fields["cause"] == "" || inc.Fields["impact"] == "",
	}
	for _, n := range unreachable {
		f.Unreachable = max(f.Unreachable, n)
	}
	prof := p.Profile
	if len(scope.Jurisdictions) > 0 {
		prof.Jurisdictions = scope.Jurisdictions
	}
	if slices.Contains(prof.Jurisdictions, "gdpr") {
		// Org configuration puts the org under GDPR: its data subjects
		// are taken as EU residents (residence is not in the events).
		f.EUResidents = scope.People
	}
	clocks := regime.Clocks{Aware: inc.AwareAt.Time}
	for _, t := range inc.Transitions {
		if t.To == event.IncidentContained {
			clocks.HandlingEnded = t.At.Time
			break
		}
	}
	planned, err := p.Set.Plan(f, prof, clocks)
	if err != nil {
		return nil, err
	}
	out := make([]event.Obligation, 0, len(planned))
	for _, o := range planned {
		e := event.Obligation{ID: o.ID, Regime: o.Regime, Kind: string(o.Kind), Recipient: o.Recipient,
			Basis: o.Basis, Why: o.Why, Grade: o.Grade, Fields: o.Fields,
			Channels: o.Channels}
		if o.Approval != regime.ApprovalNone {
			e.ApprovalRole = o.Approval
		}
		start := clocks.Aware
		if o.Anchor == regime.AnchorHandlingEnded {
			start = clocks.HandlingEnded
		}
		if !start.IsZero() {
			e.StartsAt = event.NewTimestamp(start)
		}
		if !o.Due.IsZero() {
			e.DueAt = event.NewTimestamp(o.Due)
		}
		out = append(out, e)
	}
	return out, nil
}
