//go:build integration

package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vigil-audit/vigil/internal/event"
)

// writerTestDB returns a connection and a migrated database unique to the
// test (see migrateTestDB), dropped when it ends.
func writerTestDB(t *testing.T) (context.Context, driver.Conn, string) {
	t.Helper()
	ctx, conn, db := migrateTestDB(t)
	if _, err := Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	return ctx, conn, db
}

func decodeAccess(t *testing.T, file, id string) event.AccessEvent {
	t.Helper()
	e, problems := event.DecodeAccess(readTestdata(t, file))
	if len(problems) > 0 {
		t.Fatalf("%s: %v", file, problems)
	}
	if e.EventID == "" {
		e.EventID = id
	}
	return e
}

func decodeDevice(t *testing.T, file, id string) event.DeviceEvent {
	t.Helper()
	e, problems := event.DecodeDevice(readTestdata(t, file))
	if len(problems) > 0 {
		t.Fatalf("%s: %v", file, problems)
	}
	if e.EventID == "" {
		e.EventID = id
	}
	return e
}

func mustTS(s string) event.Timestamp {
	t, err := event.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return t
}

// everyKindBatch is a batch with every kind of record, every field set in
// at least one record, and records with absent optional parts.
func everyKindBatch(t *testing.T) *Batch {
	noLocation := decodeDevice(t, "device/maximal.json", "")
	noLocation.EventID = "dev-evt-2"
	noLocation.Location = nil
	noLocation.Attrs = nil
	return &Batch{
		Access: []event.AccessEvent{
			decodeAccess(t, "access/maximal.json", ""),
			decodeAccess(t, "access/minimal.json", "acc-minimal"),
			decodeAccess(t, "access/login.json", "acc-login"),
		},
		Device: []event.DeviceEvent{
			decodeDevice(t, "device/maximal.json", ""),
			noLocation,
			decodeDevice(t, "device/null_island.json", "dev-null-island"),
		},
		DeadLetters: []event.DeadLetter{{
			DeadLetterID: "dl-1", ReceivedAt: mustTS("2026-11-28T09:30:00.007Z"), Source: "emr-prod",
			Receiver: "http", Kind: "access", Reason: event.ReasonInvalidEvent,
			Problems: []string{"/actor/type: unknown value", "/occurred_at: not RFC 3339"}, Location: "line 3",
			EventID: "e-9", Raw: `{"actor":{"type":"robot"}}`, RawBytes: 1 << 20, Truncated: true,
		}},
		Alerts: []Versioned[event.Alert]{{Version: 17, Value: event.Alert{
			AlertID: "al-1", RuleID: "bulk_export", RuleTitle: "Bulk export of patient records", Severity: event.SeverityHigh,
			GroupKey: "hosp-1/staff-42", WindowStart: mustTS("2026-11-28T09:00:00Z"), WindowEnd: mustTS("2026-11-28T10:00:00Z"),
			FirstSeen: mustTS("2026-11-28T09:01:02.003Z"), LastSeen: mustTS("2026-11-28T09:59:59.999Z"), Count: 12,
			DistinctSubjects: 9, Categories: []event.Category{event.CategoryHealth, event.CategoryMinorData},
			Evidence: []string{"e1", "e2"}, Explanation: "staff-42 exported 1200 records", ActorID: "staff-42",
			DeviceID: "ws-0042", Org: "hosp-1", Status: event.AlertOpen,
		}}},
		Incidents: []Versioned[event.Incident]{{Version: 23, Value: event.Incident{
			IncidentID: "inc-1", State: event.IncidentConfirmed, DetectedAt: mustTS("2026-11-28T10:00:00.001Z"),
			AwareAt: mustTS("2026-11-28T11:00:00.002Z"), AlertIDs: []string{"al-1"}, ActorID: "staff-42", Org: "hosp-1",
			Severity: event.SeverityCritical,
			Transitions: []event.Transition{
				{From: event.IncidentDetected, To: event.IncidentTriage, At: mustTS("2026-11-28T10:30:00.500Z"), By: "op-1"},
				{From: event.IncidentTriage, To: event.IncidentConfirmed, At: mustTS("2026-11-28T11:00:00.002Z"), By: "op-2", Reason: "confirmed by DPO"},
			},
			Scope: event.Scope{People: 1200, Minors: 30, Categories: []event.Category{event.CategoryHealth},
				Jurisdictions: []string{"pipl", "gdpr"}},
		}}},
		Notices: []Versioned[event.Notice]{{Version: 31, Value: event.Notice{
			NoticeID: "n-1", IncidentID: "inc-1", Obligation: "pipl.art57.individual", Regime: "pipl",
			RecipientToken: "tok-pt-9", RecipientKind: event.RecipientGuardian, Channel: event.ChannelEmail,
			Language: "zh-CN", DueAt: mustTS("2026-11-30T11:00:00.250Z"), State: event.NoticeSent, Attempts: 2,
			SentAt: mustTS("2026-11-28T12:00:00.750Z"), MessageID: "msg-1", LastError: "first attempt: 451 try later",
		}}},
	}
}

// readTable reads every column the writer writes from table tb, ordered by
// the record id, and returns the rows as the writer's column values would
// hold them: value i of row r is element r of column i's data.
func readTable[T any](t *testing.T, ctx context.Context, conn driver.Conn, db string, tb *table[T], idCol, final string) [][]any {
	t.Helper()
	var zero T
	proto, err := buildAll(tb, []T{zero})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT "+strings.Join(tb.columnNames(), ", ")+" FROM "+db+"."+tb.name+" "+final+" ORDER BY "+idCol)
	if err != nil {
		t.Fatalf("read %s: %v", tb.name, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		ptrs := make([]any, len(proto))
		for i, p := range proto {
			ptrs[i] = reflect.New(reflect.TypeOf(p).Elem()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", tb.name, err)
		}
		row := make([]any, len(ptrs))
		for i, p := range ptrs {
			row[i] = reflect.ValueOf(p).Elem().Interface()
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRows returns what readTable should find for records (sorted by id).
func wantRows[T any](t *testing.T, tb *table[T], records []T) [][]any {
	t.Helper()
	data, err := buildAll(tb, records)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]any, len(records))
	for r := range records {
		for _, col := range data {
			out[r] = append(out[r], reflect.ValueOf(col).Index(r).Interface())
		}
	}
	return out
}

// normalize turns a value read back or written into a form DeepEqual can
// compare: times as UTC RFC 3339 (the server's time.Location differs from
// time.UTC), pointers as their value or nil.
func normalize(v any) any {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return nil
	case rv.Type() == reflect.TypeFor[time.Time]():
		return v.(time.Time).UTC().Format(time.RFC3339Nano)
	case rv.Kind() == reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return normalize(rv.Elem().Interface())
	case rv.Kind() == reflect.Slice:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out
	}
	return v
}

func compareTable[T any](t *testing.T, ctx context.Context, conn driver.Conn, db string, tb *table[T], idCol string, records []T) {
	t.Helper()
	got := readTable(t, ctx, conn, db, tb, idCol, "")
	want := wantRows(t, tb, records)
	if len(got) != len(want) {
		t.Errorf("%s: read %d rows, want %d", tb.name, len(got), len(want))
		return
	}
	names := tb.columnNames()
	for r := range want {
		for i := range want[r] {
			if g, w := normalize(got[r][i]), normalize(want[r][i]); !reflect.DeepEqual(g, w) {
				t.Errorf("%s row %d (%v): %s = %#v, want %#v", tb.name, r, got[r][0], names[i], g, w)
			}
		}
	}
}

// TestClickHouseWriterRoundTripIntegration writes every kind of record,
// reads each table back column by column, then writes the batch again and
// checks that deduplicating queries still see one row per id.
func TestClickHouseWriterRoundTripIntegration(t *testing.T) {
	ctx, conn, db := writerTestDB(t)
	w := NewClickHouseWriter(conn, db)
	t.Cleanup(func() { _ = w.Close() })
	b := everyKindBatch(t)
	if err := w.Write(ctx, b); err != nil {
		t.Fatal(err)
	}

	// Column by column, in id order.
	access := slices.SortedFunc(slices.Values(b.Access), func(a, b event.AccessEvent) int { return strings.Compare(a.EventID, b.EventID) })
	compareTable(t, ctx, conn, db, accessEventsTable, "event_id", access)
	compareTable(t, ctx, conn, db, deviceEventsTable, "event_id", b.Device)
	compareTable(t, ctx, conn, db, deadLettersTable, "dead_letter_id", b.DeadLetters)
	compareTable(t, ctx, conn, db, alertsTable, "alert_id", b.Alerts)
	compareTable(t, ctx, conn, db, incidentsTable, "incident_id", b.Incidents)
	compareTable(t, ctx, conn, db, noticesTable, "notice_id", b.Notices)

	// And against the source event itself, field by field, for the maximal
	// access and device events: what is read back is the event.
	if got := readAccessEvent(t, ctx, conn, db, b.Access[0].EventID); !reflect.DeepEqual(got, b.Access[0]) {
		t.Errorf("access event read back:\n%#v\nwritten:\n%#v", got, b.Access[0])
	}
	if got := readDeviceEvent(t, ctx, conn, db, b.Device[0].EventID); !reflect.DeepEqual(got, b.Device[0]) {
		t.Errorf("device event read back:\n%#v\nwritten:\n%#v", got, b.Device[0])
	}

	// Redelivery: the same batch again, and a newer state of the alert.
	if err := w.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	newer := b.Alerts[0]
	newer.Version = 40
	newer.Value.Status = event.AlertEscalated
	if err := w.Write(ctx, &Batch{Alerts: []Versioned[event.Alert]{newer}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table, id string
		want      uint64
	}{
		{"access_events", "event_id", 3},
		{"device_events", "event_id", 3},
		{"dead_letters", "dead_letter_id", 1},
		{"alerts", "alert_id", 1},
		{"incidents", "incident_id", 1},
		{"notices", "notice_id", 1},
		{"access_by_subject", "event_id", 2}, // the login has no subject
		{"access_by_actor", "event_id", 3},
		{"incident_transitions", "incident_id, seq", 2},
		{"deliveries", "notice_id, attempt", 1},
	} {
		var raw, final, limited uint64
		q := func(sql string, dst *uint64) {
			if err := conn.QueryRow(ctx, sql).Scan(dst); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		q("SELECT count() FROM "+db+"."+c.table, &raw)
		q("SELECT count() FROM "+db+"."+c.table+" FINAL", &final)
		q("SELECT count() FROM (SELECT 1 FROM "+db+"."+c.table+" LIMIT 1 BY "+c.id+")", &limited)
		t.Logf("%s: %d rows stored, %d with FINAL, %d with LIMIT 1 BY", c.table, raw, final, limited)
		if final != c.want || limited != c.want {
			t.Errorf("%s after redelivery: FINAL %d rows, LIMIT 1 BY %d rows; want %d", c.table, final, limited, c.want)
		}
	}
	var status string
	var version uint64
	if err := conn.QueryRow(ctx, "SELECT status, version FROM "+db+".alerts FINAL WHERE alert_id = 'al-1'").Scan(&status, &version); err != nil {
		t.Fatal(err)
	}
	if status != "escalated" || version != 40 {
		t.Errorf("alert al-1 with FINAL: status %s version %d, want the newer state (escalated, 40)", status, version)
	}

	// The views got the access rows with their own columns.
	maxEv := b.Access[0]
	var (
		subject, actor, evID string
		at                   time.Time
		ms                   uint16
		minor                uint8
		cats                 []string
	)
	if err := conn.QueryRow(ctx, "SELECT subject_id, actor_id, event_id, occurred_at, occurred_ms, subject_minor, categories FROM "+
		db+".access_by_subject FINAL WHERE subject_id = ? AND event_id = ?", maxEv.Subject.ID, maxEv.EventID).
		Scan(&subject, &actor, &evID, &at, &ms, &minor, &cats); err != nil {
		t.Fatalf("access_by_subject: %v", err)
	}
	if actor != maxEv.Actor.ID || !at.Equal(maxEv.OccurredAt.Truncate(time.Second)) || int(ms) != maxEv.OccurredAt.Nanosecond()/1e6 ||
		minor != 1 || len(cats) != len(maxEv.Categories) {
		t.Errorf("access_by_subject row = %s %s %s %v.%03d minor %d %q", subject, actor, evID, at, ms, minor, cats)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".access_by_actor FINAL WHERE org = ? AND actor_id = ?",
		maxEv.Org, maxEv.Actor.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("access_by_actor rows of %s/%s = %d, want 2 (the maximal and minimal events)", maxEv.Org, maxEv.Actor.ID, n)
	}
}

// readAccessEvent rebuilds an AccessEvent from its access_events row.
func readAccessEvent(t *testing.T, ctx context.Context, conn driver.Conn, db, id string) event.AccessEvent {
	t.Helper()
	var (
		e                       event.AccessEvent
		occ, rec                time.Time
		occMS, recMS            uint16
		minor, vip, employee    uint8
		cats, keys, values      []string
		recordCount             uint64
		actorType, action, subj string
		rel, outcome            string
	)
	err := conn.QueryRow(ctx, "SELECT "+strings.Join(accessEventsTable.columnNames(), ", ")+" FROM "+db+".access_events WHERE event_id = ?", id).Scan(
		&e.EventID, &occ, &occMS, &rec, &recMS, &e.Source, &e.Org, &e.Actor.ID, &actorType, &e.Actor.Role,
		&e.Actor.Department, &action, &e.Subject.ID, &subj, &minor, &vip, &employee, &cats, &recordCount,
		&e.Purpose, &rel, &outcome, &e.Client.IP, &e.Client.UserAgent, &e.Client.DeviceID, &e.Client.Geo.Country,
		&e.Client.Geo.Region, &e.Client.Geo.City, &e.Client.Geo.Lat, &e.Client.Geo.Lon, &e.SessionID, &e.RequestID,
		&keys, &values)
	if err != nil {
		t.Fatalf("read access event %s: %v", id, err)
	}
	e.OccurredAt = joinTime(occ, occMS)
	e.ReceivedAt = joinTime(rec, recMS)
	e.Actor.Type, e.Action, e.Subject.Type = event.ActorType(actorType), event.Action(action), event.SubjectType(subj)
	e.Subject.Minor, e.Subject.VIP, e.Subject.Employee = minor == 1, vip == 1, employee == 1
	for _, c := range cats {
		e.Categories = append(e.Categories, event.Category(c))
	}
	e.RecordCount = int64(recordCount)
	e.Relationship, e.Outcome = event.Relationship(rel), event.Outcome(outcome)
	e.Attrs = joinAttrs(t, keys, values)
	return e
}

// readDeviceEvent rebuilds a DeviceEvent from its device_events row.
func readDeviceEvent(t *testing.T, ctx context.Context, conn driver.Conn, db, id string) event.DeviceEvent {
	t.Helper()
	var (
		e            event.DeviceEvent
		occ, rec     time.Time
		occMS, recMS uint16
		kind, out    string
		sig          [9]uint8
		lat, lon     *float64
		acc          float64
		keys, values []string
	)
	err := conn.QueryRow(ctx, "SELECT "+strings.Join(deviceEventsTable.columnNames(), ", ")+" FROM "+db+".device_events WHERE event_id = ?", id).Scan(
		&e.EventID, &occ, &occMS, &rec, &recMS, &e.Source, &e.Org, &e.AccountID, &e.DeviceID, &kind,
		&e.Device.Model, &e.Device.OS, &e.Device.OSVersion, &e.Device.AppVersion,
		&sig[0], &sig[1], &sig[2], &sig[3], &sig[4], &sig[5], &sig[6], &sig[7], &sig[8],
		&e.Network.IP, &e.Network.Carrier, &e.Network.WiFiBSSID, &lat, &lon, &acc, &out, &keys, &values)
	if err != nil {
		t.Fatalf("read device event %s: %v", id, err)
	}
	e.OccurredAt = joinTime(occ, occMS)
	e.ReceivedAt = joinTime(rec, recMS)
	e.Kind, e.Outcome = event.DeviceKind(kind), event.Outcome(out)
	s := &e.Signals
	for i, p := range []*bool{&s.Emulator, &s.Rooted, &s.HookFramework, &s.Debugger, &s.AppTampered,
		&s.ProxyOrVPN, &s.MultiOpen, &s.LocationSpoofed, &s.RemoteControl} {
		*p = sig[i] == 1
	}
	if lat != nil {
		e.Location = &event.Location{Lat: *lat, Lon: *lon, AccuracyM: acc}
	}
	e.Attrs = joinAttrs(t, keys, values)
	return e
}

func joinTime(sec time.Time, ms uint16) event.Timestamp {
	if sec.Unix() == 0 && ms == 0 {
		return event.Timestamp{}
	}
	return event.NewTimestamp(sec.Add(time.Duration(ms) * time.Millisecond))
}

func joinAttrs(t *testing.T, keys, values []string) map[string]string {
	t.Helper()
	if len(keys) != len(values) {
		t.Fatalf("attr_keys has %d entries, attr_values %d", len(keys), len(values))
	}
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = values[i]
	}
	return m
}

// TestClickHouseWriterThroughputIntegration writes 100,000 access events in
// one batch and logs the rate.
func TestClickHouseWriterThroughputIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ctx, conn, db := writerTestDB(t)
	w := NewClickHouseWriter(conn, db)
	base := decodeAccess(t, "access/maximal.json", "")
	const n = 100_000
	evs := make([]event.AccessEvent, n)
	start := base.OccurredAt.Time
	for i := range evs {
		e := base
		e.EventID = fmt.Sprintf("evt-%08d", i)
		e.OccurredAt = event.NewTimestamp(start.Add(time.Duration(i) * 37 * time.Millisecond))
		e.Subject.ID = fmt.Sprintf("pt-%d", i%5000)
		e.Actor.ID = fmt.Sprintf("staff-%d", i%300)
		evs[i] = e
	}
	b := &Batch{Access: evs}
	begin := time.Now()
	if err := w.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	t.Logf("wrote %d access events in %v: %.0f rows/s (one batch, views access_by_subject and access_by_actor included)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	var got uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".access_events").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("access_events holds %d rows, want %d", got, n)
	}
}
