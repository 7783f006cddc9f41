package regime

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Kind is the kind of an obligation; the values are shared with templates
// and channels.
type Kind string

// Obligation kinds.
const (
	KindIndividualNotice    Kind = "individual_notice"
	KindGuardianNotice      Kind = "guardian_notice"
	KindRegulatorReport     Kind = "regulator_report"
	KindRegulatorSupplement Kind = "regulator_supplement"
	KindSummaryReport       Kind = "summary_report" // CAC 30-day summary
	KindMediaNotice         Kind = "media_notice"
	KindPublicAnnouncement  Kind = "public_announcement"
	KindHHSReport           Kind = "hhs_report"
	KindAnnualLog           Kind = "annual_log"    // HIPAA, fewer than 500 people
	KindBreachRecord        Kind = "breach_record" // GDPR art. 33(5)
)

var kinds = []Kind{KindIndividualNotice, KindGuardianNotice, KindRegulatorReport,
	KindRegulatorSupplement, KindSummaryReport, KindMediaNotice, KindPublicAnnouncement,
	KindHHSReport, KindAnnualLog, KindBreachRecord}

// Kinds lists every Kind.
func Kinds() []Kind { return slices.Clone(kinds) }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(kinds, k) }

// kindRecipient is the recipient kind each obligation kind goes to.
var kindRecipient = map[Kind]event.RecipientKind{
	KindIndividualNotice:    event.RecipientIndividual,
	KindGuardianNotice:      event.RecipientGuardian,
	KindRegulatorReport:     event.RecipientRegulator,
	KindRegulatorSupplement: event.RecipientRegulator,
	KindSummaryReport:       event.RecipientRegulator,
	KindMediaNotice:         event.RecipientMedia,
	KindPublicAnnouncement:  event.RecipientPublic,
	KindHHSReport:           event.RecipientRegulator,
	KindAnnualLog:           event.RecipientRegulator,
	KindBreachRecord:        event.RecipientRegulator,
}

// delivered reports whether obligations of kind k are sent through
// channels. The others (reports, logs, records) are exported and submitted
// by hand; their files say `channels: []`.
func (k Kind) delivered() bool {
	switch k {
	case KindIndividualNotice, KindGuardianNotice, KindMediaNotice, KindPublicAnnouncement:
		return true
	}
	return false
}

// needsApproval reports whether obligations of kind k must name an approval
// role: notices to people and reports to regulators are approved before
// they are sent (issue #6).
func (k Kind) needsApproval() bool {
	return k != KindBreachRecord
}

// Operator is the operator profile that selects CAC deadlines.
type Operator string

// Operator kinds.
const (
	OperatorOrdinary   Operator = "ordinary"    // ordinary network operator
	OperatorCII        Operator = "cii"         // critical information infrastructure operator
	OperatorStateOrgan Operator = "state_organ" // central or state organ
)

var operators = []Operator{OperatorOrdinary, OperatorCII, OperatorStateOrgan}

// Operators lists every Operator.
func Operators() []Operator { return slices.Clone(operators) }

// Valid reports whether o is one of Operators.
func (o Operator) Valid() bool { return slices.Contains(operators, o) }

// Anchor names the event a deadline runs from.
type Anchor string

// Clock anchors.
const (
	// AnchorAware is the discovery / awareness time (Clocks.Aware).
	AnchorAware Anchor = "aware"
	// AnchorHandlingEnded is when handling of the incident ended
	// (Clocks.HandlingEnded).
	AnchorHandlingEnded Anchor = "handling_ended"
	// AnchorYearEnd is the end of the calendar year of Clocks.Aware:
	// midnight starting 1 January of the next year, in Aware's location.
	AnchorYearEnd Anchor = "year_end"
)

var anchors = []Anchor{AnchorAware, AnchorHandlingEnded, AnchorYearEnd}

// Valid reports whether a is a known anchor.
func (a Anchor) Valid() bool { return slices.Contains(anchors, a) }

// Approval roles. ApprovalNone means nobody approves (records only).
const (
	ApprovalDPO  = "dpo"
	ApprovalNone = "none"
)

var approvals = []string{ApprovalDPO, ApprovalNone}

// Recipients says how many recipients an obligation has.
type Recipients string

// Recipient counts.
const (
	EachPerson      Recipients = "each_person"      // Facts.People
	EachEUResident  Recipients = "each_eu_resident" // Facts.EUResidents
	EachMinor       Recipients = "each_minor"       // Facts.Minors (one guardian each)
	EachUnreachable Recipients = "each_unreachable" // Facts.Unreachable
	EachState       Recipients = "each_state"       // states matching people_in_any_state_gt
	One             Recipients = "one"              // one authority or one announcement
)

var recipientsValues = []Recipients{EachPerson, EachEUResident, EachMinor, EachUnreachable, EachState, One}

// fieldNames is the content-field vocabulary shared with templates (the
// notifier contract). A file naming any other field is rejected.
var fieldNames = []string{
	// notices to people
	"facts", "impact", "cause", "pi_types", "measures_taken", "self_protection", "remedies",
	"contact", "occurred_at", "discovered_at", "org_name", "recipient_name", "child_name",
	// CAC reports
	"reporting_unit", "affected_system", "discovery_time", "discovery_place", "incident_type",
	"harm_so_far", "measures_effect", "trend", "preliminary_cause", "tracing_clues",
	"further_measures", "support_requested", "evidence_preservation",
	// CAC summary
	"harm", "accountability", "rectification", "lessons",
	// GDPR art. 33
	"nature", "subject_categories", "subjects_approx", "records_approx", "dpo_contact",
	"consequences", "measures", "late_reasons",
	// HIPAA
	"what_happened", "breach_date", "discovery_date", "phi_types", "steps_individuals",
	"entity_actions", "contact_procedures",
}

// FieldNames lists every content field a regime file may require.
func FieldNames() []string { return slices.Clone(fieldNames) }

// Span is a deadline length: minutes, hours or calendar days.
type Span struct {
	N    int
	Unit byte // 'm', 'h' or 'd'
}

// parseSpan reads "<n>m", "<n>h" or "<n>d" with 0 < n ≤ 100000.
func parseSpan(s string) (Span, error) {
	if len(s) < 2 {
		return Span{}, fmt.Errorf("%q is not a duration like 4h, 30d or 90m", s)
	}
	unit := s[len(s)-1]
	if unit != 'm' && unit != 'h' && unit != 'd' {
		return Span{}, fmt.Errorf("%q is not a duration: the unit must be m (minutes), h (hours) or d (calendar days)", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 100000 || strings.HasPrefix(s, "+") {
		return Span{}, fmt.Errorf("%q is not a duration: the number must be a whole number from 1 to 100000", s)
	}
	return Span{N: n, Unit: unit}, nil
}

// AddTo returns t plus the span; days are calendar days in t's location.
func (s Span) AddTo(t time.Time) time.Time {
	switch s.Unit {
	case 'm':
		return t.Add(time.Duration(s.N) * time.Minute)
	case 'h':
		return t.Add(time.Duration(s.N) * time.Hour)
	default:
		return t.AddDate(0, 0, s.N)
	}
}

// Approx returns the span as a duration, days counted as 24 hours.
func (s Span) Approx() time.Duration {
	switch s.Unit {
	case 'm':
		return time.Duration(s.N) * time.Minute
	case 'h':
		return time.Duration(s.N) * time.Hour
	default:
		return time.Duration(s.N) * 24 * time.Hour
	}
}

func (s Span) String() string {
	if s.N == 0 {
		return ""
	}
	return strconv.Itoa(s.N) + string(s.Unit)
}

// Facts is what is known about an incident's scope, the input of Plan.
// Counts are of distinct people; zero means none (or none known).
type Facts struct {
	// People is how many people's personal information is involved.
	People int64
	// Minors is how many of them are children under 14.
	Minors int64
	// Categories are the kinds of personal information involved.
	Categories []event.Category
	// PeopleByState counts affected US residents per state (two-letter
	// code); nil when none.
	PeopleByState map[string]int64
	// Unreachable is how many affected people have no usable contact
	// details for an individual notice.
	Unreachable int64
	// EUResidents is how many affected people live in the EU.
	EUResidents int64
	// HighRisk is the DPO's assessment that the incident is likely to
	// result in a high risk to people (GDPR art. 34).
	HighRisk bool
	// Encrypted means the data was unintelligible to whoever got it
	// (encrypted to current guidance, keys not compromised).
	Encrypted bool
	// PHI means protected health information under HIPAA is involved.
	PHI bool
	// DetailsPending means the cause or impact is not yet known, so a
	// first report is followed by a supplement.
	DetailsPending bool
}

// Sensitive reports whether any of f.Categories is sensitive personal
// information (PIPL art. 28).
func (f Facts) Sensitive() bool {
	return slices.ContainsFunc(f.Categories, event.Category.Sensitive)
}

// Validate reports counts that cannot be right together.
func (f Facts) Validate() error {
	var errs []error
	for _, c := range []struct {
		name string
		n    int64
	}{{"people", f.People}, {"minors", f.Minors}, {"unreachable", f.Unreachable}, {"eu_residents", f.EUResidents}} {
		if c.n < 0 {
			errs = append(errs, fmt.Errorf("facts: %s is negative (%d)", c.name, c.n))
		} else if c.name != "people" && c.n > f.People {
			errs = append(errs, fmt.Errorf("facts: %s (%d) exceeds people (%d)", c.name, c.n, f.People))
		}
	}
	var sum int64
	for _, st := range sortedKeys(f.PeopleByState) {
		n := f.PeopleByState[st]
		if n < 0 {
			errs = append(errs, fmt.Errorf("facts: people in state %q is negative (%d)", st, n))
		}
		sum += n
	}
	if sum > f.People {
		errs = append(errs, fmt.Errorf("facts: people by state add up to %d, more than people (%d)", sum, f.People))
	}
	for _, c := range f.Categories {
		if !c.Valid() {
			errs = append(errs, fmt.Errorf("facts: unknown category %q", c))
		}
	}
	return errors.Join(errs...)
}

// Profile describes the operating organisation.
type Profile struct {
	// Operator selects CAC deadlines and authorities. Required.
	Operator Operator
	// CoveredEntity is true when the organisation is a HIPAA covered
	// entity.
	CoveredEntity bool
	// Jurisdictions are the regime ids ("pipl", "gdpr", "hipaa") whose
	// obligations are planned; each must be loaded in the Set. Regimes not
	// listed produce no obligations.
	Jurisdictions []string
	// DPO is the contact point of the data protection officer, quoted in
	// notices (contact, dpo_contact). Required.
	DPO string
}

// Clocks are the times deadlines run from.
type Clocks struct {
	// Aware is when the organisation discovered / became aware of the
	// incident. Required. AnchorYearEnd is derived from it in its
	// location.
	Aware time.Time
	// HandlingEnded is when handling of the incident ended; zero while it
	// goes on (obligations from it are then planned without a due time and
	// WaitingFor set).
	HandlingEnded time.Time
}

func (c Clocks) at(a Anchor) time.Time {
	switch a {
	case AnchorAware:
		return c.Aware
	case AnchorHandlingEnded:
		return c.HandlingEnded
	case AnchorYearEnd:
		return time.Date(c.Aware.Year()+1, time.January, 1, 0, 0, 0, 0, c.Aware.Location())
	}
	return time.Time{}
}

// Obligation is one duty owed for an incident, as planned.
type Obligation struct {
	// ID is "<regime>.<name>", e.g. "cac.initial".
	ID string
	// Regime is the id of the file it comes from, e.g. "pipl".
	Regime    string
	Kind      Kind
	Recipient event.RecipientKind
	// Recipients is how many recipients are owed (people, guardians,
	// states, or 1).
	Recipients int64
	// States lists the states whose media must be told (each_state),
	// sorted.
	States []string
	// Authority names the regulator, when the file names one.
	Authority string
	// Anchor is the event the deadline runs from.
	Anchor Anchor
	// Due is the absolute deadline. Zero when the law sets no fixed time
	// (DueRule says why) or the anchor has not happened (WaitingFor).
	Due time.Time
	// DueRule says the deadline in words: "4h after aware".
	DueRule string
	// WaitingFor names the anchor whose time is not known yet.
	WaitingFor Anchor
	// Fields are the content fields the notice or report must carry.
	Fields []string
	// LateFields are also required when it is sent after Due.
	LateFields []string
	// Channels are the delivery channels in fallback order; empty for
	// reports submitted by hand.
	Channels []event.Channel
	// Approval is the role that approves before sending, or "none".
	Approval string
	// Grade is the CAC grade of the incident (for obligations of a regime
	// with grading).
	Grade string
	// Basis is the legal basis.
	Basis string
	// Why says why the obligation applies, with the values that decided.
	Why string
	// Follows is the id of the obligation this one follows up.
	Follows string
	// Substitutes is the id of the obligation this one stands in for
	// (substitute notice).
	Substitutes string
	// KeepFor is how long a posting must stay up (substitute notices).
	KeepFor Span
	// Notes are extra requirements in words.
	Notes []string
	// Unverified says which part of the rule comes from unverified
	// sources; empty when none.
	Unverified string
	// Waivable says the obligation may be waived under WaiverRule.
	Waivable   bool
	WaiverRule string
	// Waiver is the recorded decision to waive it; nil when not waived.
	Waiver *Waiver
}

// Waiver records a decision not to fulfil a waivable obligation.
type Waiver struct {
	Reason string
	By     string
	At     time.Time
}

// ErrNotWaivable is returned by Waive for an obligation whose regime file
// allows no waiver: the obligation must be fulfilled.
var ErrNotWaivable = errors.New("obligation cannot be waived")

// Waive records the decision, taken by who at when, not to fulfil o, for
// reason. It fails when o is not waivable or reason or by is empty.
func (o *Obligation) Waive(reason, by string, at time.Time) error {
	if !o.Waivable {
		return fmt.Errorf("waive %s: %w", o.ID, ErrNotWaivable)
	}
	if strings.TrimSpace(reason) == "" || strings.TrimSpace(by) == "" || at.IsZero() {
		return fmt.Errorf("waive %s: reason, who and when are all required", o.ID)
	}
	o.Waiver = &Waiver{Reason: reason, By: by, At: at}
	return nil
}
