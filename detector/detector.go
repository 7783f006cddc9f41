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
//
// # Runtime semantics
//
// New builds a Partition from a compiled *sigma.Set, Options and the
// partition's own Behaviour instances. Access and Device feed one event
// with its offset; Drain returns the alert records produced since the
// last call, DrainSuppressed the findings that exceptions suppressed;
// Snapshot and Restore save and load the whole state; SetMuted(true)
// turns output off for a replay.
//
// Processing one event, in order: the watermark moves (W = newest
// occurred_at − Options.Lateness); closing-mode windows that W passed are
// decided; the event is matched against the rule set (Set.Match) and each
// match of a standalone rule is a finding, each match of a correlation's
// input goes into that correlation's window (each correlation once per
// event, in load order); every Behaviour sees the event; then, if W
// moved, behaviours are told (Advance) and expired alerts and groups are
// dropped. Findings go to the alert emitter at once, in that order.
//
// Events and times. Everything is event time in milliseconds. An event
// whose offset is not after the last one fed is a redelivery: ignored,
// counted in Stats.Duplicates. An event older than W on arrival is late
// (Stats.Late); it is still applied where state allows: standalone rules
// and behaviours always see it; a sliding window takes it if it is newer
// than W − timespan (older state is gone) and a closing window if its own
// window has not been decided yet; otherwise the correlation drops it
// (Stats.LateDropped, counted per correlation). A single event far in the
// future moves W for everyone and makes the rest late: the collector's
// validator bounds future skew (event.DefaultMaxFutureSkew).
//
// Standalone rules. A match of a rule whose Standalone is true is a
// finding of one event with group key "org/actor.id" (access) or
// "org/device_id" (device), "/" and "\" escaped by "\" as in
// sigma.CorrelationInput.AppendGroupKey, so that a correlation grouped by
// actor.id has the same key. Its explanation is the rule's description,
// or its title.
//
// Correlations. Each correlation keeps, per group key
// (CorrelationInput.AppendGroupKey), the matching events of its window
// sorted by time: time, event id, subject, categories, the inputs it
// matched and, for value_count and value_sum, its value. An event that
// matches several inputs of one correlation with the same group key
// counts once. Windows are half-open: events t1 < t2 are in one window
// when t2 − t1 < timespan. The aggregate is the number of events
// (event_count), of distinct non-absent values (value_count), the sum
// (value_sum), the number of distinct inputs matched (temporal) or the
// length of the longest prefix of the inputs matched in their order, one
// event per step (temporal_ordered). How the condition is decided
// depends on its bounds:
//
//   - Lower bounds only (gt, gte; the temporal default "all rules"):
//     sliding mode. After every event, the window of the events in
//     (t − timespan, t], t the group's newest time, is tested; the
//     aggregate is kept incrementally (for temporal_ordered, scanned). A
//     late event that does not fall in that window is tested on the
//     window ending at itself. The finding fires as soon as it holds, and
//     again on every event while it holds; the emitter folds the repeats
//     into one alert.
//   - Any upper bound (lt, lte, eq, neq, or a range): closing mode.
//     "Fewer than 3" can only be decided once the window is complete, so
//     windows are tumbling from the group's first event: [s, s+timespan),
//     decided when W reaches s+timespan (so lateness delays the decision);
//     the next window starts at the first event at or after its end. A
//     late event that starts an earlier window of an open group moves its
//     start back. Windows with no event are not evaluated (a group exists
//     only through its events).
//
// A correlation finding covers the window's events that no earlier
// finding of the same group covered (its Count, evidence and subjects),
// so an alert that folds the findings of a sliding window counts each
// event once; its Start is the window's first event time and its End the
// last. Its explanation states the aggregate, the rules, the timespan and
// the condition. The alert's actor is the group's actor.id (access) or
// account_id (device) when the correlation groups by it, its device the
// device_id (or client.device_id) likewise.
//
// Limits. Per correlation at most Options.MaxGroups groups: a new group
// beyond it evicts the least recently updated one (Stats.GroupEvictions;
// groups whose windows passed are dropped without counting). Per group at
// most Options.MaxWindowEvents events: beyond it the oldest is dropped
// (Stats.WindowEvictions), so aggregates then cover the newest events
// only — a count can not exceed the cap, and New refuses count thresholds
// the cap makes unreachable; sums and distinct counts may be
// underestimated. Memory is bounded by correlations × MaxGroups ×
// MaxWindowEvents × about 100 bytes, plus alerts. Value strings of
// value_count windows are interned per group; other strings (event ids,
// subjects) are the event's own, kept while in a window, so a caller must
// not reuse the memory of strings it passed in.
//
// Alerts. A finding becomes event.Alert state, unless an exception
// suppresses it. Its rule (rule id, correlation id or behaviour name) and
// group key select the alerts kept for that pair; the finding folds into
// the newest one whose window start lies less than the rule's
// suppression window (Options.Suppression, else DefaultSuppression) from
// the finding's start, or whose events it overlaps. Otherwise it opens an
// alert with id event.AlertID(rule, group key, finding start). Folding
// adds Count, widens FirstSeen/LastSeen (WindowEnd is LastSeen + 1 ms:
// [WindowStart, WindowEnd) holds every event), takes the union of the
// categories and the highest severity, keeps the latest explanation and
// the event.MaxEvidence earliest distinct event ids (ordered by event
// time, then feed order). DistinctSubjects is exact up to
// Options.MaxAlertSubjects subjects; past that every subject not in the
// kept set counts as new, so it may overcount repeats. An alert is
// forgotten once W passes both its window start plus the suppression
// window and its last event plus the correlation's timespan (no later
// finding could fold into it); a finding after that opens a new alert.
// (Expired alerts and dead groups are freed when the watermark enters a
// new second; until then they take no finding.)
// At most Options.MaxAlerts alerts are kept; beyond, the least recently
// updated is forgotten (Stats.AlertEvictions). New alerts have status
// open.
//
// Output. Drain returns the full state of every alert opened or updated
// since the last Drain, once each, in the order of their first change;
// many updates between two calls coalesce into one record. The final
// record of every alert is the same whatever the Drain boundaries, and
// every record is a state the alert had. Records of forgotten alerts are
// still returned if they were not drained.
//
// Exceptions. Options.Exceptions name a rule (id or path.Match pattern)
// and criteria (orgs, actors, devices, actor roles, field values of the
// triggering event); a finding matching one, before its Expires in event
// time, is not an alert: it is counted (Stats.Suppressed) and reported by
// DrainSuppressed, coalesced per exception, rule and group, for the
// runner to log with slog. Its events count as reported, so a later
// finding of the same window does not resurrect them. Options.Validate
// checks exceptions (reason, author and expiry are required);
// Options.ExpiredExceptions lists those already expired, for a warning.
//
// Dispositions. Analysts close alerts (closed_false_positive,
// closed_authorized, closed_duplicate) with `vigil alert close`, which
// publishes the alert record with the new status, status_reason and
// status_by on the alerts topic; the runner feeds every record whose
// status is not open and that no detector produced (header vigil-origin:
// detector) back to Dispose. The kept alert takes the status, reason and author,
// and findings that fold into it later keep that status: a closed alert
// is not re-opened within its window. A disposition of an alert not in
// state (yet) waits for it, bounded by Options.MaxPendingDispositions.
// Dispositions are inputs like events: the same events and dispositions
// in the same order give the same alerts.
//
// Snapshots. Snapshot returns a versioned binary (the magic "VIGILDET", a
// version byte, a gob stream) holding the offset of the last event fed,
// the watermark, every correlation's groups and windows (least recently
// updated first, so that evictions stay in order), the alerts, the
// undrained output, pending dispositions and each behaviour's
// MarshalState. Restore into a Partition built with the same rules and
// options continues exactly as the uninterrupted Partition would: the
// same output byte for byte. Correlations whose definition changed start
// empty; a snapshot of another version is refused with
// ErrSnapshotVersion, after which the runner replays from the committed
// offset into an empty Partition. Stats are not part of a snapshot.
//
// Replay. After Restore the runner feeds the events from the snapshot's
// offset + 1 up to the committed offset with SetMuted(true): state is
// rebuilt, nothing is output (those records were published before the
// crash), then SetMuted(false) and live.
//
// # Metrics
//
// A Partition has no registry: Stats returns plain counters (events,
// duplicates, late, late dropped, findings, alerts opened, updated,
// suppressed, expired, evicted, group and window evictions) and gauges
// (groups, alerts) for the runner to export as
// vigil_detector_<name>_total and vigil_detector_<name>.
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
