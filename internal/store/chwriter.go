package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vigil-audit/vigil/internal/event"
)

// ClickHouseWriter is the Writer of the system of record: it inserts each
// kind of record of a Batch into its ClickHouse table over the native
// protocol, one INSERT (one block) per table, with the column list named as
// ClickHouse 18.16 needs.
//
// Write is not atomic across tables: when it fails, some tables may hold
// their rows already. That is safe because the sink then writes the same
// batch again and every table deduplicates by record id (see the comments
// of migrations/0001_initial.sql).
//
// A ClickHouseWriter has no mutable state: Write may be called from several
// goroutines at once (each call takes connections from conn's pool).
type ClickHouseWriter struct {
	conn      driver.Conn
	db        string
	err       error // a bad database name, returned by every Write
	closeConn bool
}

var _ Writer = (*ClickHouseWriter)(nil)

// WriterOption configures a ClickHouseWriter.
type WriterOption func(*ClickHouseWriter)

// OwnConn makes Close close the connection given to NewClickHouseWriter.
// Without it the caller owns the connection (it typically also runs Migrate
// and queries through it) and Close does nothing.
func OwnConn() WriterOption { return func(w *ClickHouseWriter) { w.closeConn = true } }

// ErrInvalidRecord is wrapped by Write's error when a record cannot be
// stored whatever the server's state: a time outside ClickHouse DateTime's
// range (1970-01-01 to 2106-02-07 UTC) or a negative count. Validated events
// never have either (event.Validator bounds times to 1970–2099), so it means
// a bug upstream; retrying the same batch fails the same way, and a caller
// can tell it from a transient failure with errors.Is.
var ErrInvalidRecord = errors.New("record cannot be stored")

// NewClickHouseWriter returns a Writer that inserts into database db, which
// must hold the schema of Migrate. conn is a native-protocol connection
// (Open). A db that is not a plain identifier makes every Write fail with
// an error saying so.
func NewClickHouseWriter(conn driver.Conn, db string, opts ...WriterOption) *ClickHouseWriter {
	w := &ClickHouseWriter{conn: conn, db: db, err: checkIdent("database", db)}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Write inserts every non-empty part of b, in the order access events,
// device events, dead letters, alerts, incidents, notices, and stops at the
// first error, which names the table and the number of rows:
// "store: insert 5000 rows into vigil.access_events: …". A nil or empty
// batch writes nothing.
func (w *ClickHouseWriter) Write(ctx context.Context, b *Batch) error {
	if w.err != nil {
		return w.err
	}
	if b == nil {
		return nil
	}
	if err := insertRows(ctx, w, accessEventsTable, b.Access); err != nil {
		return err
	}
	if err := insertRows(ctx, w, deviceEventsTable, b.Device); err != nil {
		return err
	}
	if err := insertRows(ctx, w, deadLettersTable, b.DeadLetters); err != nil {
		return err
	}
	if err := insertRows(ctx, w, alertsTable, b.Alerts); err != nil {
		return err
	}
	if err := insertRows(ctx, w, incidentsTable, b.Incidents); err != nil {
		return err
	}
	return insertRows(ctx, w, noticesTable, b.Notices)
}

// Close closes the connection if the writer owns it (OwnConn) and does
// nothing otherwise.
func (w *ClickHouseWriter) Close() error {
	if w.closeConn && w.conn != nil {
		return w.conn.Close()
	}
	return nil
}

// insertRows inserts rows into table t of w's database as one batch. The
// column data is built before a connection is taken, so a record that
// cannot be stored fails without touching the server.
func insertRows[T any](ctx context.Context, w *ClickHouseWriter, t *table[T], rows []T) (err error) {
	if len(rows) == 0 {
		return nil
	}
	full := w.db + "." + t.name
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: insert %d rows into %s: %w", len(rows), full, err)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	data := make([]any, len(t.cols))
	for i, c := range t.cols {
		v, err := c.build(rows, t.id)
		if err != nil {
			return err
		}
		data[i] = v
	}
	batch, err := w.conn.PrepareBatch(ctx, t.insertQuery(w.db))
	if err != nil {
		return err
	}
	// The server answers the INSERT with the columns it expects, in the
	// order named; check them so that a mismatch is a clear error rather
	// than data in the wrong column.
	got := batch.Columns()
	if len(got) != len(t.cols) {
		_ = batch.Abort()
		return fmt.Errorf("server expects %d columns, the writer has %d", len(got), len(t.cols))
	}
	for i, c := range t.cols {
		if name := got[i].Name(); name != c.name {
			_ = batch.Abort()
			return fmt.Errorf("column %d is %s on the server, %s in the writer", i+1, name, c.name)
		}
		if err := batch.Column(i).Append(data[i]); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return batch.Send()
}

// table is how one kind of record maps to one table: the columns named in
// the INSERT, in order, each with how its values are built from the records.
type table[T any] struct {
	name string
	// id returns the record's id, for error messages.
	id   func(*T) string
	cols []insertColumn[T]
}

func newTable[T any](name string, id func(*T) string, cols ...[]insertColumn[T]) *table[T] {
	return &table[T]{name: name, id: id, cols: slices.Concat(cols...)}
}

// columnNames returns the columns of the INSERT in order.
func (t *table[T]) columnNames() []string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	return names
}

// insertQuery is the INSERT of t into database db, columns named.
func (t *table[T]) insertQuery(db string) string {
	return "INSERT INTO " + db + "." + t.name + " (" + strings.Join(t.columnNames(), ", ") + ")"
}

// insertColumn is one column of an INSERT: its name and how to build the whole
// column's data (a typed slice, one value per record) from the records.
type insertColumn[T any] struct {
	name  string
	build func(rows []T, id func(*T) string) (any, error)
}

// buildColumn makes a column whose values cannot fail to convert.
func buildColumn[T, V any](name string, f func(*T) V) []insertColumn[T] {
	return []insertColumn[T]{{name, func(rows []T, _ func(*T) string) (any, error) {
		out := make([]V, len(rows))
		for i := range rows {
			out[i] = f(&rows[i])
		}
		return out, nil
	}}}
}

// str is a String column from a string (or string-typed enum) field.
func str[T any, S ~string](name string, f func(*T) S) []insertColumn[T] {
	return buildColumn(name, func(r *T) string { return string(f(r)) })
}

// strs is an Array(String) column from a slice of strings or enums.
func strs[T any, S ~string](name string, f func(*T) []S) []insertColumn[T] {
	return buildColumn(name, func(r *T) []string {
		in := f(r)
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = string(s)
		}
		return out
	})
}

// jsonText is a String column holding the JSON of a field ("" for a nil
// slice or map).
func jsonText[T any](name string, f func(*T) any) []insertColumn[T] {
	return []insertColumn[T]{{name, func(rows []T, id func(*T) string) (any, error) {
		out := make([]string, len(rows))
		for i := range rows {
			v := f(&rows[i])
			if rv := reflect.ValueOf(v); !rv.IsValid() || (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s: %v", ErrInvalidRecord, id(&rows[i]), name, err)
			}
			out[i] = string(b)
		}
		return out, nil
	}}}
}

// flag is a UInt8 column (0 or 1) from a bool.
func flag[T any](name string, f func(*T) bool) []insertColumn[T] {
	return buildColumn(name, func(r *T) uint8 {
		if f(r) {
			return 1
		}
		return 0
	})
}

// f64 is a Float64 column.
func f64[T any](name string, f func(*T) float64) []insertColumn[T] { return buildColumn(name, f) }

// nullF64 is a Nullable(Float64) column: nil is NULL.
func nullF64[T any](name string, f func(*T) *float64) []insertColumn[T] { return buildColumn(name, f) }

// version is a UInt64 column holding Versioned.Version.
func version[T any](f func(*T) uint64) []insertColumn[T] { return buildColumn("version", f) }

// count is a UInt32 or UInt64 column (U) from a signed count; a negative
// count, or one that U cannot hold, is ErrInvalidRecord.
func count[U uint32 | uint64, T any, I ~int | ~int64](name string, f func(*T) I) []insertColumn[T] {
	limit := uint64(^U(0))
	return []insertColumn[T]{{name, func(rows []T, id func(*T) string) (any, error) {
		out := make([]U, len(rows))
		for i := range rows {
			v := int64(f(&rows[i]))
			if v < 0 || uint64(v) > limit {
				return nil, fmt.Errorf("%w: %s: %s %d is out of range 0..%d", ErrInvalidRecord, id(&rows[i]), name, v, limit)
			}
			out[i] = U(v)
		}
		return out, nil
	}}}
}

// epoch is how the schema stores an absent time.
var epoch = time.Unix(0, 0).UTC()

// maxDateTime is the last second a DateTime (UInt32 seconds) holds.
const maxDateTime = math.MaxUint32

// splitTime returns t as the seconds of a DateTime column and the
// milliseconds of its *_ms column; a zero t is 1970-01-01 00:00:00.000 as
// the schema says. ok is false for a time DateTime cannot hold.
func splitTime(t event.Timestamp) (sec time.Time, ms uint16, ok bool) {
	if t.IsZero() {
		return epoch, 0, true
	}
	s := t.Unix()
	if s < 0 || s > maxDateTime {
		return time.Time{}, 0, false
	}
	return time.Unix(s, 0).UTC(), uint16(t.Nanosecond() / int(time.Millisecond)), true
}

func timeRangeError(id, name string, t event.Timestamp) error {
	return fmt.Errorf("%w: %s: %s %s is outside DateTime's range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z", ErrInvalidRecord, id, name, t.Time.UTC().Format(time.RFC3339Nano))
}

// ts is a pair of columns, DateTime('UTC') name and UInt16 msName, from a
// Timestamp.
func ts[T any](name, msName string, f func(*T) event.Timestamp) []insertColumn[T] {
	return []insertColumn[T]{
		{name, func(rows []T, id func(*T) string) (any, error) {
			out := make([]time.Time, len(rows))
			for i := range rows {
				t := f(&rows[i])
				sec, _, ok := splitTime(t)
				if !ok {
					return nil, timeRangeError(id(&rows[i]), name, t)
				}
				out[i] = sec
			}
			return out, nil
		}},
		{msName, func(rows []T, _ func(*T) string) (any, error) {
			out := make([]uint16, len(rows))
			for i := range rows {
				_, out[i], _ = splitTime(f(&rows[i]))
			}
			return out, nil
		}},
	}
}

// tsArray is a pair of columns, Array(DateTime('UTC')) name and
// Array(UInt16) msName, from a list of Timestamps.
func tsArray[T any](name, msName string, f func(*T) []event.Timestamp) []insertColumn[T] {
	return []insertColumn[T]{
		{name, func(rows []T, id func(*T) string) (any, error) {
			out := make([][]time.Time, len(rows))
			for i := range rows {
				in := f(&rows[i])
				out[i] = make([]time.Time, len(in))
				for j, t := range in {
					sec, _, ok := splitTime(t)
					if !ok {
						return nil, timeRangeError(id(&rows[i]), fmt.Sprintf("%s[%d]", name, j), t)
					}
					out[i][j] = sec
				}
			}
			return out, nil
		}},
		{msName, func(rows []T, _ func(*T) string) (any, error) {
			out := make([][]uint16, len(rows))
			for i := range rows {
				in := f(&rows[i])
				out[i] = make([]uint16, len(in))
				for j, t := range in {
					_, out[i][j], _ = splitTime(t)
				}
			}
			return out, nil
		}},
	}
}

// attrs is a pair of Array(String) columns, keys and values, from a string
// map, in key order (so a redelivered record is written identically).
func attrs[T any](keysName, valuesName string, f func(*T) map[string]string) []insertColumn[T] {
	return slices.Concat(
		buildColumn(keysName, func(r *T) []string {
			return slices.Sorted(maps.Keys(f(r)))
		}),
		buildColumn(valuesName, func(r *T) []string {
			m := f(r)
			vs := make([]string, 0, len(m))
			for _, k := range slices.Sorted(maps.Keys(m)) {
				vs = append(vs, m[k])
			}
			return vs
		}),
	)
}

// The tables the writer fills and how each record maps to its columns.
// Each list is the table's CREATE TABLE in migrations/0001_initial.sql, in
// its column order; chwriter_test.go checks every column against the
// migrations (names, types, none left out), so the two cannot drift. A new
// migration that adds a column must add it here too.

// accessEventsTable: access_events (0001_initial.sql), one row per
// event.AccessEvent. The access_by_subject and access_by_actor views fill
// from it.
var accessEventsTable = newTable("access_events",
	func(e *event.AccessEvent) string { return "access event " + e.EventID },
	str("event_id", func(e *event.AccessEvent) string { return e.EventID }),
	ts("occurred_at", "occurred_ms", func(e *event.AccessEvent) event.Timestamp { return e.OccurredAt }),
	ts("received_at", "received_ms", func(e *event.AccessEvent) event.Timestamp { return e.ReceivedAt }),
	str("source", func(e *event.AccessEvent) string { return e.Source }),
	str("org", func(e *event.AccessEvent) string { return e.Org }),
	str("actor_id", func(e *event.AccessEvent) string { return e.Actor.ID }),
	str("actor_type", func(e *event.AccessEvent) event.ActorType { return e.Actor.Type }),
	str("actor_role", func(e *event.AccessEvent) string { return e.Actor.Role }),
	str("actor_department", func(e *event.AccessEvent) string { return e.Actor.Department }),
	str("action", func(e *event.AccessEvent) event.Action { return e.Action }),
	str("subject_id", func(e *event.AccessEvent) string { return e.Subject.ID }),
	str("subject_type", func(e *event.AccessEvent) event.SubjectType { return e.Subject.Type }),
	flag("subject_minor", func(e *event.AccessEvent) bool { return e.Subject.Minor }),
	flag("subject_vip", func(e *event.AccessEvent) bool { return e.Subject.VIP }),
	flag("subject_employee", func(e *event.AccessEvent) bool { return e.Subject.Employee }),
	strs("categories", func(e *event.AccessEvent) []event.Category { return e.Categories }),
	count[uint64]("record_count", func(e *event.AccessEvent) int64 { return e.RecordCount }),
	str("purpose", func(e *event.AccessEvent) string { return e.Purpose }),
	str("relationship", func(e *event.AccessEvent) event.Relationship { return e.Relationship }),
	str("outcome", func(e *event.AccessEvent) event.Outcome { return e.Outcome }),
	str("client_ip", func(e *event.AccessEvent) string { return e.Client.IP }),
	str("client_user_agent", func(e *event.AccessEvent) string { return e.Client.UserAgent }),
	str("client_device_id", func(e *event.AccessEvent) string { return e.Client.DeviceID }),
	str("client_geo_country", func(e *event.AccessEvent) string { return e.Client.Geo.Country }),
	str("client_geo_region", func(e *event.AccessEvent) string { return e.Client.Geo.Region }),
	str("client_geo_city", func(e *event.AccessEvent) string { return e.Client.Geo.City }),
	nullF64("client_geo_lat", func(e *event.AccessEvent) *float64 { return e.Client.Geo.Lat }),
	nullF64("client_geo_lon", func(e *event.AccessEvent) *float64 { return e.Client.Geo.Lon }),
	str("session_id", func(e *event.AccessEvent) string { return e.SessionID }),
	str("request_id", func(e *event.AccessEvent) string { return e.RequestID }),
	attrs("attr_keys", "attr_values", func(e *event.AccessEvent) map[string]string { return e.Attrs }),
)

// deviceEventsTable: device_events (0001_initial.sql), one row per
// event.DeviceEvent. An absent Location is NULL lat/lon and accuracy 0
// ("not reported").
var deviceEventsTable = newTable("device_events",
	func(e *event.DeviceEvent) string { return "device event " + e.EventID },
	str("event_id", func(e *event.DeviceEvent) string { return e.EventID }),
	ts("occurred_at", "occurred_ms", func(e *event.DeviceEvent) event.Timestamp { return e.OccurredAt }),
	ts("received_at", "received_ms", func(e *event.DeviceEvent) event.Timestamp { return e.ReceivedAt }),
	str("source", func(e *event.DeviceEvent) string { return e.Source }),
	str("org", func(e *event.DeviceEvent) string { return e.Org }),
	str("account_id", func(e *event.DeviceEvent) string { return e.AccountID }),
	str("device_id", func(e *event.DeviceEvent) string { return e.DeviceID }),
	str("kind", func(e *event.DeviceEvent) event.DeviceKind { return e.Kind }),
	str("device_model", func(e *event.DeviceEvent) string { return e.Device.Model }),
	str("device_os", func(e *event.DeviceEvent) string { return e.Device.OS }),
	str("device_os_version", func(e *event.DeviceEvent) string { return e.Device.OSVersion }),
	str("device_app_version", func(e *event.DeviceEvent) string { return e.Device.AppVersion }),
	flag("signal_emulator", func(e *event.DeviceEvent) bool { return e.Signals.Emulator }),
	flag("signal_rooted", func(e *event.DeviceEvent) bool { return e.Signals.Rooted }),
	flag("signal_hook_framework", func(e *event.DeviceEvent) bool { return e.Signals.HookFramework }),
	flag("signal_debugger", func(e *event.DeviceEvent) bool { return e.Signals.Debugger }),
	flag("signal_app_tampered", func(e *event.DeviceEvent) bool { return e.Signals.AppTampered }),
	flag("signal_proxy_or_vpn", func(e *event.DeviceEvent) bool { return e.Signals.ProxyOrVPN }),
	flag("signal_multi_open", func(e *event.DeviceEvent) bool { return e.Signals.MultiOpen }),
	flag("signal_location_spoofed", func(e *event.DeviceEvent) bool { return e.Signals.LocationSpoofed }),
	flag("signal_remote_control", func(e *event.DeviceEvent) bool { return e.Signals.RemoteControl }),
	str("network_ip", func(e *event.DeviceEvent) string { return e.Network.IP }),
	str("network_carrier", func(e *event.DeviceEvent) string { return e.Network.Carrier }),
	str("network_wifi_bssid", func(e *event.DeviceEvent) string { return e.Network.WiFiBSSID }),
	nullF64("location_lat", func(e *event.DeviceEvent) *float64 {
		if e.Location == nil {
			return nil
		}
		return &e.Location.Lat
	}),
	nullF64("location_lon", func(e *event.DeviceEvent) *float64 {
		if e.Location == nil {
			return nil
		}
		return &e.Location.Lon
	}),
	f64("location_accuracy_m", func(e *event.DeviceEvent) float64 {
		if e.Location == nil {
			return 0
		}
		return e.Location.AccuracyM
	}),
	str("outcome", func(e *event.DeviceEvent) event.Outcome { return e.Outcome }),
	attrs("attr_keys", "attr_values", func(e *event.DeviceEvent) map[string]string { return e.Attrs }),
)

// deadLettersTable: dead_letters (0001_initial.sql), one row per
// event.DeadLetter.
var deadLettersTable = newTable("dead_letters",
	func(d *event.DeadLetter) string { return "dead letter " + d.DeadLetterID },
	str("dead_letter_id", func(d *event.DeadLetter) string { return d.DeadLetterID }),
	ts("received_at", "received_ms", func(d *event.DeadLetter) event.Timestamp { return d.ReceivedAt }),
	str("source", func(d *event.DeadLetter) string { return d.Source }),
	str("receiver", func(d *event.DeadLetter) string { return d.Receiver }),
	str("kind", func(d *event.DeadLetter) string { return d.Kind }),
	str("reason", func(d *event.DeadLetter) string { return d.Reason }),
	strs("problems", func(d *event.DeadLetter) []string { return d.Problems }),
	str("location", func(d *event.DeadLetter) string { return d.Location }),
	str("event_id", func(d *event.DeadLetter) string { return d.EventID }),
	str("raw", func(d *event.DeadLetter) string { return d.Raw }),
	count[uint64]("raw_bytes", func(d *event.DeadLetter) int { return d.RawBytes }),
	flag("truncated", func(d *event.DeadLetter) bool { return d.Truncated }),
)

// alertsTable: alerts (0001_initial.sql), one row per state of an
// event.Alert; version is the Kafka offset (Versioned.Version).
var alertsTable = newTable("alerts",
	func(v *Versioned[event.Alert]) string { return "alert " + v.Value.AlertID },
	str("alert_id", func(v *Versioned[event.Alert]) string { return v.Value.AlertID }),
	version(func(v *Versioned[event.Alert]) uint64 { return v.Version }),
	str("rule_id", func(v *Versioned[event.Alert]) string { return v.Value.RuleID }),
	str("rule_title", func(v *Versioned[event.Alert]) string { return v.Value.RuleTitle }),
	str("severity", func(v *Versioned[event.Alert]) event.Severity { return v.Value.Severity }),
	str("group_key", func(v *Versioned[event.Alert]) string { return v.Value.GroupKey }),
	ts("window_start", "window_start_ms", func(v *Versioned[event.Alert]) event.Timestamp { return v.Value.WindowStart }),
	ts("window_end", "window_end_ms", func(v *Versioned[event.Alert]) event.Timestamp { return v.Value.WindowEnd }),
	ts("first_seen", "first_seen_ms", func(v *Versioned[event.Alert]) event.Timestamp { return v.Value.FirstSeen }),
	ts("last_seen", "last_seen_ms", func(v *Versioned[event.Alert]) event.Timestamp { return v.Value.LastSeen }),
	count[uint64]("count", func(v *Versioned[event.Alert]) int64 { return v.Value.Count }),
	count[uint64]("distinct_subjects", func(v *Versioned[event.Alert]) int64 { return v.Value.DistinctSubjects }),
	strs("categories", func(v *Versioned[event.Alert]) []event.Category { return v.Value.Categories }),
	strs("evidence", func(v *Versioned[event.Alert]) []string { return v.Value.Evidence }),
	str("explanation", func(v *Versioned[event.Alert]) string { return v.Value.Explanation }),
	str("actor_id", func(v *Versioned[event.Alert]) string { return v.Value.ActorID }),
	str("device_id", func(v *Versioned[event.Alert]) string { return v.Value.DeviceID }),
	str("org", func(v *Versioned[event.Alert]) string { return v.Value.Org }),
	str("status", func(v *Versioned[event.Alert]) event.AlertStatus { return v.Value.Status }),
	str("status_reason", func(v *Versioned[event.Alert]) string { return v.Value.StatusReason }),
	str("status_by", func(v *Versioned[event.Alert]) string { return v.Value.StatusBy }),
)

// incidentsTable: incidents (0001_initial.sql), one row per state of an
// event.Incident; the transitions become parallel arrays (the
// incident_transitions view unrolls them), a zero AwareAt is 1970-01-01.
var incidentsTable = newTable("incidents",
	func(v *Versioned[event.Incident]) string { return "incident " + v.Value.IncidentID },
	str("incident_id", func(v *Versioned[event.Incident]) string { return v.Value.IncidentID }),
	version(func(v *Versioned[event.Incident]) uint64 { return v.Version }),
	str("state", func(v *Versioned[event.Incident]) event.IncidentState { return v.Value.State }),
	ts("detected_at", "detected_ms", func(v *Versioned[event.Incident]) event.Timestamp { return v.Value.DetectedAt }),
	ts("aware_at", "aware_ms", func(v *Versioned[event.Incident]) event.Timestamp { return v.Value.AwareAt }),
	strs("alert_ids", func(v *Versioned[event.Incident]) []string { return v.Value.AlertIDs }),
	str("actor_id", func(v *Versioned[event.Incident]) string { return v.Value.ActorID }),
	str("org", func(v *Versioned[event.Incident]) string { return v.Value.Org }),
	str("severity", func(v *Versioned[event.Incident]) event.Severity { return v.Value.Severity }),
	count[uint64]("scope_people", func(v *Versioned[event.Incident]) int64 { return v.Value.Scope.People }),
	count[uint64]("scope_minors", func(v *Versioned[event.Incident]) int64 { return v.Value.Scope.Minors }),
	strs("scope_categories", func(v *Versioned[event.Incident]) []event.Category { return v.Value.Scope.Categories }),
	strs("scope_jurisdictions", func(v *Versioned[event.Incident]) []string { return v.Value.Scope.Jurisdictions }),
	strs("transition_from", func(v *Versioned[event.Incident]) []event.IncidentState {
		return transitionField(v, func(t *event.Transition) event.IncidentState { return t.From })
	}),
	strs("transition_to", func(v *Versioned[event.Incident]) []event.IncidentState {
		return transitionField(v, func(t *event.Transition) event.IncidentState { return t.To })
	}),
	tsArray("transition_at", "transition_ms", func(v *Versioned[event.Incident]) []event.Timestamp {
		return transitionField(v, func(t *event.Transition) event.Timestamp { return t.At })
	}),
	strs("transition_by", func(v *Versioned[event.Incident]) []string {
		return transitionField(v, func(t *event.Transition) string { return t.By })
	}),
	strs("transition_reason", func(v *Versioned[event.Incident]) []string {
		return transitionField(v, func(t *event.Transition) string { return t.Reason })
	}),
	str("device_id", func(v *Versioned[event.Incident]) string { return v.Value.DeviceID }),
	ts("window_start", "window_start_ms", func(v *Versioned[event.Incident]) event.Timestamp { return v.Value.WindowStart }),
	ts("window_end", "window_end_ms", func(v *Versioned[event.Incident]) event.Timestamp { return v.Value.WindowEnd }),
	jsonText("obligations", func(v *Versioned[event.Incident]) any { return v.Value.Obligations }),
	jsonText("fields", func(v *Versioned[event.Incident]) any { return v.Value.Fields }),
	jsonText("submissions", func(v *Versioned[event.Incident]) any { return v.Value.Submissions }),
	strs("rule_ids", func(v *Versioned[event.Incident]) []string { return v.Value.RuleIDs }),
)

// transitionField returns one field of each of an incident's transitions.
func transitionField[V any](v *Versioned[event.Incident], f func(*event.Transition) V) []V {
	out := make([]V, len(v.Value.Transitions))
	for i := range v.Value.Transitions {
		out[i] = f(&v.Value.Transitions[i])
	}
	return out
}

// noticesTable: notices (0001_initial.sql), one row per state of an
// event.Notice; a zero SentAt (not sent yet) is 1970-01-01. The deliveries
// view fills from it.
var noticesTable = newTable("notices",
	func(v *Versioned[event.Notice]) string { return "notice " + v.Value.NoticeID },
	str("notice_id", func(v *Versioned[event.Notice]) string { return v.Value.NoticeID }),
	version(func(v *Versioned[event.Notice]) uint64 { return v.Version }),
	str("incident_id", func(v *Versioned[event.Notice]) string { return v.Value.IncidentID }),
	str("obligation", func(v *Versioned[event.Notice]) string { return v.Value.Obligation }),
	str("regime", func(v *Versioned[event.Notice]) string { return v.Value.Regime }),
	str("recipient_token", func(v *Versioned[event.Notice]) string { return v.Value.RecipientToken }),
	str("recipient_kind", func(v *Versioned[event.Notice]) event.RecipientKind { return v.Value.RecipientKind }),
	str("channel", func(v *Versioned[event.Notice]) event.Channel { return v.Value.Channel }),
	str("language", func(v *Versioned[event.Notice]) string { return v.Value.Language }),
	ts("due_at", "due_ms", func(v *Versioned[event.Notice]) event.Timestamp { return v.Value.DueAt }),
	str("state", func(v *Versioned[event.Notice]) event.NoticeState { return v.Value.State }),
	count[uint32]("attempts", func(v *Versioned[event.Notice]) int { return v.Value.Attempts }),
	ts("sent_at", "sent_ms", func(v *Versioned[event.Notice]) event.Timestamp { return v.Value.SentAt }),
	str("message_id", func(v *Versioned[event.Notice]) string { return v.Value.MessageID }),
	str("last_error", func(v *Versioned[event.Notice]) string { return v.Value.LastError }),
)
