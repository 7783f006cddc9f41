//go:build integration

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vigil-audit/vigil/internal/event"
)

// readerTables are the tables ClickHouseStore reads, with the id that
// names one record in each.
var readerTables = []struct{ table, id string }{
	{"access_events", "event_id"},
	{"device_events", "event_id"},
	{"dead_letters", "dead_letter_id"},
	{"alerts", "alert_id"},
	{"incidents", "incident_id"},
	{"notices", "notice_id"},
	{"access_by_subject", "event_id"},
	{"access_by_actor", "event_id"},
}

// readerTestStore returns a store over a fresh migrated database whose
// tables do not merge parts until startMerges is called, so that every
// copy of a record written twice stays a separate row: the queries, not
// the engine, must then count it once.
func readerTestStore(t *testing.T) (ctx context.Context, conn driver.Conn, db string, s *ClickHouseStore) {
	t.Helper()
	ctx, conn, db = writerTestDB(t)
	for _, tb := range readerTables {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+db+"."+tb.table); err != nil {
			t.Fatalf("SYSTEM STOP MERGES %s: %v", tb.table, err)
		}
	}
	s = NewClickHouseStore(conn, db)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ctx, conn, db, s
}

// startMerges lets the tables merge again and merges every one completely
// (OPTIMIZE … FINAL), so each holds one row per record.
func startMerges(t *testing.T, ctx context.Context, conn driver.Conn, db string) {
	t.Helper()
	for _, tb := range readerTables {
		for _, stmt := range []string{"SYSTEM START MERGES " + db + "." + tb.table, "OPTIMIZE TABLE " + db + "." + tb.table + " FINAL"} {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
}

// rowCounts returns, per table, the rows stored and the distinct records.
func rowCounts(t *testing.T, ctx context.Context, conn driver.Conn, db string) map[string][2]uint64 {
	t.Helper()
	out := map[string][2]uint64{}
	for _, tb := range readerTables {
		var rows, ids uint64
		if err := conn.QueryRow(ctx, "SELECT count(), uniqExact("+tb.id+") FROM "+db+"."+tb.table).Scan(&rows, &ids); err != nil {
			t.Fatalf("count %s: %v", tb.table, err)
		}
		out[tb.table] = [2]uint64{rows, ids}
	}
	return out
}

// waitRows polls (bounded) until table holds want rows: the materialized
// views fill access_by_subject and access_by_actor after the INSERT into
// access_events commits.
func waitRows(t *testing.T, ctx context.Context, conn driver.Conn, db, table string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d rows after 15 s, want %d", table, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func utc(s string) time.Time { return mustTS(s).Time }

// readerAccess is an access event of the reader tests: org h1, received
// 250 ms after it occurred.
func readerAccess(id, occurred, org, actor, subject string, action event.Action, outcome event.Outcome, records int64, cats ...event.Category) event.AccessEvent {
	occ := mustTS(occurred)
	e := event.AccessEvent{
		EventID: id, OccurredAt: occ, ReceivedAt: event.NewTimestamp(occ.Add(250 * time.Millisecond)),
		Source: "ehr", Org: org, Actor: event.Actor{ID: actor, Type: event.ActorDoctor, Role: "attending", Department: "cardiology"},
		Action: action, Categories: cats, RecordCount: records, Purpose: "treatment",
		Relationship: event.RelationshipTrue, Outcome: outcome, SessionID: "sess-1", RequestID: "req-" + id,
	}
	if subject != "" {
		e.Subject = event.Subject{ID: subject, Type: event.SubjectPatient, Minor: subject == "s2"}
	}
	return e
}

// readerBatches returns what TestClickHouseReaderIntegration writes, in
// order: every record, then every event and dead letter again
// (redelivery) with older versions of the alert, the incident and a notice
// written after their newer ones. e1 is also twice in the first batch.
func readerBatches() []*Batch {
	const read, export, login = event.ActionRead, event.ActionExport, event.ActionLogin
	const ok, denied = event.OutcomeSuccess, event.OutcomeDenied
	access := []event.AccessEvent{
		readerAccess("e1", "2026-05-31T23:59:59.999Z", "h1", "a1", "s1", read, ok, 5, event.CategoryHealth, event.CategoryContact, event.CategoryHealth),
		readerAccess("e2", "2026-06-01T00:00:00.000Z", "h1", "a1", "s1", export, denied, 1, event.CategoryPrescription),
		readerAccess("e3", "2026-06-01T00:00:00.000Z", "h1", "a1", "s2", read, ok, 2, event.CategoryContact),
		readerAccess("e4", "2026-06-01T00:10:00.000Z", "h1", "a1", "", login, ok, 0),
		readerAccess("e5", "2026-06-01T00:30:00.500Z", "h1", "a2", "s1", read, ok, 1, event.CategoryMinorData),
		readerAccess("e6", "2026-06-01T01:00:00.000Z", "h2", "a1", "s1", read, ok, 3, event.CategoryHealth),
		readerAccess("e7", "2026-06-01T00:40:00.000Z", "h1", "a3", "s3", read, ok, 1, event.CategoryContact),
		readerAccess("e8", "2026-06-01T00:41:00.000Z", "h1", "a3", "s4", read, ok, 1, event.CategoryContact, event.CategoryDeviceID),
	}
	access[0].ReceivedAt = mustTS("2026-06-01T00:00:00.249Z")
	device := []event.DeviceEvent{{
		EventID: "d1", OccurredAt: mustTS("2026-06-01T00:00:10Z"), ReceivedAt: mustTS("2026-06-01T00:00:30Z"),
		Source: "sdk", Org: "h1", AccountID: "acct-1", DeviceID: "dev-1", Kind: event.KindLogin, Outcome: ok,
	}}
	dead := func(id, received, source, reason string, size int) event.DeadLetter {
		return event.DeadLetter{DeadLetterID: id, ReceivedAt: mustTS(received), Source: source, Receiver: "http",
			Kind: "access", Reason: reason, Problems: []string{"/actor: missing"}, Raw: "{}", RawBytes: size}
	}
	deadLetters := []event.DeadLetter{
		dead("dl1", "2026-06-01T00:01:00Z", "ehr", event.ReasonInvalidEvent, 10),
		dead("dl2", "2026-06-01T00:02:00Z", "ehr", event.ReasonInvalidEvent, 20),
		dead("dl3", "2026-06-01T00:03:00Z", "", event.ReasonNotJSON, 5),
	}
	alert := func(version uint64, window string, sev event.Severity, status event.AlertStatus, count int64) Versioned[event.Alert] {
		ws := utc(window)
		return Versioned[event.Alert]{Version: version, Value: event.Alert{
			AlertID: event.AlertID("r1", "h1/a1", ws), RuleID: "r1", RuleTitle: "rule one", Severity: sev, GroupKey: "h1/a1",
			WindowStart: event.NewTimestamp(ws), WindowEnd: event.NewTimestamp(ws.Add(5 * time.Minute)),
			FirstSeen: event.NewTimestamp(ws), LastSeen: event.NewTimestamp(ws), Count: count, DistinctSubjects: 1,
			Evidence: []string{"e1"}, Explanation: "x", ActorID: "a1", Org: "h1", Status: status,
		}}
	}
	tr := func(from, to event.IncidentState, at string) event.Transition {
		return event.Transition{From: from, To: to, At: mustTS(at), By: "op"}
	}
	inc1 := func(version uint64, state event.IncidentState, aware string, ts ...event.Transition) Versioned[event.Incident] {
		i := event.Incident{IncidentID: "inc1", State: state, DetectedAt: mustTS("2026-06-01T00:20:00Z"),
			AlertIDs: []string{event.AlertID("r1", "h1/a1", utc("2026-06-01T00:00:00Z"))}, ActorID: "a1", Org: "h1",
			Severity: event.SeverityHigh, Transitions: ts, Scope: event.Scope{People: 3, Minors: 1}}
		if aware != "" {
			i.AwareAt = mustTS(aware)
		}
		return Versioned[event.Incident]{Version: version, Value: i}
	}
	inc2 := Versioned[event.Incident]{Version: 4, Value: event.Incident{IncidentID: "inc2", State: event.IncidentDetected,
		DetectedAt: mustTS("2026-06-01T00:20:00Z"), AlertIDs: []string{"al-x"}, Org: "h1", Severity: event.SeverityLow,
		Transitions: []event.Transition{tr("", event.IncidentDetected, "2026-06-01T00:20:00Z")}}}
	notice := func(version uint64, incident, recipient string, ch event.Channel, due string, state event.NoticeState, attempts int) Versioned[event.Notice] {
		return Versioned[event.Notice]{Version: version, Value: event.Notice{
			NoticeID: event.NoticeID(incident, recipient, "pipl"), IncidentID: incident, Obligation: "pipl", Regime: "pipl",
			RecipientToken: recipient, RecipientKind: event.RecipientIndividual, Channel: ch, Language: "zh-CN",
			DueAt: mustTS(due), State: state, Attempts: attempts,
		}}
	}
	first := &Batch{
		Access:      append(slices.Clone(access), access[0]),
		Device:      device,
		DeadLetters: deadLetters,
		Alerts: []Versioned[event.Alert]{
			alert(5, "2026-06-01T00:00:00Z", event.SeverityHigh, event.AlertEscalated, 7),
			alert(1, "2026-06-01T00:05:00Z", event.SeverityHigh, event.AlertOpen, 1),
		},
		Incidents: []Versioned[event.Incident]{
			inc1(10, event.IncidentConfirmed, "2026-06-01T00:25:00Z",
				tr(event.IncidentDetected, event.IncidentTriage, "2026-06-01T00:21:00Z"),
				tr(event.IncidentTriage, event.IncidentConfirmed, "2026-06-01T00:25:00Z")),
			inc2,
		},
		Notices: []Versioned[event.Notice]{
			notice(20, "inc1", "t1", event.ChannelEmail, "2026-06-01T01:00:00Z", event.NoticeSending, 1),
			notice(21, "inc1", "t2", event.ChannelSMS, "2026-06-01T00:50:00Z", event.NoticeSent, 1),
			notice(22, "inc1", "t3", event.ChannelEmail, "2026-06-01T00:40:00Z", event.NoticeFailed, 3),
			notice(23, "inc2", "t4", event.ChannelLetter, "2026-06-01T00:44:59.999Z", event.NoticePlanned, 0),
		},
	}
	again := &Batch{
		Access:      access,
		Device:      device,
		DeadLetters: deadLetters,
		Alerts:      []Versioned[event.Alert]{alert(3, "2026-06-01T00:00:00Z", event.SeverityLow, event.AlertOpen, 2)},
		Incidents: []Versioned[event.Incident]{
			inc1(8, event.IncidentDetected, "", tr("", event.IncidentDetected, "2026-06-01T00:20:00Z")),
		},
		Notices: []Versioned[event.Notice]{
			notice(19, "inc1", "t1", event.ChannelSMS, "2026-06-01T02:00:00Z", event.NoticePlanned, 0),
			notice(21, "inc1", "t2", event.ChannelSMS, "2026-06-01T00:50:00Z", event.NoticeSent, 1),
		},
	}
	return []*Batch{first, again}
}

// readerCase is one question to the store with its expected answer.
type readerCase struct {
	name string
	ask  func(ctx context.Context, s *ClickHouseStore) (any, error)
	want any
}

// collectRows runs a streaming method and returns its rows, never nil.
func collectRows[R any](stream func(fn func(*R) error) error) (any, error) {
	rows := []R{}
	err := stream(func(r *R) error {
		rows = append(rows, *r)
		return nil
	})
	return rows, err
}

// readerCases are the questions of TestClickHouseReaderIntegration. Every
// answer counts each record once (e1 is stored three times, every other
// event twice, the alert, incident and a notice in an older version
// written after the newer one) and comes in the documented order.
func readerCases() []readerCase {
	all := TimeRange{From: utc("2026-05-31T00:00:00Z"), To: utc("2026-06-02T00:00:00Z")}
	hour0 := TimeRange{From: utc("2026-06-01T00:00:00Z"), To: utc("2026-06-01T01:00:00Z")}
	now := utc("2026-06-01T00:45:00Z")
	sa := func(id, at, org, actor, action, outcome string, records int64, cats ...string) SubjectAccess {
		return SubjectAccess{EventID: id, OccurredAt: utc(at), Org: org, Source: "ehr", ActorID: actor, ActorType: "doctor",
			ActorRole: "attending", ActorDepartment: "cardiology", Action: action, SubjectType: "patient",
			Categories: append([]string{}, cats...), RecordCount: records, Purpose: "treatment", Relationship: "true", Outcome: outcome}
	}
	s1e1 := sa("e1", "2026-05-31T23:59:59.999Z", "h1", "a1", "read", "success", 5, "contact", "health")
	s1e2 := sa("e2", "2026-06-01T00:00:00.000Z", "h1", "a1", "export", "denied", 1, "prescription")
	s1e5 := sa("e5", "2026-06-01T00:30:00.500Z", "h1", "a2", "read", "success", 1, "minor_data")
	s1e6 := sa("e6", "2026-06-01T01:00:00.000Z", "h2", "a1", "read", "success", 3, "health")
	aa := func(id, at, action, subject, outcome string, records int64, cats ...string) ActorAccess {
		a := ActorAccess{EventID: id, OccurredAt: utc(at), ActorType: "doctor", ActorRole: "attending", ActorDepartment: "cardiology",
			Action: action, SubjectID: subject, Categories: append([]string{}, cats...), RecordCount: records,
			Relationship: "true", Outcome: outcome}
		if subject != "" {
			a.SubjectType, a.SubjectMinor = "patient", subject == "s2"
		}
		return a
	}
	subject := func(id string, r TimeRange) SubjectQuery { return SubjectQuery{SubjectID: id, TimeRange: r} }
	actor := func(org, id string, r TimeRange) ActorQuery { return ActorQuery{Org: org, ActorID: id, TimeRange: r} }
	history := func(q SubjectQuery) func(ctx context.Context, s *ClickHouseStore) (any, error) {
		return func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return collectRows(func(fn func(*SubjectAccess) error) error { return s.SubjectHistory(ctx, q, fn) })
		}
	}
	ta := map[string]TopActor{
		"h1/a1": {Org: "h1", ActorID: "a1", Events: 4, Subjects: 2, SensitiveEvents: 2, SensitiveSubjects: 1, Records: 8},
		"h1/a2": {Org: "h1", ActorID: "a2", Events: 1, Subjects: 1, SensitiveEvents: 1, SensitiveSubjects: 1, Records: 1},
		"h1/a3": {Org: "h1", ActorID: "a3", Events: 2, Subjects: 2, SensitiveEvents: 0, SensitiveSubjects: 0, Records: 2},
		"h2/a1": {Org: "h2", ActorID: "a1", Events: 1, Subjects: 1, SensitiveEvents: 1, SensitiveSubjects: 1, Records: 3},
	}
	inc1 := IncidentSummary{IncidentID: "inc1", State: "confirmed", Severity: "high", Org: "h1", ActorID: "a1",
		DetectedAt: utc("2026-06-01T00:20:00Z"), AwareAt: utc("2026-06-01T00:25:00Z"), Alerts: 1, ScopePeople: 3, ScopeMinors: 1,
		Transitions: 2, OpenNotices: 2, NextDeadline: utc("2026-06-01T00:40:00Z"), Overdue: 1}
	inc2 := IncidentSummary{IncidentID: "inc2", State: "detected", Severity: "low", Org: "h1",
		DetectedAt: utc("2026-06-01T00:20:00Z"), Alerts: 1, Transitions: 1, OpenNotices: 1,
		NextDeadline: utc("2026-06-01T00:44:59.999Z"), Overdue: 1}
	ingest := func(minute, source, kind string, n int64) IngestMinute {
		return IngestMinute{Minute: utc(minute), Source: source, Kind: kind, Events: n}
	}
	return []readerCase{
		{"SubjectHistory/s1 across months", history(subject("s1", all)), []SubjectAccess{s1e1, s1e2, s1e5, s1e6}},
		{"SubjectHistory/s1 from the month boundary", history(subject("s1", hour0)), []SubjectAccess{s1e2, s1e5}},
		{"SubjectHistory/s1 to one ms before e5", history(subject("s1", TimeRange{From: hour0.From, To: utc("2026-06-01T00:30:00.500Z")})),
			[]SubjectAccess{s1e2}},
		{"SubjectHistory/s1 to e5's ms plus one", history(subject("s1", TimeRange{From: hour0.From, To: utc("2026-06-01T00:30:00.501Z")})),
			[]SubjectAccess{s1e2, s1e5}},
		// Bounds are read at millisecond precision: [.0005, .0019) is
		// [.000, .001), and [.0005, .0009) is empty.
		{"SubjectHistory/s1 sub-ms bounds", history(subject("s1", TimeRange{From: hour0.From.Add(500 * time.Microsecond), To: hour0.From.Add(1999 * time.Microsecond)})),
			[]SubjectAccess{s1e2}},
		{"SubjectHistory/s1 within one ms", history(subject("s1", TimeRange{From: hour0.From.Add(500 * time.Microsecond), To: hour0.From.Add(900 * time.Microsecond)})),
			[]SubjectAccess{}},
		{"SubjectHistory/s1 from 1900 to 2200", history(subject("s1", TimeRange{From: utc("1900-01-01T00:00:00Z"), To: utc("2200-01-01T00:00:00Z")})),
			[]SubjectAccess{s1e1, s1e2, s1e5, s1e6}},
		{"SubjectHistory/before 1970", history(subject("s1", TimeRange{From: utc("1900-01-01T00:00:00Z"), To: utc("1960-01-01T00:00:00Z")})),
			[]SubjectAccess{}},
		{"SubjectHistory/unknown subject", history(subject("nobody", all)), []SubjectAccess{}},
		{"CountSubjectHistory/s1 across months", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.CountSubjectHistory(ctx, subject("s1", all))
		}, int64(4)},
		{"CountSubjectHistory/s1 from the month boundary", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.CountSubjectHistory(ctx, subject("s1", hour0))
		}, int64(2)},
		{"ActorHistory/h1 a1 with a login and a tie", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return collectRows(func(fn func(*ActorAccess) error) error { return s.ActorHistory(ctx, actor("h1", "a1", all), fn) })
		}, []ActorAccess{
			aa("e1", "2026-05-31T23:59:59.999Z", "read", "s1", "success", 5, "contact", "health"),
			aa("e2", "2026-06-01T00:00:00.000Z", "export", "s1", "denied", 1, "prescription"),
			aa("e3", "2026-06-01T00:00:00.000Z", "read", "s2", "success", 2, "contact"),
			aa("e4", "2026-06-01T00:10:00.000Z", "login", "", "success", 0),
		}},
		{"ActorHistory/h2 a1", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return collectRows(func(fn func(*ActorAccess) error) error { return s.ActorHistory(ctx, actor("h2", "a1", all), fn) })
		}, []ActorAccess{aa("e6", "2026-06-01T01:00:00.000Z", "read", "s1", "success", 3, "health")}},
		{"CountActorHistory/h1 a1", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.CountActorHistory(ctx, actor("h1", "a1", all))
		}, int64(4)},
		{"ActorActivity/h1 a1", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.ActorActivity(ctx, actor("h1", "a1", all))
		}, []ActorHour{
			{Hour: utc("2026-05-31T23:00:00Z"), Category: "contact", Events: 1, Subjects: 1, Records: 5},
			{Hour: utc("2026-05-31T23:00:00Z"), Category: "health", Events: 1, Subjects: 1, Records: 5},
			{Hour: utc("2026-06-01T00:00:00Z"), Category: "contact", Events: 1, Subjects: 1, Records: 2},
			{Hour: utc("2026-06-01T00:00:00Z"), Category: "prescription", Events: 1, Subjects: 1, Records: 1, Denied: 1},
		}},
		{"TopActors/by subjects", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.TopActors(ctx, TopActorsQuery{TimeRange: all, By: BySubjects, Limit: 10})
		}, []TopActor{ta["h1/a1"], ta["h1/a3"], ta["h1/a2"], ta["h2/a1"]}},
		{"TopActors/by sensitive", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.TopActors(ctx, TopActorsQuery{TimeRange: all, By: BySensitive, Limit: 10})
		}, []TopActor{ta["h1/a1"], ta["h1/a2"], ta["h2/a1"], ta["h1/a3"]}},
		{"TopActors/one org limit 1", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.TopActors(ctx, TopActorsQuery{TimeRange: all, Org: "h2", By: BySubjects, Limit: 1})
		}, []TopActor{ta["h2/a1"]}},
		{"AlertCounts/hourly", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.AlertCounts(ctx, AlertCountsQuery{TimeRange: hour0, Bucket: time.Hour})
		}, []AlertCount{{Bucket: utc("2026-06-01T00:00:00Z"), RuleID: "r1", Severity: "high", Alerts: 2, Open: 1, Events: 8}}},
		{"AlertCounts/five minutes", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.AlertCounts(ctx, AlertCountsQuery{TimeRange: hour0, Bucket: 5 * time.Minute})
		}, []AlertCount{
			{Bucket: utc("2026-06-01T00:00:00Z"), RuleID: "r1", Severity: "high", Alerts: 1, Open: 0, Events: 7},
			{Bucket: utc("2026-06-01T00:05:00Z"), RuleID: "r1", Severity: "high", Alerts: 1, Open: 1, Events: 1},
		}},
		{"Incidents/all", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.Incidents(ctx, IncidentQuery{Limit: 10, Now: now})
		}, []IncidentSummary{inc1, inc2}},
		{"Incidents/detected, inc1's older state", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.Incidents(ctx, IncidentQuery{States: []string{"detected"}, Limit: 10, Now: now})
		}, []IncidentSummary{inc2}},
		{"Incidents/limit 1", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.Incidents(ctx, IncidentQuery{Limit: 1, Now: now})
		}, []IncidentSummary{inc1}},
		{"NoticeProgress/all", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.NoticeProgress(ctx, NoticeQuery{Now: now})
		}, []NoticeProgress{
			{IncidentID: "inc1", Channel: "email", Total: 2, Sending: 1, Failed: 1, Overdue: 1, Attempts: 4},
			{IncidentID: "inc1", Channel: "sms", Total: 1, Sent: 1, Attempts: 1},
			{IncidentID: "inc2", Channel: "letter", Total: 1, Planned: 1, Overdue: 1},
		}},
		{"NoticeProgress/inc2", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.NoticeProgress(ctx, NoticeQuery{IncidentID: "inc2", Now: now})
		}, []NoticeProgress{{IncidentID: "inc2", Channel: "letter", Total: 1, Planned: 1, Overdue: 1}}},
		{"IngestRate/all", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.IngestRate(ctx, all)
		}, []IngestMinute{
			ingest("2026-06-01T00:00:00Z", "ehr", "access", 3),
			ingest("2026-06-01T00:00:00Z", "sdk", "device", 1),
			ingest("2026-06-01T00:10:00Z", "ehr", "access", 1),
			ingest("2026-06-01T00:30:00Z", "ehr", "access", 1),
			ingest("2026-06-01T00:40:00Z", "ehr", "access", 1),
			ingest("2026-06-01T00:41:00Z", "ehr", "access", 1),
			ingest("2026-06-01T01:00:00Z", "ehr", "access", 1),
		}},
		{"IngestRate/from e1's reception", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.IngestRate(ctx, TimeRange{From: utc("2026-06-01T00:00:00.250Z"), To: utc("2026-06-01T00:00:30Z")})
		}, []IngestMinute{ingest("2026-06-01T00:00:00Z", "ehr", "access", 2)}},
		{"DeadLetterCounts/all", func(ctx context.Context, s *ClickHouseStore) (any, error) {
			return s.DeadLetterCounts(ctx, all)
		}, []DeadLetterCount{
			{Reason: "invalid_event", Source: "ehr", Count: 2, Bytes: 30},
			{Reason: "not_json", Source: "", Count: 1, Bytes: 5},
		}},
	}
}

// TestClickHouseReaderIntegration asks every Reader method about records
// written twice (and older versions written after newer ones) twice: while
// every copy is still a separate row (merges stopped; the row counts prove
// it), and after every table is merged completely. The answers must be the
// same both times, each record counted once, in the documented order.
func TestClickHouseReaderIntegration(t *testing.T) {
	ctx, conn, db, s := readerTestStore(t)
	for _, b := range readerBatches() {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// e1 is stored three times, the seven other events twice; e4 (a
	// login) has no subject.
	waitRows(t, ctx, conn, db, "access_by_actor", 17)
	waitRows(t, ctx, conn, db, "access_by_subject", 15)
	before := rowCounts(t, ctx, conn, db)
	for table, c := range before {
		if c[0] <= c[1] {
			t.Fatalf("%s holds %d rows for %d records: the test needs copies not merged yet", table, c[0], c[1])
		}
	}
	cases := readerCases()
	ask := func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := c.ask(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("got  %s\nwant %s", asJSON(got), asJSON(c.want))
				}
			})
		}
	}
	t.Run("copies", ask)
	if after := rowCounts(t, ctx, conn, db); !reflect.DeepEqual(after, before) {
		t.Fatalf("tables merged while the queries ran: rows and records %v, then %v", before, after)
	}
	startMerges(t, ctx, conn, db)
	for table, c := range rowCounts(t, ctx, conn, db) {
		// Notices keep one row per notice once merged, the other tables too.
		if c[0] != c[1] {
			t.Fatalf("%s holds %d rows for %d records after OPTIMIZE FINAL", table, c[0], c[1])
		}
	}
	t.Run("merged", ask)
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// TestClickHouseReaderOrderIntegration writes one subject's and one
// actor's events at random milliseconds over two months, many sharing a
// millisecond, in shuffled batches written twice, and checks that the
// streams come oldest first with ties by event_id, once each, and agree
// with their counts.
func TestClickHouseReaderOrderIntegration(t *testing.T) {
	ctx, conn, db, s := readerTestStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	start := utc("2026-05-25T00:00:00Z")
	var evs []event.AccessEvent
	for i := range 400 {
		// 120 distinct milliseconds across the month boundary: about
		// three events share each.
		at := start.Add(time.Duration(rng.IntN(40)) * 7 * time.Hour).Add(time.Duration(rng.IntN(3)) * time.Millisecond)
		e := readerAccess(fmt.Sprintf("ev-%04x-%03d", rng.Uint32()&0xffff, i), at.Format(time.RFC3339Nano),
			"h1", "a1", "s1", event.ActionRead, event.OutcomeSuccess, 1, event.CategoryHealth)
		evs = append(evs, e)
	}
	for round := range 2 {
		shuffled := slices.Clone(evs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for part := range slices.Chunk(shuffled, 150) {
			if err := s.Write(ctx, &Batch{Access: part}); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	waitRows(t, ctx, conn, db, "access_by_subject", 800)
	waitRows(t, ctx, conn, db, "access_by_actor", 800)
	slices.SortFunc(evs, func(a, b event.AccessEvent) int {
		if c := a.OccurredAt.Compare(b.OccurredAt.Time); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	var want []string
	for _, e := range evs {
		want = append(want, e.EventID+"@"+e.OccurredAt.String())
	}
	r := TimeRange{From: start, To: start.Add(400 * time.Hour)}
	streams := []struct {
		name  string
		ids   func() ([]string, error)
		count func() (int64, error)
	}{
		{"SubjectHistory", func() ([]string, error) {
			var ids []string
			err := s.SubjectHistory(ctx, SubjectQuery{SubjectID: "s1", TimeRange: r}, func(a *SubjectAccess) error {
				ids = append(ids, a.EventID+"@"+event.NewTimestamp(a.OccurredAt).String())
				return nil
			})
			return ids, err
		}, func() (int64, error) { return s.CountSubjectHistory(ctx, SubjectQuery{SubjectID: "s1", TimeRange: r}) }},
		{"ActorHistory", func() ([]string, error) {
			var ids []string
			err := s.ActorHistory(ctx, ActorQuery{Org: "h1", ActorID: "a1", TimeRange: r}, func(a *ActorAccess) error {
				ids = append(ids, a.EventID+"@"+event.NewTimestamp(a.OccurredAt).String())
				return nil
			})
			return ids, err
		}, func() (int64, error) {
			return s.CountActorHistory(ctx, ActorQuery{Org: "h1", ActorID: "a1", TimeRange: r})
		}},
	}
	for _, st := range streams {
		t.Run(st.name, func(t *testing.T) {
			got, err := st.ids()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d rows, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			n, err := st.count()
			if err != nil || n != int64(len(want)) {
				t.Errorf("count = %d, %v; want %d", n, err, len(want))
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestClickHouseReaderStreamingIntegration checks that the streaming
// methods stop the query when fn fails or the context ends: one subject
// (and actor) with 300,000 accesses, inserted server-side, several blocks
// of rows. Stopped at the first row, a stream returns fn's own error and
// calls fn no more; cancelled after ten rows, it returns a
// context.Canceled error without streaming the rest; the store then
// answers the next question. The times of the whole stream and of the
// stopped one are logged.
func TestClickHouseReaderStreamingIntegration(t *testing.T) {
	ctx, conn, db, s := readerTestStore(t)
	const n = 300_000
	if err := conn.Exec(ctx, "INSERT INTO "+db+".access_events (event_id, occurred_at, occurred_ms, received_at, received_ms, "+
		"source, org, actor_id, action, subject_id, subject_type, categories, record_count, outcome) "+
		"SELECT concat('big-', toString(number)), toDateTime(1780000000 + intDiv(number, 10)), toUInt16(number % 1000), "+
		"toDateTime(1780000000 + intDiv(number, 10)), 0, 'ehr', 'h1', 'a1', 'read', 's-big', 'patient', ['health'], 1, 'success' "+
		fmt.Sprintf("FROM system.numbers LIMIT %d", n)); err != nil {
		t.Fatal(err)
	}
	waitRows(t, ctx, conn, db, "access_by_subject", n)
	waitRows(t, ctx, conn, db, "access_by_actor", n)
	r := TimeRange{From: time.Unix(1780000000, 0), To: time.Unix(1780000000+n, 0)}
	sq := SubjectQuery{SubjectID: "s-big", TimeRange: r}
	aq := ActorQuery{Org: "h1", ActorID: "a1", TimeRange: r}
	stop := errors.New("enough")
	cases := []struct {
		name   string
		stream func(ctx context.Context, fn func() error) error
	}{
		{"SubjectHistory", func(ctx context.Context, fn func() error) error {
			return s.SubjectHistory(ctx, sq, func(*SubjectAccess) error { return fn() })
		}},
		{"ActorHistory", func(ctx context.Context, fn func() error) error {
			return s.ActorHistory(ctx, aq, func(*ActorAccess) error { return fn() })
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The whole stream, for comparison.
			began := time.Now()
			rows := 0
			if err := c.stream(ctx, func() error { rows++; return nil }); err != nil || rows != n {
				t.Fatalf("whole stream: %d rows, %v; want %d", rows, err, n)
			}
			whole := time.Since(began)

			began = time.Now()
			calls := 0
			err := c.stream(ctx, func() error { calls++; return stop })
			stopped := time.Since(began)
			if err != stop { //nolint:errorlint // the contract: fn's error as is
				t.Errorf("error = %v, want fn's error itself", err)
			}
			if calls != 1 {
				t.Errorf("fn called %d times after returning an error", calls)
			}
			t.Logf("%d rows in %s; stopped after the first row in %s", n, whole, stopped)

			// A cancelled context ends the stream with a wrapped error.
			cctx, cancel := context.WithCancel(ctx)
			calls = 0
			err = c.stream(cctx, func() error {
				if calls++; calls == 10 {
					cancel()
				}
				return nil
			})
			cancel()
			if !errors.Is(err, context.Canceled) || calls >= n {
				t.Errorf("cancelled after 10 rows: %d rows, error %v; want a context.Canceled error", calls, err)
			}

			// The pool still answers.
			if got, err := s.CountSubjectHistory(ctx, sq); err != nil || got != n {
				t.Errorf("CountSubjectHistory after the stops = %d, %v; want %d", got, err, n)
			}
		})
	}
}
