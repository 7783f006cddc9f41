package event

import "slices"

// Obligation is one legal duty of an incident, as planned from a regime
// file for the incident's scope and the operator's profile: a notice or
// report owed to someone by a deadline. It is part of the incident record,
// so the incident's history says what was owed, when, and how it was met.
type Obligation struct {
	// ID is "<regime>.<name>", e.g. "cac.initial", "pipl.individual".
	ID string `json:"id"`
	// Regime is the regime file's id ("pipl", "gdpr", "hipaa").
	Regime string `json:"regime"`
	// Kind is the obligation kind (individual_notice, guardian_notice,
	// regulator_report, …; the regime package lists them).
	Kind string `json:"kind"`
	// Recipient is who the notices go to.
	Recipient RecipientKind `json:"recipient"`
	// StartsAt is when its clock started (awareness, end of handling, end
	// of the year) and DueAt its deadline.
	StartsAt Timestamp `json:"starts_at"`
	DueAt    Timestamp `json:"due_at"`
	// Basis cites the law; Why says which facts of the incident made it
	// apply (e.g. "people 1200000 ≥ 1000000").
	Basis string `json:"basis,omitempty"`
	Why   string `json:"why,omitempty"`
	// Grade is the incident grade the obligation depends on (CAC), if any.
	Grade string `json:"grade,omitempty"`
	// ApprovalRole is the role that must approve before anything is sent
	// ("" when no approval is needed).
	ApprovalRole string `json:"approval_role,omitempty"`
	// Fields are the content fields a notice or report must carry (the
	// template vocabulary: facts, cause, pi_types, …); rendering fails
	// naming the first one missing.
	Fields []string `json:"fields,omitempty"`
	// Channels are the allowed channels in fallback order (email → sms →
	// letter); empty for reports, which are submitted, not sent.
	Channels []Channel `json:"channels,omitempty"`
	// Status is where it stands.
	Status ObligationStatus `json:"status"`
	// ApprovedBy and ApprovedAt record the approval.
	ApprovedBy string    `json:"approved_by,omitempty"`
	ApprovedAt Timestamp `json:"approved_at,omitzero"`
	// DoneAt is when it was met (every notice sent, or the report
	// submitted); WaivedBy and WaivedReason record a decision that it is
	// not needed (e.g. PIPL art. 57: measures effectively prevent harm).
	DoneAt       Timestamp `json:"done_at,omitzero"`
	WaivedBy     string    `json:"waived_by,omitempty"`
	WaivedReason string    `json:"waived_reason,omitempty"`
}

// ObligationStatus is where an obligation stands.
type ObligationStatus string

// Obligation statuses.
const (
	ObligationOpen     ObligationStatus = "open"     // owed, not approved yet
	ObligationApproved ObligationStatus = "approved" // approved; notices are being sent
	ObligationDone     ObligationStatus = "done"     // met
	ObligationWaived   ObligationStatus = "waived"   // decided not needed, with reason and who
)

var obligationStatuses = []ObligationStatus{ObligationOpen, ObligationApproved, ObligationDone, ObligationWaived}

// ObligationStatuses lists every ObligationStatus.
func ObligationStatuses() []ObligationStatus { return slices.Clone(obligationStatuses) }

// Valid reports whether s is one of ObligationStatuses.
func (s ObligationStatus) Valid() bool { return slices.Contains(obligationStatuses, s) }

// Pending reports whether the obligation still has to be met.
func (s ObligationStatus) Pending() bool { return s == ObligationOpen || s == ObligationApproved }

// Submission records that a regulator report was submitted: which
// obligation and version, the regulator's reference number, when and by
// whom.
type Submission struct {
	Obligation string    `json:"obligation"`
	Version    string    `json:"version"` // initial, supplement, summary, …
	Reference  string    `json:"reference"`
	At         Timestamp `json:"at"`
	By         string    `json:"by"`
}
