// Package detector turns the event streams into alerts: Sigma detection and
// correlation rules (package sigma) and built-in behaviours (package
// behave) evaluated per Kafka partition in event time, an alert emitter
// that gives every alert a deterministic id and folds repeats into it, and
// the state that makes a restart or a rebalance neither miss a correlation
// nor raise an alert twice.
//
// # Design
//
// The access topic is keyed by org/actor and the device topic by device
// token, so every event of one actor (or one device) is on one partition
// and one detector instance sees all of them in order. Detection state is
// therefore kept per partition: a Partition holds the correlation windows,
// the behaviours' state and the open alerts of the actors and devices of
// one topic partition, and is fed that partition's events in offset
// order. Scale-out is Kafka's: several `vigil detect` instances in one
// consumer group split the partitions.
//
// Everything a Partition does depends only on the events it was fed, in
// order: windows run on occurred_at (event time), never on the wall clock;
// "now" is the partition's watermark (the largest occurred_at seen, minus
// the allowed lateness). The same events give the same alerts, with the
// same ids (event.AlertID over rule, group key and window start).
//
// State survives restarts and rebalances through snapshots: a Partition
// serialises its whole state together with the offset of the last event it
// covers; on assignment the runner restores the latest snapshot and
// replays the partition from the snapshot's offset up to the committed
// offset with alert output muted (the replay rebuilds the open alerts as
// they were), then runs live. An alert re-emitted around a restart has the
// same id and a later state, which consumers take as an update.
package detector

import (
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Finding is one observation that should raise or update an alert: a rule
// match, a correlation whose threshold held, or a behaviour that fired.
// The alert emitter turns findings into event.Alert records: findings with
// the same RuleID and GroupKey whose times fall within the rule's
// suppression window of an open alert update that alert (counts, last
// seen, evidence, categories) instead of opening a new one.
type Finding struct {
	// RuleID and RuleTitle name the rule or behaviour
	// ("vigil.behaviour.impossible_travel").
	RuleID    string
	RuleTitle string
	Severity  event.Severity
	// GroupKey is what the alert is about, starting with the org:
	// "org/actor-id" for actor rules, "org/device-token" for devices.
	GroupKey string
	Org      string
	ActorID  string // when the group is an actor
	DeviceID string // when the group is a device
	// Start and End bound the evidence in event time: the first and last
	// occurred_at of the events behind the finding.
	Start, End time.Time
	// Count is how many events the finding covers.
	Count int64
	// Subjects are the distinct subject tokens touched (bounded by the
	// emitter; only their number is kept in the alert).
	Subjects []string
	// Categories are the data categories touched.
	Categories []event.Category
	// Evidence are event ids behind the finding, earliest first (the
	// emitter keeps at most event.MaxEvidence per alert).
	Evidence []string
	// Explanation says in one plain sentence why it fired: what was seen
	// against what is usual, with tokens in place of identifiers.
	Explanation string
}
