package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

// openAt opens a fresh store and returns it with its path.
func openAt(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// rowsOf reads every row of a query as column -> value maps.
func rowsOf(t *testing.T, db *sql.DB, query string, args ...any) []map[string]any {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]any{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRow compares a stored row with the expected columns, all of them:
// a column added to the schema must be added here too.
func wantRow(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for c, w := range want {
		if g, ok := got[c]; !ok {
			t.Errorf("%s: no column %s", what, c)
		} else if g != w {
			t.Errorf("%s: %s = %#v, want %#v", what, c, g, w)
		}
	}
	for c := range got {
		if _, ok := want[c]; !ok {
			t.Errorf("%s: column %s is not checked", what, c)
		}
	}
}

func msOf(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWriteStoresEveryField writes one record of every kind with every
// field set and reads the rows back column by column: the schema holds
// what the ClickHouse schema holds.
func TestWriteStoresEveryField(t *testing.T) {
	acc, problems := event.DecodeAccess(readFile(t, "../../event/testdata/access/maximal.json"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	dev, problems := event.DecodeDevice(readFile(t, "../../event/testdata/device/maximal.json"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	ts := func(s string) event.Timestamp {
		v, err := event.ParseTimestamp(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	dl := event.DeadLetter{DeadLetterID: "dl-1", ReceivedAt: ts("2026-11-28T09:30:00.001Z"), Source: "emr-prod",
		Receiver: "syslog", Kind: "access", Reason: event.ReasonInvalidEvent, Problems: []string{"/org: missing", "/actor: missing"},
		Location: "192.0.2.1:514", EventID: "evt-9", Raw: `{"x":1}`, RawBytes: 9000, Truncated: true}
	alert := event.Alert{AlertID: "al-1", RuleID: "bulk-export", RuleTitle: "Bulk export", Severity: event.SeverityHigh,
		GroupKey: "hosp-1/staff-42", WindowStart: ts("2026-11-28T09:00:00Z"), WindowEnd: ts("2026-11-28T10:00:00Z"),
		FirstSeen: ts("2026-11-28T09:01:00.001Z"), LastSeen: ts("2026-11-28T09:59:00.002Z"), Count: 12, DistinctSubjects: 7,
		Categories: []event.Category{event.CategoryHealth, event.CategoryContact, event.CategoryHealth},
		Evidence:   []string{"e2", "e1"}, Explanation: "exported 1200 records", ActorID: "staff-42", DeviceID: "tok-dev",
		Org: "hosp-1", Status: event.AlertEscalated, StatusReason: "part of a confirmed incident", StatusBy: "notifier"}
	inc := event.Incident{IncidentID: "inc-1", State: event.IncidentConfirmed, DetectedAt: ts("2026-11-28T09:05:00.005Z"),
		AwareAt: ts("2026-11-28T09:30:00Z"), AlertIDs: []string{"al-1", "al-0"}, ActorID: "staff-42", Org: "hosp-1",
		Severity: event.SeverityCritical,
		Transitions: []event.Transition{
			{From: "", To: event.IncidentDetected, At: ts("2026-11-28T09:05:00.005Z"), By: "system"},
			{From: event.IncidentDetected, To: event.IncidentConfirmed, At: ts("2026-11-28T09:30:00Z"), By: "tok-op", Reason: "verified"},
		},
		Scope: event.Scope{People: 1200, Minors: 30, Categories: []event.Category{event.CategoryMinorData, event.CategoryHealth},
			Jurisdictions: []string{"pipl", "gdpr"}},
		DeviceID: "tok-dev", WindowStart: ts("2026-11-28T08:00:00Z"), WindowEnd: ts("2026-11-28T09:00:00.5Z"),
		Obligations: []event.Obligation{{ID: "cac.initial", Regime: "cac", Kind: "regulator_report", Status: event.ObligationDone,
			StartsAt: ts("2026-11-28T09:30:00Z"), DueAt: ts("2026-11-28T13:30:00Z")}},
		Fields:      map[string]string{"facts": "bulk export"},
		RuleIDs:     []string{"vigil-access-001", "vigil-access-c06"},
		Submissions: []event.Submission{{Obligation: "cac.initial", Version: "initial", Reference: "R-1", By: "dpo", At: ts("2026-11-28T12:00:00Z")}}}
	notice := event.Notice{NoticeID: "n-1", IncidentID: "inc-1", Obligation: "pipl.art57.individual", Regime: "pipl",
		RecipientToken: "tok-p", RecipientKind: event.RecipientGuardian, Channel: event.ChannelSMS, Language: "zh-CN",
		DueAt: ts("2026-11-29T09:30:00Z"), State: event.NoticeSent, Attempts: 2, SentAt: ts("2026-11-28T11:00:00.250Z"),
		MessageID: "msg-1", LastError: "timeout on attempt 1"}

	s, path := openAt(t)
	err := s.Write(t.Context(), &store.Batch{
		Access: []event.AccessEvent{acc}, Device: []event.DeviceEvent{dev}, DeadLetters: []event.DeadLetter{dl},
		Alerts:    []store.Versioned[event.Alert]{{Version: 7, Value: alert}},
		Incidents: []store.Versioned[event.Incident]{{Version: 8, Value: inc}},
		Notices:   []store.Versioned[event.Notice]{{Version: 9, Value: notice}},
	})
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	one := func(table string) map[string]any {
		rows := rowsOf(t, db, "SELECT * FROM "+table)
		if len(rows) != 1 {
			t.Fatalf("%s has %d rows, want 1", table, len(rows))
		}
		return rows[0]
	}
	wantRow(t, "access_events", one("access_events"), map[string]any{
		"event_id": "01JDX3K9ZQ-emr.7:42", "occurred_ms": msOf("2026-11-28T09:30:00.123Z"),
		"received_ms": msOf("2026-11-28T09:30:01.5Z"), "source": "emr-prod", "org": "hosp-1",
		"actor_id": "staff-42", "actor_type": "doctor", "actor_role": "attending physician",
		"actor_department": "儿科 (pediatrics)", "action": "export",
		"subject_id": "pt-9", "subject_type": "patient", "subject_minor": int64(1), "subject_vip": int64(1), "subject_employee": int64(1),
		"categories":   `["account","biometric","chat","contact","device_id","financial","health","id_number","location","minor_data","prescription"]`,
		"record_count": int64(1200), "purpose": "Referral to the cardiology department,\nticket \"REF-77\" — 转诊",
		"relationship": "false", "outcome": "success",
		"client_ip": "2001:db8::7", "client_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) EMRClient/4.2",
		"client_device_id": "ws-0042", "client_geo_country": "CN", "client_geo_region": "Zhejiang", "client_geo_city": "Hangzhou",
		"client_geo_lat": 30.27, "client_geo_lon": 120.16, "session_id": "sess-3f9a", "request_id": "req-77a1",
		"attrs": `{"empty":"","export.format":"csv","ticket:id":"REF-77","ward":"7B"}`,
	})
	wantRow(t, "device_events", one("device_events"), map[string]any{
		"event_id": "dev-evt-1", "occurred_ms": msOf("2026-11-28T14:30:00.123Z"), "received_ms": msOf("2026-11-28T14:30:00.200Z"),
		"source": "risk-sdk", "org": "app-1", "account_id": "acct-1", "device_id": "dev-1", "kind": "face_verify",
		"device_model": "SM-G9910", "device_os": "android", "device_os_version": "14", "device_app_version": "5.2.0",
		"signal_emulator": int64(1), "signal_rooted": int64(1), "signal_hook_framework": int64(1), "signal_debugger": int64(1),
		"signal_app_tampered": int64(1), "signal_proxy_or_vpn": int64(1), "signal_multi_open": int64(1),
		"signal_location_spoofed": int64(1), "signal_remote_control": int64(1),
		"network_ip": "198.51.100.4", "network_carrier": "46000", "network_wifi_bssid": "bssid-tok-9",
		"location_lat": 30.27, "location_lon": 120.16, "location_accuracy_m": 35.5, "outcome": "failure",
		"attrs": `{"liveness_score":"0.12","sdk":"4.1.0"}`,
	})
	wantRow(t, "dead_letters", one("dead_letters"), map[string]any{
		"dead_letter_id": "dl-1", "received_ms": msOf("2026-11-28T09:30:00.001Z"), "source": "emr-prod", "receiver": "syslog",
		"kind": "access", "reason": "invalid_event", "problems": `["/org: missing","/actor: missing"]`,
		"location": "192.0.2.1:514", "event_id": "evt-9", "raw": `{"x":1}`, "raw_bytes": int64(9000), "truncated": int64(1),
	})
	wantRow(t, "alerts", one("alerts"), map[string]any{
		"alert_id": "al-1", "version": int64(7), "rule_id": "bulk-export", "rule_title": "Bulk export", "severity": "high",
		"group_key": "hosp-1/staff-42", "window_start_ms": msOf("2026-11-28T09:00:00Z"), "window_end_ms": msOf("2026-11-28T10:00:00Z"),
		"first_seen_ms": msOf("2026-11-28T09:01:00.001Z"), "last_seen_ms": msOf("2026-11-28T09:59:00.002Z"),
		"count": int64(12), "distinct_subjects": int64(7), "categories": `["contact","health"]`, "evidence": `["e2","e1"]`,
		"explanation": "exported 1200 records", "actor_id": "staff-42", "device_id": "tok-dev", "org": "hosp-1", "status": "escalated",
		"status_reason": "part of a confirmed incident", "status_by": "notifier",
	})
	wantRow(t, "incidents", one("incidents"), map[string]any{
		"incident_id": "inc-1", "version": int64(8), "state": "confirmed", "detected_ms": msOf("2026-11-28T09:05:00.005Z"),
		"aware_ms": msOf("2026-11-28T09:30:00Z"), "alert_ids": `["al-1","al-0"]`, "actor_id": "staff-42", "org": "hosp-1",
		"severity": "critical", "scope_people": int64(1200), "scope_minors": int64(30),
		"scope_categories": `["health","minor_data"]`, "scope_jurisdictions": `["pipl","gdpr"]`,
		"device_id": "tok-dev", "window_start_ms": msOf("2026-11-28T08:00:00Z"), "window_end_ms": msOf("2026-11-28T09:00:00.5Z"),
		"obligations": `[{"id":"cac.initial","regime":"cac","kind":"regulator_report","recipient":"","starts_at":"2026-11-28T09:30:00.000Z","due_at":"2026-11-28T13:30:00.000Z","status":"done"}]`,
		"fields":      `{"facts":"bulk export"}`,
		"rule_ids":    `["vigil-access-001","vigil-access-c06"]`,
		"submissions": `[{"obligation":"cac.initial","version":"initial","reference":"R-1","at":"2026-11-28T12:00:00.000Z","by":"dpo"}]`,
	})
	transitions := rowsOf(t, db, "SELECT * FROM incident_transitions ORDER BY seq")
	if len(transitions) != 2 {
		t.Fatalf("incident_transitions has %d rows, want 2", len(transitions))
	}
	wantRow(t, "transition 1", transitions[0], map[string]any{"incident_id": "inc-1", "seq": int64(1), "from_state": "",
		"to_state": "detected", "at_ms": msOf("2026-11-28T09:05:00.005Z"), "changed_by": "system", "reason": ""})
	wantRow(t, "transition 2", transitions[1], map[string]any{"incident_id": "inc-1", "seq": int64(2), "from_state": "detected",
		"to_state": "confirmed", "at_ms": msOf("2026-11-28T09:30:00Z"), "changed_by": "tok-op", "reason": "verified"})
	wantRow(t, "notices", one("notices"), map[string]any{
		"notice_id": "n-1", "version": int64(9), "incident_id": "inc-1", "obligation": "pipl.art57.individual", "regime": "pipl",
		"recipient_token": "tok-p", "recipient_kind": "guardian", "channel": "sms", "language": "zh-CN",
		"due_ms": msOf("2026-11-29T09:30:00Z"), "state": "sent", "attempts": int64(2), "sent_ms": msOf("2026-11-28T11:00:00.250Z"),
		"message_id": "msg-1", "last_error": "timeout on attempt 1",
	})
	wantRow(t, "deliveries", one("deliveries"), map[string]any{
		"notice_id": "n-1", "attempt": int64(2), "version": int64(9), "incident_id": "inc-1", "due_ms": msOf("2026-11-29T09:30:00Z"),
		"channel": "sms", "recipient_kind": "guardian", "state": "sent", "sent_ms": msOf("2026-11-28T11:00:00.250Z"),
		"message_id": "msg-1", "error": "timeout on attempt 1",
	})
}

// TestWriteAbsentValuesAreNull checks that absent times and coordinates
// are NULL, not a made-up value.
func TestWriteAbsentValuesAreNull(t *testing.T) {
	s, path := openAt(t)
	e := accessEvent("e-1", "subj-1", 0)
	e.ReceivedAt = event.Timestamp{}
	e.Client = event.Client{}
	e.Attrs = nil
	e.Categories = nil
	d := event.DeviceEvent{EventID: "d-1", OccurredAt: e.OccurredAt, Kind: event.KindLogin, Outcome: event.OutcomeSuccess}
	inc := event.Incident{IncidentID: "inc-1", State: event.IncidentDetected, DetectedAt: e.OccurredAt,
		Transitions: []event.Transition{{To: event.IncidentDetected, By: "system"}}}
	n := event.Notice{NoticeID: "n-1", IncidentID: "inc-1", DueAt: e.OccurredAt, State: event.NoticePlanned}
	if err := s.Write(t.Context(), &store.Batch{Access: []event.AccessEvent{e}, Device: []event.DeviceEvent{d},
		Incidents: []store.Versioned[event.Incident]{{Version: 1, Value: inc}},
		Notices:   []store.Versioned[event.Notice]{{Version: 1, Value: n}}}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	tests := []struct {
		query string
		want  []any
	}{
		{"SELECT received_ms, client_geo_lat, client_geo_lon, categories, attrs FROM access_events", []any{nil, nil, nil, "[]", "{}"}},
		{"SELECT received_ms, location_lat, location_lon, location_accuracy_m FROM device_events", []any{nil, nil, nil, 0.0}},
		{"SELECT aware_ms, alert_ids, scope_categories, rule_ids FROM incidents", []any{nil, "[]", "[]", "[]"}},
		{"SELECT at_ms FROM incident_transitions", []any{nil}},
		{"SELECT sent_ms FROM notices", []any{nil}},
		{"SELECT COUNT(*) AS n FROM deliveries", []any{int64(0)}},
	}
	for _, tt := range tests {
		rows := rowsOf(t, db, tt.query)
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows", tt.query, len(rows))
		}
		cols := strings.Split(strings.TrimPrefix(strings.Split(tt.query, " FROM ")[0], "SELECT "), ", ")
		for i, c := range cols {
			c = strings.TrimPrefix(c, "COUNT(*) AS ")
			if got := rows[0][c]; got != tt.want[i] {
				t.Errorf("%s: %s = %#v, want %#v", tt.query, c, got, tt.want[i])
			}
		}
	}
}

// TestWriteVersions checks that the highest version of a changing record
// wins in every order of writes, with the tables filled alongside
// (incident_transitions, deliveries).
func TestWriteVersions(t *testing.T) {
	due := event.NewTimestamp(base.Add(48 * time.Hour))
	incident := func(transitions int) event.Incident {
		i := event.Incident{IncidentID: "inc-1", DetectedAt: event.NewTimestamp(base), Org: "org-a"}
		states := []event.IncidentState{event.IncidentDetected, event.IncidentTriage, event.IncidentConfirmed}
		for n := range transitions {
			from := event.IncidentState("")
			if n > 0 {
				from = states[n-1]
			}
			i.Transitions = append(i.Transitions, event.Transition{From: from, To: states[n], By: "system",
				At: event.NewTimestamp(base.Add(time.Duration(n) * time.Minute))})
			i.State = states[n]
		}
		return i
	}
	notice := func(state event.NoticeState, attempts int, lastError string) event.Notice {
		return event.Notice{NoticeID: "n-1", IncidentID: "inc-1", Channel: event.ChannelEmail, DueAt: due,
			State: state, Attempts: attempts, LastError: lastError}
	}
	incs := map[uint64]event.Incident{1: incident(1), 2: incident(2), 3: incident(3)}
	nots := map[uint64]event.Notice{
		1: notice(event.NoticeSending, 1, ""),
		2: notice(event.NoticeSending, 1, "timeout"), // attempt 1 failed, retry planned
		3: notice(event.NoticeSent, 2, "timeout"),
	}
	tests := []struct {
		name string
		// batches lists the versions written, one inner slice per Write.
		batches [][]uint64
		want    uint64
	}{
		{"in order", [][]uint64{{1}, {2}, {3}}, 3},
		{"newest first", [][]uint64{{3}, {2}, {1}}, 3},
		{"older after newer in one batch", [][]uint64{{1, 3, 2}}, 3},
		{"same version twice", [][]uint64{{2}, {2}}, 2},
		{"middle only then older", [][]uint64{{2}, {1, 1}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openAt(t)
			for _, versions := range tt.batches {
				b := &store.Batch{}
				for _, v := range versions {
					b.Incidents = append(b.Incidents, store.Versioned[event.Incident]{Version: v, Value: incs[v]})
					b.Notices = append(b.Notices, store.Versioned[event.Notice]{Version: v, Value: nots[v]})
				}
				if err := s.Write(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			db := rawDB(t, path)
			if got := queryInt(t, db, "SELECT version FROM incidents WHERE incident_id = 'inc-1'"); got != int64(tt.want) {
				t.Errorf("incident version %d, want %d", got, tt.want)
			}
			var states []string
			for _, r := range rowsOf(t, db, "SELECT to_state FROM incident_transitions WHERE incident_id = 'inc-1' ORDER BY seq") {
				states = append(states, r["to_state"].(string))
			}
			var wantStates []string
			for _, tr := range incs[tt.want].Transitions {
				wantStates = append(wantStates, string(tr.To))
			}
			if !slices.Equal(states, wantStates) {
				t.Errorf("transitions %v, want %v", states, wantStates)
			}
			if got := queryInt(t, db, "SELECT version FROM notices WHERE notice_id = 'n-1'"); got != int64(tt.want) {
				t.Errorf("notice version %d, want %d", got, tt.want)
			}
			// Each attempt keeps the latest version that reported it.
			wantDeliveries := map[int64]int64{}
			for _, versions := range tt.batches {
				for _, v := range versions {
					a := int64(nots[v].Attempts)
					wantDeliveries[a] = max(wantDeliveries[a], int64(v))
				}
			}
			gotDeliveries := map[int64]int64{}
			for _, r := range rowsOf(t, db, "SELECT attempt, version FROM deliveries WHERE notice_id = 'n-1'") {
				gotDeliveries[r["attempt"].(int64)] = r["version"].(int64)
			}
			if !mapsEqual(gotDeliveries, wantDeliveries) {
				t.Errorf("deliveries (attempt: version) %v, want %v", gotDeliveries, wantDeliveries)
			}
		})
	}
}

func mapsEqual[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestWriteIsAllOrNothing checks that a batch that fails part-way leaves
// nothing of itself behind, and that the store goes on working.
func TestWriteIsAllOrNothing(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		batch  *store.Batch
		is     error
		errHas string
	}{
		{
			name: "version beyond int64",
			ctx:  t.Context(),
			batch: &store.Batch{
				Access: []event.AccessEvent{accessEvent("e-1", "subj-1", 0)},
				Alerts: []store.Versioned[event.Alert]{{Version: math.MaxInt64 + 1, Value: event.Alert{AlertID: "al-big"}}},
			},
			is:     store.ErrInvalidRecord,
			errHas: "alert al-big version 9223372036854775808",
		},
		{
			name:   "cancelled context",
			ctx:    cancelled,
			batch:  &store.Batch{Access: []event.AccessEvent{accessEvent("e-1", "subj-1", 0)}},
			is:     context.Canceled,
			errHas: "sqlite store: write 1 records to ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openAt(t)
			err := s.Write(tt.ctx, tt.batch)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Write error = %v, want %v with %q", err, tt.is, tt.errHas)
			}
			if n := countSubject(t, s, "subj-1"); n != 0 {
				t.Errorf("%d events of the failed batch are stored", n)
			}
			if err := s.Write(t.Context(), &store.Batch{Access: tt.batch.Access}); err != nil {
				t.Fatalf("Write after the failure: %v", err)
			}
			if n := countSubject(t, s, "subj-1"); n != int64(len(tt.batch.Access)) {
				t.Errorf("%d events stored after the retry, want %d", n, len(tt.batch.Access))
			}
		})
	}
}

func TestWriteNothing(t *testing.T) {
	s, path := openAt(t)
	for _, b := range []*store.Batch{nil, {}} {
		if err := s.Write(t.Context(), b); err != nil {
			t.Errorf("Write(%v): %v", b, err)
		}
	}
	if n := queryInt(t, rawDB(t, path), "SELECT COUNT(*) FROM access_events"); n != 0 {
		t.Errorf("%d rows after empty writes", n)
	}
}
