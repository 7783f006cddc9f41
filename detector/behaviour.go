package detector

import (
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// BehaviourPrefix starts the rule id of every built-in behaviour:
// "vigil.behaviour.impossible_travel".
const BehaviourPrefix = "vigil.behaviour."

// Behaviour is a built-in detection that is not a Sigma rule: a baseline,
// a first-seen check, impossible travel, and the like (package behave
// implements them). A Partition calls every behaviour for every event it
// is fed, in offset order, and treats the Findings a behaviour emits
// exactly like the findings of rules: suppression windows, exceptions,
// dispositions and alert ids apply alike.
//
// The contract:
//
//   - One instance belongs to one Partition: the runner builds a fresh set
//     of behaviours for every partition it is assigned, and a Partition
//     calls its behaviours from one goroutine only, so they need no locks.
//   - Deterministic: what a behaviour emits and what its state becomes
//     depend only on the events it was fed, in order, and on Advance. No
//     wall clock (use the events' OccurredAt and the watermark), no
//     randomness, no dependence on map iteration order in output or in
//     MarshalState.
//   - Access and Device see every event, late ones included (see the
//     package doc on lateness); a behaviour that cannot use an event
//     ignores it. They call emit zero or more times, synchronously, before
//     returning; emit copies what it keeps, so a Finding's slices may be
//     reused by the behaviour as soon as emit returns. The emitter takes
//     Finding.RuleID as the alert's rule id: use Name(). A Finding must
//     have GroupKey, Org, Start and End set (End ≥ Start, both in event
//     time) and a valid Severity (else the behaviour's, see
//     BehaviourInfo). The emitter adds Count to the alert's count, so
//     Count is the number of events the finding adds: a behaviour that
//     fires again over events an earlier finding of the same group
//     covered counts only the new ones. Evidence ids already in the alert
//     are not added twice; the finding's evidence is ordered at Start.
//   - Bounded: a behaviour bounds its own state (per actor, per device, …)
//     and drops what Advance says is too old; cost per event must not
//     grow with history. Steady-state calls should not allocate.
//   - MarshalState returns the whole state, in a format the behaviour
//     versions itself; UnmarshalState(MarshalState()) gives a behaviour
//     that behaves exactly as the original from then on, and
//     UnmarshalState(nil) resets it to its fresh state (a snapshot taken
//     before the behaviour existed). UnmarshalState of bytes it cannot read
//     returns an error and leaves the behaviour fresh.
type Behaviour interface {
	// Name returns the behaviour's rule id: BehaviourPrefix + a
	// snake_case name, unique among the behaviours and rules of a
	// Partition.
	Name() string
	// Access is called with every access event fed to the Partition.
	Access(e *event.AccessEvent, emit func(Finding))
	// Device is called with every device event fed to the Partition.
	Device(e *event.DeviceEvent, emit func(Finding))
	// Advance tells the behaviour that the Partition's watermark moved to
	// w (never backwards): events older than w are late. The behaviour may
	// drop state that no event at or after w can use. It is called after
	// the event that moved the watermark was given to Access or Device.
	Advance(w time.Time)
	// MarshalState returns the behaviour's whole state for a snapshot.
	MarshalState() ([]byte, error)
	// UnmarshalState replaces the state with one from MarshalState; nil
	// resets it to the fresh state.
	UnmarshalState(b []byte) error
}

// BehaviourInfo is an optional interface of a Behaviour: its title and
// default severity for documentation and for the rule catalogue the
// console shows. Findings carry their own title and severity regardless.
type BehaviourInfo interface {
	Title() string
	Severity() event.Severity
}
