// Package storetest is the contract suite of store.Reader: one fixture,
// one reference model, and Run, which holds any backend (ClickHouse, the
// embedded SQLite store) to the same answers for the same writes.
//
// A backend test calls it with a function returning a fresh, empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Tests in package store itself cannot import storetest (it imports
// store): a backend of package store runs the suite from an external test
// package (package store_test).
//
// # Fixture
//
// Batches returns what the suite writes: two orgs whose actor ids overlap
// (doc-1 is in both), six actors (one whose only events are a login and
// an update), four subjects (a minor, a VIP, an employee) and logins without
// a subject; events with several categories given out of order and one
// with a repeated category; events exactly at the window's bounds, one
// millisecond inside and outside them, in the same millisecond as another
// event, on the previous day and in the previous month; every event and
// dead letter written twice in separate batches (one event twice in one
// batch); alerts, incidents and notices in several versions with an older
// version written after a newer one and a version written twice; a notice
// that changes channel between versions and one whose incident has no
// record; device events (only IngestRate reads them).
//
// # Reference model and golden files
//
// The expected answers come from model.go: the fixture reduced to the
// first copy of each event and the highest version of each changing
// record, and one plain loop per query. They are recorded in testdata/ as
// one JSON file per Reader method (each question's name, parameters and
// answer) for review; the package's own test checks the model still
// produces them, and `go test ./internal/store/storetest -update` rewrites
// them from the model.
//
// # Readings of the contract
//
// Where store.Reader's documentation leaves a choice open, the suite
// fixes it as follows; both backends must follow.
//
//   - Millisecond precision of the parameters: every time a query is
//     given (From, To, Now) is read in UTC truncated to the millisecond,
//     as event.Timestamp normalises times. [10:00:00.0005, 11:00:00.0009)
//     is [10:00:00.000, 11:00:00.000); Now = 12:00:00.0009 makes a notice
//     due at 12:00:00.000 not overdue. The zone of a parameter does not
//     matter.
//   - Category lists in rows are never nil: an event without categories
//     (a login) has [] (JSON "[]", not null). A repeated category is
//     listed, and counted by ActorActivity, once.
//   - A method with no rows may return a nil or an empty slice.
//   - TopActors ranks every actor with at least one event in the window
//     (logins included), even when its ranking figure is 0; "distinct
//     subjects" never counts the empty subject of a login.
//   - ActorActivity and AlertCounts buckets (hours, Bucket) are taken from
//     the Unix epoch in UTC; only buckets with rows are returned. The range
//     filters events (or window_start), not buckets: a range starting in
//     the middle of an hour counts only that hour's events inside it.
//   - AlertCounts, Incidents and NoticeProgress read every field from the
//     latest version of a record (severity, status, state, channel,
//     window_start, due_at): an older version never contributes, whatever
//     the order of writes.
//   - Incidents: Alerts is the length of alert_ids and Transitions the
//     length of the state history of the latest version; States filters on
//     the latest state (an unknown state matches nothing, it is not an
//     error); Limit applies after ordering. Open notices are those in
//     planned, approved, sending or failed; NextDeadline is the zero time
//     when the incident has none; Overdue counts open notices due strictly
//     before Now.
//   - NoticeProgress counts notices whatever their incident: notices of an
//     incident with no incident record are listed too.
//   - IngestRate and DeadLetterCounts filter and bucket on received_at
//     (not occurred_at); IngestRate's kinds are "access" and "device".
//   - An error returned by a streaming method's fn is returned as is: the
//     same error value, neither wrapped nor replaced.
package storetest
