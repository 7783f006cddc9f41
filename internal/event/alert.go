package event

import (
	"fmt"
	"slices"
	"strings"
)

// Alert is what the detector emits when a rule matches: one alert per rule,
// group and window. Redelivery and re-evaluation produce the same AlertID,
// so consumers deduplicate by it. Its record key is GroupKey.
type Alert struct {
	// AlertID is AlertID(RuleID, GroupKey, WindowStart).
	AlertID string `json:"alert_id"`
	// RuleID is the stable id of the rule in the rule pack.
	RuleID string `json:"rule_id"`
	// RuleTitle is the rule's human title at the time of the alert.
	RuleTitle string `json:"rule_title"`
	// Severity is the rule's severity, possibly raised by the evidence
	// (e.g. minors' data).
	Severity Severity `json:"severity"`
	// GroupKey is what the rule groups by, e.g. org + "/" + actor.id.
	GroupKey string `json:"group_key"`
	// WindowStart and WindowEnd bound the evaluation window [start, end).
	WindowStart Timestamp `json:"window_start"`
	WindowEnd   Timestamp `json:"window_end"`
	// FirstSeen and LastSeen are the occurred_at of the first and last
	// matching events.
	FirstSeen Timestamp `json:"first_seen"`
	LastSeen  Timestamp `json:"last_seen"`
	// Count is how many events matched.
	Count int64 `json:"count"`
	// DistinctSubjects is how many distinct subjects the matching events
	// touched.
	DistinctSubjects int64 `json:"distinct_subjects"`
	// Categories are the data categories the matching events touched.
	Categories []Category `json:"categories,omitempty"`
	// Evidence holds the event_id of up to MaxEvidence matching events,
	// earliest first.
	Evidence []string `json:"evidence"`
	// Explanation says in one sentence why the rule fired, with tokens in
	// place of identifiers.
	Explanation string `json:"explanation"`
	// ActorID is the actor of the matching events, if the rule groups by
	// actor.
	ActorID string `json:"actor_id,omitempty"`
	// DeviceID is the device token, if the rule groups by device.
	DeviceID string `json:"device_id,omitempty"`
	// Org is the tenant.
	Org string `json:"org"`
	// Status is the alert's review status: open as the detector raises
	// it; an analyst's decision (closed_*, escalated) is published as the
	// alert's full record with the new status, and the detector keeps it
	// for later updates of the alert.
	Status AlertStatus `json:"status"`
	// StatusReason says why the status was set, in the words of whoever
	// set it (without personal data); required unless Status is open.
	StatusReason string `json:"status_reason,omitempty"`
	// StatusBy is who set the status: an operator's name or token, or a
	// stage ("notifier"); required unless Status is open.
	StatusBy string `json:"status_by,omitempty"`
}

// StatusProblems reports what is wrong with a's review status: an unknown
// Status, or a status other than open without a StatusReason or StatusBy.
// Nil means the status is usable. Paths are the JSON field names.
func (a *Alert) StatusProblems() Problems {
	var ps Problems
	if !a.Status.Valid() {
		ps = append(ps, Problem{Path: "status", Reason: fmt.Sprintf("%q is not one of %s", a.Status, joinStatuses())})
		return ps
	}
	if a.Status == AlertOpen {
		return nil
	}
	if strings.TrimSpace(a.StatusReason) == "" {
		ps = append(ps, Problem{Path: "status_reason", Reason: "required when status is " + string(a.Status)})
	}
	if strings.TrimSpace(a.StatusBy) == "" {
		ps = append(ps, Problem{Path: "status_by", Reason: "required when status is " + string(a.Status)})
	}
	return ps
}

func joinStatuses() string {
	s := make([]string, len(alertStatuses))
	for i, st := range alertStatuses {
		s[i] = string(st)
	}
	return strings.Join(s, "|")
}

// Severity ranks alerts and incidents.
type Severity string

// Severities, lowest first.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

var severities = []Severity{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Severities lists every Severity, lowest first.
func Severities() []Severity { return slices.Clone(severities) }

// Rank returns 1 (info) to 5 (critical), or 0 for an unknown severity, so
// severities compare as numbers.
func (s Severity) Rank() int { return slices.Index(severities, s) + 1 }

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// AlertStatus is where an alert stands in review.
type AlertStatus string

// Alert statuses.
const (
	AlertOpen                AlertStatus = "open"                  // not reviewed yet
	AlertEscalated           AlertStatus = "escalated"             // part of an incident
	AlertClosedFalsePositive AlertStatus = "closed_false_positive" // the rule was wrong
	AlertClosedAuthorized    AlertStatus = "closed_authorized"     // real, but the access was authorised
	AlertClosedDuplicate     AlertStatus = "closed_duplicate"      // another alert covers it
)

var alertStatuses = []AlertStatus{AlertOpen, AlertEscalated, AlertClosedFalsePositive,
	AlertClosedAuthorized, AlertClosedDuplicate}

// AlertStatuses lists every AlertStatus.
func AlertStatuses() []AlertStatus { return slices.Clone(alertStatuses) }

// Valid reports whether s is one of AlertStatuses.
func (s AlertStatus) Valid() bool { return slices.Contains(alertStatuses, s) }

// Incident is a personal-information security incident built from one or
// more alerts, with its state history. Its record key is IncidentID; each
// record is the incident's full current state, so the latest record wins.
type Incident struct {
	IncidentID string        `json:"incident_id"`
	State      IncidentState `json:"state"`
	// DetectedAt is when the first alert of the incident was raised.
	DetectedAt Timestamp `json:"detected_at"`
	// AwareAt is when the organisation became aware of the incident (a
	// person confirmed it); legal notification deadlines run from here.
	// Zero until then.
	AwareAt  Timestamp `json:"aware_at,omitzero"`
	AlertIDs []string  `json:"alert_ids"`
	// RuleIDs are the rules of its alerts, the opening alert's first.
	RuleIDs []string `json:"rule_ids,omitempty"`
	ActorID string   `json:"actor_id,omitempty"`
	// DeviceID is the device token of device-risk incidents.
	DeviceID    string       `json:"device_id,omitempty"`
	Org         string       `json:"org"`
	Severity    Severity     `json:"severity"`
	Transitions []Transition `json:"transitions"`
	Scope       Scope        `json:"scope"`
	// WindowStart and WindowEnd bound the activity of the incident's
	// alerts (their first and last matching events); the scope is
	// computed over it.
	WindowStart Timestamp `json:"window_start,omitzero"`
	WindowEnd   Timestamp `json:"window_end,omitzero"`
	// Obligations are the legal duties planned for the incident once
	// confirmed, with deadlines and status.
	Obligations []Obligation `json:"obligations,omitempty"`
	// Fields are the content of its notices and reports recorded by the
	// DPO (facts, cause, measures_taken, …), by template field name.
	// Without personal data: the notices add the recipient's own.
	Fields map[string]string `json:"fields,omitempty"`
	// Submissions record regulator reports submitted.
	Submissions []Submission `json:"submissions,omitempty"`
}

// Transition is one change of an incident's state.
type Transition struct {
	From IncidentState `json:"from"`
	To   IncidentState `json:"to"`
	At   Timestamp     `json:"at"`
	// By is who made the change: an operator's token or "system".
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

// Scope is what an incident affected, as far as known.
type Scope struct {
	// People is how many people are affected.
	People int64 `json:"people"`
	// Minors is how many of them are children under 14.
	Minors int64 `json:"minors"`
	// Categories are the kinds of personal information involved.
	Categories []Category `json:"categories,omitempty"`
	// Jurisdictions are the legal regimes whose obligations apply, as
	// regime ids ("pipl", "gdpr", …).
	Jurisdictions []string `json:"jurisdictions,omitempty"`
}

// IncidentState is where an incident stands.
type IncidentState string

// Incident states, in their usual order.
const (
	IncidentDetected  IncidentState = "detected"  // raised from alerts, nobody looked yet
	IncidentTriage    IncidentState = "triage"    // someone is looking
	IncidentConfirmed IncidentState = "confirmed" // a real incident; AwareAt is set
	IncidentDismissed IncidentState = "dismissed" // not an incident
	IncidentContained IncidentState = "contained" // the cause is stopped
	IncidentNotifying IncidentState = "notifying" // notices are being sent
	IncidentReported  IncidentState = "reported"  // regulators have been told
	IncidentClosed    IncidentState = "closed"    // all obligations met
)

var incidentStates = []IncidentState{IncidentDetected, IncidentTriage, IncidentConfirmed,
	IncidentDismissed, IncidentContained, IncidentNotifying, IncidentReported, IncidentClosed}

// IncidentStates lists every IncidentState in their usual order.
func IncidentStates() []IncidentState { return slices.Clone(incidentStates) }

// Valid reports whether s is one of IncidentStates.
func (s IncidentState) Valid() bool { return slices.Contains(incidentStates, s) }

// incidentNext lists the states each state may move to. Containment,
// notification and reporting can happen in either order once an incident
// is confirmed; a dismissed incident can be reopened into triage.
var incidentNext = map[IncidentState][]IncidentState{
	IncidentDetected:  {IncidentTriage, IncidentConfirmed, IncidentDismissed},
	IncidentTriage:    {IncidentConfirmed, IncidentDismissed},
	IncidentConfirmed: {IncidentContained, IncidentNotifying, IncidentReported},
	IncidentDismissed: {IncidentTriage},
	IncidentContained: {IncidentNotifying, IncidentReported, IncidentClosed},
	IncidentNotifying: {IncidentContained, IncidentReported, IncidentClosed},
	IncidentReported:  {IncidentContained, IncidentNotifying, IncidentClosed},
	IncidentClosed:    nil,
}

// CanTransitionTo reports whether an incident in state s may move to next.
func (s IncidentState) CanTransitionTo(next IncidentState) bool {
	return slices.Contains(incidentNext[s], next)
}

// Notice is one notification owed to one recipient for one obligation of an
// incident. Its record key is NoticeID; the latest record wins.
type Notice struct {
	// NoticeID is NoticeID(IncidentID, RecipientToken, Obligation).
	NoticeID   string `json:"notice_id"`
	IncidentID string `json:"incident_id"`
	// Obligation names the legal duty fulfilled, e.g.
	// "pipl.art57.individual"; the notifier's obligation catalogue defines
	// them.
	Obligation string `json:"obligation"`
	// Regime is the legal regime of the obligation ("pipl", …).
	Regime string `json:"regime"`
	// RecipientToken is the recipient's token; the notifier resolves it to
	// contact details only at send time.
	RecipientToken string        `json:"recipient_token"`
	RecipientKind  RecipientKind `json:"recipient_kind"`
	Channel        Channel       `json:"channel"`
	// Language is the BCP 47 tag of the notice's language ("zh-CN").
	Language string `json:"language"`
	// DueAt is the legal or policy deadline.
	DueAt    Timestamp   `json:"due_at"`
	State    NoticeState `json:"state"`
	Attempts int         `json:"attempts"`
	// SentAt is when the channel accepted the notice; zero until sent.
	SentAt Timestamp `json:"sent_at,omitzero"`
	// MessageID is the channel's id of the sent message, for tracing.
	MessageID string `json:"message_id,omitempty"`
	// LastError is why the last attempt failed, without personal data.
	LastError string `json:"last_error,omitempty"`
}

// RecipientKind is who a notice goes to.
type RecipientKind string

// Recipient kinds.
const (
	RecipientIndividual RecipientKind = "individual" // the affected person
	RecipientGuardian   RecipientKind = "guardian"   // the guardian of an affected minor
	RecipientRegulator  RecipientKind = "regulator"  // a supervising authority
	RecipientMedia      RecipientKind = "media"      // press, where required
	RecipientPublic     RecipientKind = "public"     // everyone, when individual notice is impractical
)

var recipientKinds = []RecipientKind{RecipientIndividual, RecipientGuardian, RecipientRegulator,
	RecipientMedia, RecipientPublic}

// RecipientKinds lists every RecipientKind.
func RecipientKinds() []RecipientKind { return slices.Clone(recipientKinds) }

// Valid reports whether k is one of RecipientKinds.
func (k RecipientKind) Valid() bool { return slices.Contains(recipientKinds, k) }

// Channel is how a notice is delivered.
type Channel string

// Channels.
const (
	ChannelEmail              Channel = "email"
	ChannelSMS                Channel = "sms"
	ChannelPush               Channel = "push"
	ChannelLetter             Channel = "letter"
	ChannelPhone              Channel = "phone"
	ChannelPublicAnnouncement Channel = "public_announcement"
)

var channels = []Channel{ChannelEmail, ChannelSMS, ChannelPush, ChannelLetter, ChannelPhone,
	ChannelPublicAnnouncement}

// Channels lists every Channel.
func Channels() []Channel { return slices.Clone(channels) }

// Valid reports whether c is one of Channels.
func (c Channel) Valid() bool { return slices.Contains(channels, c) }

// NoticeState is where a notice stands in delivery.
type NoticeState string

// Notice states.
const (
	NoticePlanned  NoticeState = "planned"  // owed, not yet approved
	NoticeApproved NoticeState = "approved" // approved for sending
	NoticeSending  NoticeState = "sending"  // an attempt is in flight
	NoticeSent     NoticeState = "sent"     // the channel accepted it
	NoticeFailed   NoticeState = "failed"   // attempts exhausted
	NoticeSkipped  NoticeState = "skipped"  // not needed (e.g. covered by a public notice)
)

var noticeStates = []NoticeState{NoticePlanned, NoticeApproved, NoticeSending, NoticeSent,
	NoticeFailed, NoticeSkipped}

// NoticeStates lists every NoticeState.
func NoticeStates() []NoticeState { return slices.Clone(noticeStates) }

// Valid reports whether s is one of NoticeStates.
func (s NoticeState) Valid() bool { return slices.Contains(noticeStates, s) }
