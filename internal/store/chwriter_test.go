package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vigil-audit/vigil/internal/event"
)

// writerTable is what the schema tests need of a table[T], whatever T.
type writerTable struct {
	name  string
	cols  []string
	build func() ([]any, error) // column data for one zero record
	leafs func(t *testing.T)    // checks every field reaches a column
}

func describe[T any](t *table[T]) writerTable {
	return writerTable{
		name: t.name,
		cols: t.columnNames(),
		build: func() ([]any, error) {
			var r T
			return buildAll(t, []T{r})
		},
		leafs: func(tt *testing.T) { checkEveryFieldWritten(tt, t) },
	}
}

func writerTables() []writerTable {
	return []writerTable{
		describe(accessEventsTable), describe(deviceEventsTable), describe(deadLettersTable),
		describe(alertsTable), describe(incidentsTable), describe(noticesTable),
	}
}

func buildAll[T any](t *table[T], rows []T) ([]any, error) {
	out := make([]any, len(t.cols))
	for i, c := range t.cols {
		v, err := c.build(rows, t.id)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// schemaColumn is a column of a table as the migrations define it.
type schemaColumn struct{ name, typ string }

var (
	createTableRE = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\$\{db\}\.(\w+)\s*\((.*)\)\s*ENGINE\b`)
	alterTableRE  = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+\$\{db\}\.(\w+)\s+(.*)$`)
	addColumnRE   = regexp.MustCompile(`(?is)^ADD\s+COLUMN\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+(.+?)(?:\s+(?:AFTER\s+\w+|FIRST))?$`)
	defaultRE     = regexp.MustCompile(`(?i)\s+DEFAULT\s`)
	dropColumnRE  = regexp.MustCompile(`(?is)^DROP\s+COLUMN\s+(?:IF\s+EXISTS\s+)?(\w+)$`)
)

// schemaTables applies every embedded migration's CREATE TABLE and ALTER
// TABLE … ADD/DROP COLUMN statements and returns the resulting columns of
// each table. An ALTER it does not understand fails the test: teach it the
// new form rather than let the check go blind.
func schemaTables(t *testing.T) map[string][]schemaColumn {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][]schemaColumn{}
	for _, m := range ms {
		for _, stmt := range m.Statements {
			if sub := createTableRE.FindStringSubmatch(stmt); sub != nil {
				var cols []schemaColumn
				for _, def := range splitTopLevel(sub[2]) {
					f := strings.Fields(def)
					if len(f) < 2 {
						t.Fatalf("%s: table %s: cannot parse column %q", m.Name, sub[1], def)
					}
					cols = append(cols, schemaColumn{f[0], strings.Join(f[1:], " ")})
				}
				tables[sub[1]] = cols
				continue
			}
			sub := alterTableRE.FindStringSubmatch(stmt)
			if sub == nil {
				continue
			}
			for _, cmd := range splitTopLevel(sub[2]) {
				switch {
				case addColumnRE.MatchString(cmd):
					a := addColumnRE.FindStringSubmatch(cmd)
					typ := strings.TrimSpace(a[2])
					if i := defaultRE.FindStringIndex(typ); i != nil {
						typ = strings.TrimSpace(typ[:i[0]]) // the type without its DEFAULT expression
					}
					tables[sub[1]] = append(tables[sub[1]], schemaColumn{a[1], typ})
				case dropColumnRE.MatchString(cmd):
					d := dropColumnRE.FindStringSubmatch(cmd)
					tables[sub[1]] = slices.DeleteFunc(tables[sub[1]], func(c schemaColumn) bool { return c.name == d[1] })
				default:
					t.Fatalf("%s: ALTER TABLE %s: the writer's schema check does not understand %q; extend schemaTables in chwriter_test.go", m.Name, sub[1], cmd)
				}
			}
		}
	}
	return tables
}

// splitTopLevel splits s on commas outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var (
		parts []string
		depth int
		quote byte
		start int
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" {
		parts = append(parts, last)
	}
	return parts
}

// goType is the Go type the writer must hand clickhouse-go for a column of
// ClickHouse type chType.
func goType(chType string) (reflect.Type, bool) {
	chType = strings.TrimSpace(chType)
	if inner, ok := unwrap(chType, "Nullable"); ok {
		t, ok := goType(inner)
		return reflect.PointerTo(t), ok
	}
	if inner, ok := unwrap(chType, "Array"); ok {
		t, ok := goType(inner)
		return reflect.SliceOf(t), ok
	}
	switch chType {
	case "String":
		return reflect.TypeFor[string](), true
	case "UInt8":
		return reflect.TypeFor[uint8](), true
	case "UInt16":
		return reflect.TypeFor[uint16](), true
	case "UInt32":
		return reflect.TypeFor[uint32](), true
	case "UInt64":
		return reflect.TypeFor[uint64](), true
	case "Float64":
		return reflect.TypeFor[float64](), true
	case "DateTime('UTC')":
		return reflect.TypeFor[time.Time](), true
	}
	return nil, false
}

func unwrap(t, wrapper string) (string, bool) {
	if strings.HasPrefix(t, wrapper+"(") && strings.HasSuffix(t, ")") {
		return t[len(wrapper)+1 : len(t)-1], true
	}
	return "", false
}

// TestWriterMatchesSchema checks every writer table against the schema of
// the migrations: each INSERT column exists in its table, with the Go type
// its ClickHouse type needs, and no column of the table is left out (it
// would silently get a default), in the table's order.
func TestWriterMatchesSchema(t *testing.T) {
	tables := schemaTables(t)
	for _, wt := range writerTables() {
		schema, ok := tables[wt.name]
		if !ok {
			t.Errorf("the writer inserts into %s, which no migration creates", wt.name)
			continue
		}
		byName := map[string]string{}
		var names []string
		for _, c := range schema {
			byName[c.name] = c.typ
			names = append(names, c.name)
		}
		data, err := wt.build()
		if err != nil {
			t.Fatalf("%s: building a zero record: %v", wt.name, err)
		}
		seen := map[string]bool{}
		for i, col := range wt.cols {
			if seen[col] {
				t.Errorf("%s: column %s is written twice", wt.name, col)
			}
			seen[col] = true
			typ, ok := byName[col]
			if !ok {
				t.Errorf("%s: the writer inserts column %s, which the table does not have", wt.name, col)
				continue
			}
			want, ok := goType(typ)
			if !ok {
				t.Errorf("%s.%s: ClickHouse type %s is unknown to this test; extend goType", wt.name, col, typ)
				continue
			}
			if got := reflect.TypeOf(data[i]).Elem(); got != want {
				t.Errorf("%s.%s (%s): the writer appends %s values, want %s", wt.name, col, typ, got, want)
			}
		}
		for _, c := range schema {
			if !seen[c.name] {
				t.Errorf("%s: column %s (%s) is not written", wt.name, c.name, c.typ)
			}
		}
		if !t.Failed() && !slices.Equal(wt.cols, names) {
			t.Errorf("%s: the writer's column order\n%q\ndiffers from the table's\n%q", wt.name, wt.cols, names)
		}
	}
	// The views' tables are filled by the server, not the writer; every
	// other table of the migrations should have a writer table or be known.
	written := map[string]bool{"schema_migrations": true}
	for _, wt := range writerTables() {
		written[wt.name] = true
	}
	for name := range tables {
		if !written[name] && !isViewTarget(t, name) {
			t.Errorf("table %s is neither written by the writer nor filled by a materialized view", name)
		}
	}
}

// isViewTarget reports whether a materialized view of the migrations
// writes TO table name.
func isViewTarget(t *testing.T, name string) bool {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	to := regexp.MustCompile(`(?is)^CREATE\s+MATERIALIZED\s+VIEW\b.*?\bTO\s+\$\{db\}\.` + name + `\s+AS\b`)
	for _, m := range ms {
		for _, s := range m.Statements {
			if to.MatchString(s) {
				return true
			}
		}
	}
	return false
}

// TestWriterWritesEveryField sets each field of each record type alone and
// checks that the columns change, so a field added to an event type without
// a column (or a mapping that forgets one) fails here.
func TestWriterWritesEveryField(t *testing.T) {
	for _, wt := range writerTables() {
		t.Run(wt.name, wt.leafs)
	}
}

func checkEveryFieldWritten[T any](t *testing.T, tb *table[T]) {
	var zero T
	base, err := buildAll(tb, []T{zero})
	if err != nil {
		t.Fatal(err)
	}
	var setters []leafSetter
	collectLeaves(reflect.TypeFor[T](), "", func(v reflect.Value) reflect.Value { return v }, &setters)
	if len(setters) == 0 {
		t.Fatal("no fields found")
	}
	for _, s := range setters {
		var r T
		s.set(reflect.ValueOf(&r).Elem())
		got, err := buildAll(tb, []T{r})
		if err != nil {
			t.Errorf("%s set: %v", s.path, err)
			continue
		}
		if reflect.DeepEqual(got, base) {
			t.Errorf("field %s is not written to any column of %s", s.path, tb.name)
		}
	}
}

type leafSetter struct {
	path string
	set  func(root reflect.Value)
}

var timestampType = reflect.TypeFor[event.Timestamp]()

// collectLeaves lists a setter for every leaf field under type typ, which
// get reaches from the root value (allocating pointers and one-element
// slices on the way).
func collectLeaves(typ reflect.Type, path string, get func(reflect.Value) reflect.Value, out *[]leafSetter) {
	switch {
	case typ == timestampType:
		*out = append(*out, leafSetter{path, func(r reflect.Value) {
			get(r).Set(reflect.ValueOf(event.NewTimestamp(time.Date(2026, 11, 28, 9, 30, 1, 234e6, time.UTC))))
		}})
	case typ.Kind() == reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			collectLeaves(f.Type, path+"."+f.Name, func(r reflect.Value) reflect.Value { return get(r).Field(i) }, out)
		}
	case typ.Kind() == reflect.Pointer && typ.Elem().Kind() == reflect.Struct:
		collectLeaves(typ.Elem(), path, func(r reflect.Value) reflect.Value {
			p := get(r)
			if p.IsNil() {
				p.Set(reflect.New(typ.Elem()))
			}
			return p.Elem()
		}, out)
	case typ.Kind() == reflect.Slice && (typ.Elem().Kind() == reflect.Struct):
		collectLeaves(typ.Elem(), path+"[0]", func(r reflect.Value) reflect.Value {
			s := get(r)
			if s.Len() == 0 {
				s.Set(reflect.MakeSlice(typ, 1, 1))
			}
			return s.Index(0)
		}, out)
	default:
		*out = append(*out, leafSetter{path, func(r reflect.Value) { setNonZero(get(r)) }})
	}
}

// setNonZero sets a leaf value to something other than its zero value.
func setNonZero(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		setNonZero(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		setNonZero(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		setNonZero(k)
		setNonZero(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		panic(fmt.Sprintf("setNonZero: unhandled kind %s", v.Kind()))
	}
}

func readTestdata(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("../event/testdata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWriterMapsMaximalEvents checks the conversions that are more than a
// copy on the maximal test events: times split into seconds and
// milliseconds in UTC, attrs as sorted parallel arrays, flags as 1,
// absent location as NULL and 0.
func TestWriterMapsMaximalEvents(t *testing.T) {
	access, problems := event.DecodeAccess(readTestdata(t, "access/maximal.json"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	cols := columnsByName(t, accessEventsTable, []event.AccessEvent{access})
	wantTime(t, cols, "occurred_at", "occurred_ms", "2026-11-28T09:30:00Z", 123)
	wantTime(t, cols, "received_at", "received_ms", "2026-11-28T09:30:01Z", 500)
	want(t, cols, "attr_keys", [][]string{{"empty", "export.format", "ticket:id", "ward"}})
	want(t, cols, "attr_values", [][]string{{"", "csv", "REF-77", "7B"}})
	want(t, cols, "subject_minor", []uint8{1})
	want(t, cols, "record_count", []uint64{1200})
	want(t, cols, "relationship", []string{"false"})
	lat := 30.27
	want(t, cols, "client_geo_lat", []*float64{&lat})

	dev, problems := event.DecodeDevice(readTestdata(t, "device/maximal.json"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	noLoc := dev
	noLoc.Location = nil
	cols = columnsByName(t, deviceEventsTable, []event.DeviceEvent{dev, noLoc})
	wantTime(t, cols, "occurred_at", "occurred_ms", "2026-11-28T14:30:00Z", 123)
	want(t, cols, "location_lat", []*float64{&dev.Location.Lat, nil})
	want(t, cols, "location_accuracy_m", []float64{35.5, 0})
	want(t, cols, "signal_remote_control", []uint8{1, 1})

	// Absent times are 1970-01-01 00:00:00.000; incident transitions are
	// parallel arrays.
	inc := Versioned[event.Incident]{Version: 42, Value: event.Incident{
		IncidentID: "inc-1",
		DetectedAt: event.NewTimestamp(time.Date(2026, 11, 28, 10, 0, 0, 5e6, time.UTC)),
		Transitions: []event.Transition{
			{From: "detected", To: "triage", At: event.NewTimestamp(time.Date(2026, 11, 28, 10, 1, 0, 999e6, time.UTC)), By: "op-1"},
			{From: "triage", To: "confirmed", At: event.NewTimestamp(time.Date(2026, 11, 28, 10, 2, 0, 0, time.UTC)), By: "op-2", Reason: "real"},
		},
	}}
	cols = columnsByName(t, incidentsTable, []Versioned[event.Incident]{inc})
	want(t, cols, "version", []uint64{42})
	wantTime(t, cols, "aware_at", "aware_ms", "1970-01-01T00:00:00Z", 0)
	want(t, cols, "transition_to", [][]string{{"triage", "confirmed"}})
	want(t, cols, "transition_ms", [][]uint16{{999, 0}})
	want(t, cols, "transition_reason", [][]string{{"", "real"}})
	want(t, cols, "transition_at", [][]time.Time{{
		time.Date(2026, 11, 28, 10, 1, 0, 0, time.UTC), time.Date(2026, 11, 28, 10, 2, 0, 0, time.UTC)}})
}

func columnsByName[T any](t *testing.T, tb *table[T], rows []T) map[string]any {
	t.Helper()
	data, err := buildAll(tb, rows)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	for i, c := range tb.cols {
		m[c.name] = data[i]
	}
	return m
}

func want(t *testing.T, cols map[string]any, name string, v any) {
	t.Helper()
	if got := cols[name]; !reflect.DeepEqual(got, v) {
		t.Errorf("%s = %#v, want %#v", name, got, v)
	}
}

func wantTime(t *testing.T, cols map[string]any, name, msName, sec string, ms uint16) {
	t.Helper()
	at, err := time.Parse(time.RFC3339, sec)
	if err != nil {
		t.Fatal(err)
	}
	got := cols[name].([]time.Time)[0]
	if !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v UTC", name, got, at)
	}
	if gotMS := cols[msName].([]uint16)[0]; gotMS != ms {
		t.Errorf("%s = %d, want %d", msName, gotMS, ms)
	}
}

// fakeConn records the batches a writer prepares.
type fakeConn struct {
	driver.Conn // nil: other methods are not used
	batches     []*fakeBatch
	// prepareErr fails PrepareBatch; columns overrides the server's columns.
	prepareErr error
	sendErr    error
	columns    []string
	closed     int
}

func (c *fakeConn) PrepareBatch(_ context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	if c.prepareErr != nil {
		return nil, c.prepareErr
	}
	names := c.columns
	if names == nil {
		open, end := strings.IndexByte(query, '('), strings.LastIndexByte(query, ')')
		names = strings.Split(query[open+1:end], ", ")
	}
	b := &fakeBatch{query: query, sendErr: c.sendErr}
	for _, n := range names {
		b.cols = append(b.cols, &fakeColumn{name: n})
	}
	c.batches = append(c.batches, b)
	return b, nil
}

func (c *fakeConn) Close() error { c.closed++; return nil }

type fakeBatch struct {
	driver.Batch
	query   string
	cols    []*fakeColumn
	sendErr error
	sent    bool
	aborted bool
}

func (b *fakeBatch) Columns() []column.Interface {
	out := make([]column.Interface, len(b.cols))
	for i, c := range b.cols {
		out[i] = namedColumn{name: c.name}
	}
	return out
}

// namedColumn is a server column as the batch reports it: only its name
// is used.
type namedColumn struct {
	column.Interface
	name string
}

func (c namedColumn) Name() string { return c.name }

func (b *fakeBatch) Column(i int) driver.BatchColumn { return b.cols[i] }
func (b *fakeBatch) Send() error                     { b.sent = true; return b.sendErr }
func (b *fakeBatch) Abort() error                    { b.aborted = true; return nil }

// fakeColumn keeps the data appended to one column of a batch.
type fakeColumn struct {
	name string
	data any
}

func (c *fakeColumn) Append(v any) error {
	c.data = v
	return nil
}
func (c *fakeColumn) AppendRow(any) error { return errors.New("fake: AppendRow not used") }

func fullBatch(t *testing.T) *Batch {
	access, problems := event.DecodeAccess(readTestdata(t, "access/maximal.json"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	dev, problems := event.DecodeDevice(readTestdata(t, "device/maximal.json"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return &Batch{
		Access:      []event.AccessEvent{access, access},
		Device:      []event.DeviceEvent{dev},
		DeadLetters: []event.DeadLetter{{DeadLetterID: "dl-1"}},
		Alerts:      []Versioned[event.Alert]{{Version: 1, Value: event.Alert{AlertID: "a-1"}}},
		Incidents:   []Versioned[event.Incident]{{Version: 2, Value: event.Incident{IncidentID: "i-1"}}},
		Notices:     []Versioned[event.Notice]{{Version: 3, Value: event.Notice{NoticeID: "n-1", Attempts: 2}}},
	}
}

func TestClickHouseWriterWrite(t *testing.T) {
	conn := &fakeConn{}
	w := NewClickHouseWriter(conn, "vigil")
	if err := w.Write(context.Background(), fullBatch(t)); err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, b := range conn.batches {
		if !b.sent || b.aborted {
			t.Errorf("%s: sent %v, aborted %v", b.query, b.sent, b.aborted)
		}
		tables = append(tables, strings.Fields(b.query)[2])
		for _, c := range b.cols {
			if c.data == nil {
				t.Errorf("%s: column %s got no data", b.query, c.name)
			}
		}
	}
	want := []string{"vigil.access_events", "vigil.device_events", "vigil.dead_letters", "vigil.alerts", "vigil.incidents", "vigil.notices"}
	if !slices.Equal(tables, want) {
		t.Errorf("batches into %q, want %q", tables, want)
	}
	if q := conn.batches[0].query; !strings.HasPrefix(q, "INSERT INTO vigil.access_events (event_id, occurred_at, occurred_ms, received_at,") {
		t.Errorf("access query = %q", q)
	}
	if got := conn.batches[0].cols[0].data; !reflect.DeepEqual(got, []string{"01JDX3K9ZQ-emr.7:42", "01JDX3K9ZQ-emr.7:42"}) {
		t.Errorf("event_id column = %q", got)
	}

	// Empty parts are skipped; an empty or nil batch prepares nothing.
	conn.batches = nil
	if err := w.Write(context.Background(), &Batch{Notices: fullBatch(t).Notices}); err != nil {
		t.Fatal(err)
	}
	if len(conn.batches) != 1 || !strings.HasPrefix(conn.batches[0].query, "INSERT INTO vigil.notices (") {
		t.Errorf("notices-only batch prepared %d batches", len(conn.batches))
	}
	conn.batches = nil
	if err := w.Write(context.Background(), &Batch{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if len(conn.batches) != 0 {
		t.Errorf("empty batches prepared %d batches", len(conn.batches))
	}
}

func TestClickHouseWriterErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")

	conn := &fakeConn{prepareErr: boom}
	err := NewClickHouseWriter(conn, "vigil").Write(ctx, fullBatch(t))
	if !errors.Is(err, boom) || err.Error() != "store: insert 2 rows into vigil.access_events: boom" {
		t.Errorf("prepare failure: %v", err)
	}

	conn = &fakeConn{sendErr: boom}
	b := fullBatch(t)
	b.Access = nil
	err = NewClickHouseWriter(conn, "vigil").Write(ctx, b)
	if !errors.Is(err, boom) || err.Error() != "store: insert 1 rows into vigil.device_events: boom" {
		t.Errorf("send failure: %v", err)
	}
	if len(conn.batches) != 1 {
		t.Errorf("Write went on after a failed table: %d batches", len(conn.batches))
	}

	// The server's columns differ from the writer's: refused, batch aborted.
	conn = &fakeConn{columns: []string{"event_id", "occurred_ms"}}
	err = NewClickHouseWriter(conn, "vigil").Write(ctx, fullBatch(t))
	if err == nil || !strings.Contains(err.Error(), "server expects 2 columns") || !conn.batches[0].aborted {
		t.Errorf("column count mismatch: %v", err)
	}
	conn = &fakeConn{columns: slices.Clone(accessEventsTable.columnNames())}
	conn.columns[1], conn.columns[2] = conn.columns[2], conn.columns[1]
	err = NewClickHouseWriter(conn, "vigil").Write(ctx, fullBatch(t))
	if err == nil || !strings.Contains(err.Error(), "column 2 is occurred_ms on the server, occurred_at in the writer") || !conn.batches[0].aborted {
		t.Errorf("column order mismatch: %v", err)
	}

	// Records that cannot be stored fail before a connection is taken.
	bad := []struct {
		name string
		edit func(*Batch)
		msg  string
	}{
		{"time before 1970", func(b *Batch) {
			b.Access[1].OccurredAt = event.NewTimestamp(time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC))
		}, "insert 2 rows into vigil.access_events: record cannot be stored: access event 01JDX3K9ZQ-emr.7:42: occurred_at 1969-12-31T23:59:59Z is outside"},
		{"time after 2106", func(b *Batch) {
			b.Alerts[0].Value.LastSeen = event.NewTimestamp(time.Date(2106, 2, 7, 6, 28, 16, 0, time.UTC))
		}, "insert 1 rows into vigil.alerts: record cannot be stored: alert a-1: last_seen 2106-02-07T06:28:16Z is outside"},
		{"transition time", func(b *Batch) {
			b.Incidents[0].Value.Transitions = []event.Transition{{At: event.NewTimestamp(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC))}}
		}, "incident i-1: transition_at[0] 1900-01-01T00:00:00Z is outside"},
		{"negative count", func(b *Batch) { b.Access[0].RecordCount = -1 }, "access event 01JDX3K9ZQ-emr.7:42: record_count -1 is out of range 0..18446744073709551615"},
		{"attempts above UInt32", func(b *Batch) { b.Notices[0].Value.Attempts = 1 << 32 }, "notice n-1: attempts 4294967296 is out of range 0..4294967295"},
	}
	for _, c := range bad {
		conn := &fakeConn{}
		b := fullBatch(t)
		c.edit(b)
		err := NewClickHouseWriter(conn, "vigil").Write(ctx, b)
		if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error = %v, want ErrInvalidRecord with %q", c.name, err, c.msg)
		}
		for _, pb := range conn.batches {
			if !pb.sent {
				t.Errorf("%s: %s was prepared and not sent", c.name, pb.query)
			}
		}
	}

	// The latest DateTime second is fine.
	b = fullBatch(t)
	b.Alerts[0].Value.LastSeen = event.NewTimestamp(time.Date(2106, 2, 7, 6, 28, 15, 999e6, time.UTC))
	if err := NewClickHouseWriter(&fakeConn{}, "vigil").Write(ctx, b); err != nil {
		t.Errorf("last DateTime second: %v", err)
	}

	// A bad database name fails every Write, naming the name.
	err = NewClickHouseWriter(&fakeConn{}, "vigil; DROP").Write(ctx, fullBatch(t))
	if err == nil || !strings.Contains(err.Error(), `"vigil; DROP" is not a plain identifier`) {
		t.Errorf("bad database name: %v", err)
	}

	// A cancelled context stops before preparing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	conn = &fakeConn{}
	err = NewClickHouseWriter(conn, "vigil").Write(cctx, fullBatch(t))
	if !errors.Is(err, context.Canceled) || len(conn.batches) != 0 {
		t.Errorf("cancelled context: %v, %d batches", err, len(conn.batches))
	}
}

func TestClickHouseWriterClose(t *testing.T) {
	conn := &fakeConn{}
	if err := NewClickHouseWriter(conn, "vigil").Close(); err != nil || conn.closed != 0 {
		t.Errorf("Close without OwnConn: %v, conn closed %d times", err, conn.closed)
	}
	if err := NewClickHouseWriter(conn, "vigil", OwnConn()).Close(); err != nil || conn.closed != 1 {
		t.Errorf("Close with OwnConn: %v, conn closed %d times", err, conn.closed)
	}
}
