package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// Times are compared as Unix milliseconds: query bounds are truncated to
// the millisecond (the contract suite's reading of "millisecond
// precision"), stored times are whole milliseconds.

// floorMs is the SQL for the start of the span (milliseconds) from the
// Unix epoch that holds col, also for times before 1970.
func floorMs(col, span string) string {
	return "(" + col + " - (((" + col + " % " + span + ") + " + span + ") % " + span + "))"
}

// openNotice selects the notices that still need a delivery.
const openNotice = "state NOT IN ('sent', 'skipped')"

var (
	subjectHistorySQL = `SELECT event_id, occurred_ms, org, source, actor_id, actor_type, actor_role,
		actor_department, action, subject_type, categories, record_count, purpose, relationship, outcome
	FROM access_events
	WHERE subject_id = ?1 AND subject_id != '' AND occurred_ms >= ?2 AND occurred_ms < ?3
	ORDER BY occurred_ms, event_id`

	countSubjectHistorySQL = `SELECT COUNT(*) FROM access_events
	WHERE subject_id = ?1 AND subject_id != '' AND occurred_ms >= ?2 AND occurred_ms < ?3`

	actorHistorySQL = `SELECT event_id, occurred_ms, actor_type, actor_role, actor_department, action,
		subject_id, subject_type, subject_minor, categories, record_count, relationship, outcome
	FROM access_events
	WHERE org = ?1 AND actor_id = ?2 AND occurred_ms >= ?3 AND occurred_ms < ?4
	ORDER BY occurred_ms, event_id`

	countActorHistorySQL = `SELECT COUNT(*) FROM access_events
	WHERE org = ?1 AND actor_id = ?2 AND occurred_ms >= ?3 AND occurred_ms < ?4`

	actorActivitySQL = `SELECT ` + floorMs("e.occurred_ms", "3600000") + ` AS hour, c.value AS category,
		COUNT(*), COUNT(DISTINCT NULLIF(e.subject_id, '')), SUM(e.record_count), SUM(e.outcome = 'denied')
	FROM access_events AS e, json_each(e.categories) AS c
	WHERE e.org = ?1 AND e.actor_id = ?2 AND e.occurred_ms >= ?3 AND e.occurred_ms < ?4
	GROUP BY hour, category
	ORDER BY hour, category`

	alertCountsSQL = `SELECT ` + floorMs("window_start_ms", "?3") + ` AS bucket, rule_id, severity,
		COUNT(*), SUM(status = 'open'), SUM(count)
	FROM alerts
	WHERE window_start_ms >= ?1 AND window_start_ms < ?2
	GROUP BY bucket, rule_id, severity
	ORDER BY bucket, rule_id, severity`

	// noticeProgressSQL has a %s for the incident filter.
	noticeProgressSQL = `SELECT incident_id, channel, COUNT(*),
		SUM(state = 'planned'), SUM(state = 'approved'), SUM(state = 'sending'),
		SUM(state = 'sent'), SUM(state = 'failed'), SUM(state = 'skipped'),
		SUM(` + openNotice + ` AND due_ms < ?1), SUM(attempts)
	FROM notices
	%s
	GROUP BY incident_id, channel
	ORDER BY incident_id, channel`

	ingestRateSQL = `SELECT minute, source, kind, COUNT(*) FROM (
		SELECT ` + floorMs("received_ms", "60000") + ` AS minute, source, 'access' AS kind
		FROM access_events WHERE received_ms >= ?1 AND received_ms < ?2
		UNION ALL
		SELECT ` + floorMs("received_ms", "60000") + `, source, 'device'
		FROM device_events WHERE received_ms >= ?1 AND received_ms < ?2)
	GROUP BY minute, source, kind
	ORDER BY minute, source, kind`

	deadLetterCountsSQL = `SELECT reason, source, COUNT(*) AS n, SUM(raw_bytes)
	FROM dead_letters
	WHERE received_ms >= ?1 AND received_ms < ?2
	GROUP BY reason, source
	ORDER BY n DESC, reason, source`
)

// topActorsSQL ranks actors; the ranking column, the org filter and the
// sensitive categories are spliced in (they are constants, never input).
func topActorsSQL(by store.Ranking, withOrg bool) string {
	var sensitive []string
	for _, c := range event.SensitiveCategories() {
		sensitive = append(sensitive, "'"+string(c)+"'")
	}
	orgFilter := ""
	if withOrg {
		orgFilter = " AND org = ?4"
	}
	rank := "subjects"
	if by == store.BySensitive {
		rank = "sensitive_events"
	}
	return `SELECT org, actor_id, COUNT(*) AS events,
		COUNT(DISTINCT NULLIF(subject_id, '')) AS subjects,
		SUM(sensitive) AS sensitive_events,
		COUNT(DISTINCT CASE WHEN sensitive THEN NULLIF(subject_id, '') END) AS sensitive_subjects,
		SUM(record_count) AS records
	FROM (SELECT org, actor_id, subject_id, record_count,
			EXISTS (SELECT 1 FROM json_each(categories) WHERE value IN (` + strings.Join(sensitive, ", ") + `)) AS sensitive
		FROM access_events
		WHERE occurred_ms >= ?1 AND occurred_ms < ?2` + orgFilter + `)
	GROUP BY org, actor_id
	ORDER BY ` + rank + ` DESC, events DESC, org, actor_id
	LIMIT ?3`
}

// incidentsSQL lists incidents, filtered by nStates states when nStates >
// 0 (parameters ?3 onwards).
func incidentsSQL(nStates int) string {
	filter := ""
	if nStates > 0 {
		var ps []string
		for i := range nStates {
			ps = append(ps, fmt.Sprintf("?%d", i+3))
		}
		filter = "WHERE i.state IN (" + strings.Join(ps, ", ") + ")"
	}
	open := "FROM notices AS n WHERE n.incident_id = i.incident_id AND n." + openNotice
	return `SELECT i.incident_id, i.state, i.severity, i.org, i.actor_id, i.detected_ms, i.aware_ms,
		json_array_length(i.alert_ids), i.scope_people, i.scope_minors,
		(SELECT COUNT(*) FROM incident_transitions AS t WHERE t.incident_id = i.incident_id),
		(SELECT COUNT(*) ` + open + `),
		(SELECT MIN(n.due_ms) ` + open + `),
		(SELECT COUNT(*) ` + open + ` AND n.due_ms < ?1)
	FROM incidents AS i ` + filter + `
	ORDER BY i.detected_ms DESC, i.incident_id
	LIMIT ?2`
}

// readStmts are the prepared queries whose text is fixed.
type readStmts struct {
	subjectHistory, countSubjectHistory, actorHistory, countActorHistory, actorActivity,
	alertCounts, noticeProgress, incidentNoticeProgress, ingestRate, deadLetterCounts *sql.Stmt
	topActors map[topActorsKey]*sql.Stmt
}

type topActorsKey struct {
	by      store.Ranking
	withOrg bool
}

func prepareReads(ctx context.Context, db *sql.DB) (*readStmts, error) {
	rs := &readStmts{topActors: map[topActorsKey]*sql.Stmt{}}
	prepare := func(query string) (*sql.Stmt, error) {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		return st, nil
	}
	var err error
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&rs.subjectHistory, subjectHistorySQL},
		{&rs.countSubjectHistory, countSubjectHistorySQL},
		{&rs.actorHistory, actorHistorySQL},
		{&rs.countActorHistory, countActorHistorySQL},
		{&rs.actorActivity, actorActivitySQL},
		{&rs.alertCounts, alertCountsSQL},
		{&rs.noticeProgress, fmt.Sprintf(noticeProgressSQL, "")},
		{&rs.incidentNoticeProgress, fmt.Sprintf(noticeProgressSQL, "WHERE incident_id = ?2")},
		{&rs.ingestRate, ingestRateSQL},
		{&rs.deadLetterCounts, deadLetterCountsSQL},
	} {
		if *p.stmt, err = prepare(p.query); err != nil {
			_ = rs.close()
			return nil, err
		}
	}
	for _, by := range []store.Ranking{store.BySubjects, store.BySensitive} {
		for _, withOrg := range []bool{false, true} {
			st, err := prepare(topActorsSQL(by, withOrg))
			if err != nil {
				_ = rs.close()
				return nil, err
			}
			rs.topActors[topActorsKey{by, withOrg}] = st
		}
	}
	return rs, nil
}

func (rs *readStmts) close() error {
	stmts := []*sql.Stmt{rs.subjectHistory, rs.countSubjectHistory, rs.actorHistory, rs.countActorHistory,
		rs.actorActivity, rs.alertCounts, rs.noticeProgress, rs.incidentNoticeProgress, rs.ingestRate, rs.deadLetterCounts}
	for _, st := range rs.topActors {
		stmts = append(stmts, st)
	}
	return closeAll(stmts...)
}

// queryError names the method and the store in an error of the database.
// When ctx is done, the error wraps ctx.Err() too: SQLite reports a
// query interrupted by a cancelled context as "interrupted", which
// callers could not tell from a failure.
func (s *Store) queryError(ctx context.Context, method string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("sqlite store: %s on %s: %w: %w", method, s.path, ctxErr, err)
	}
	return fmt.Errorf("sqlite store: %s on %s: %w", method, s.path, err)
}

// ms is a query time as stored: Unix milliseconds, truncated.
func ms(t time.Time) int64 { return t.UnixMilli() }

// timeOf is a stored time as a result carries it: UTC, the zero time
// when absent (NULL).
func timeOf(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// categories decodes a stored category list: sorted, unique, never nil.
func categories(stored string) ([]string, error) {
	list := []string{}
	if err := json.Unmarshal([]byte(stored), &list); err != nil {
		return nil, fmt.Errorf("categories %q: %w", stored, err)
	}
	if list == nil {
		list = []string{}
	}
	slices.Sort(list)
	return slices.Compact(list), nil
}

// SubjectHistory implements store.Reader.
func (s *Store) SubjectHistory(ctx context.Context, q store.SubjectQuery, fn func(*store.SubjectAccess) error) error {
	if err := q.Check(); err != nil {
		return err
	}
	rows, err := s.rs.subjectHistory.QueryContext(ctx, q.SubjectID, ms(q.From), ms(q.To))
	if err != nil {
		return s.queryError(ctx, "SubjectHistory", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r        store.SubjectAccess
			occurred sql.NullInt64
			cats     string
		)
		if err := rows.Scan(&r.EventID, &occurred, &r.Org, &r.Source, &r.ActorID, &r.ActorType, &r.ActorRole,
			&r.ActorDepartment, &r.Action, &r.SubjectType, &cats, &r.RecordCount, &r.Purpose, &r.Relationship,
			&r.Outcome); err != nil {
			return s.queryError(ctx, "SubjectHistory", err)
		}
		r.OccurredAt = timeOf(occurred)
		if r.Categories, err = categories(cats); err != nil {
			return s.queryError(ctx, "SubjectHistory", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.queryError(ctx, "SubjectHistory", err)
	}
	return nil
}

// CountSubjectHistory implements store.Reader.
func (s *Store) CountSubjectHistory(ctx context.Context, q store.SubjectQuery) (int64, error) {
	if err := q.Check(); err != nil {
		return 0, err
	}
	var n int64
	if err := s.rs.countSubjectHistory.QueryRowContext(ctx, q.SubjectID, ms(q.From), ms(q.To)).Scan(&n); err != nil {
		return 0, s.queryError(ctx, "CountSubjectHistory", err)
	}
	return n, nil
}

// ActorHistory implements store.Reader.
func (s *Store) ActorHistory(ctx context.Context, q store.ActorQuery, fn func(*store.ActorAccess) error) error {
	if err := q.Check(); err != nil {
		return err
	}
	rows, err := s.rs.actorHistory.QueryContext(ctx, q.Org, q.ActorID, ms(q.From), ms(q.To))
	if err != nil {
		return s.queryError(ctx, "ActorHistory", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r        store.ActorAccess
			occurred sql.NullInt64
			cats     string
		)
		if err := rows.Scan(&r.EventID, &occurred, &r.ActorType, &r.ActorRole, &r.ActorDepartment, &r.Action,
			&r.SubjectID, &r.SubjectType, &r.SubjectMinor, &cats, &r.RecordCount, &r.Relationship,
			&r.Outcome); err != nil {
			return s.queryError(ctx, "ActorHistory", err)
		}
		r.OccurredAt = timeOf(occurred)
		if r.Categories, err = categories(cats); err != nil {
			return s.queryError(ctx, "ActorHistory", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.queryError(ctx, "ActorHistory", err)
	}
	return nil
}

// CountActorHistory implements store.Reader.
func (s *Store) CountActorHistory(ctx context.Context, q store.ActorQuery) (int64, error) {
	if err := q.Check(); err != nil {
		return 0, err
	}
	var n int64
	if err := s.rs.countActorHistory.QueryRowContext(ctx, q.Org, q.ActorID, ms(q.From), ms(q.To)).Scan(&n); err != nil {
		return 0, s.queryError(ctx, "CountActorHistory", err)
	}
	return n, nil
}

// collectRows runs st and scans every row with scan into a slice.
func collectRows[R any](ctx context.Context, s *Store, method string, st *sql.Stmt, args []any,
	scan func(*sql.Rows, *R) error) ([]R, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, s.queryError(ctx, method, err)
	}
	defer rows.Close()
	out := []R{}
	for rows.Next() {
		var r R
		if err := scan(rows, &r); err != nil {
			return nil, s.queryError(ctx, method, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.queryError(ctx, method, err)
	}
	return out, nil
}

// ActorActivity implements store.Reader.
func (s *Store) ActorActivity(ctx context.Context, q store.ActorQuery) ([]store.ActorHour, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	return collectRows(ctx, s, "ActorActivity", s.rs.actorActivity, []any{q.Org, q.ActorID, ms(q.From), ms(q.To)},
		func(rows *sql.Rows, r *store.ActorHour) error {
			var hour sql.NullInt64
			err := rows.Scan(&hour, &r.Category, &r.Events, &r.Subjects, &r.Records, &r.Denied)
			r.Hour = timeOf(hour)
			return err
		})
}

// TopActors implements store.Reader.
func (s *Store) TopActors(ctx context.Context, q store.TopActorsQuery) ([]store.TopActor, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	args := []any{ms(q.From), ms(q.To), q.Limit}
	if q.Org != "" {
		args = append(args, q.Org)
	}
	return collectRows(ctx, s, "TopActors", s.rs.topActors[topActorsKey{q.By, q.Org != ""}], args,
		func(rows *sql.Rows, r *store.TopActor) error {
			return rows.Scan(&r.Org, &r.ActorID, &r.Events, &r.Subjects, &r.SensitiveEvents, &r.SensitiveSubjects, &r.Records)
		})
}

// AlertCounts implements store.Reader.
func (s *Store) AlertCounts(ctx context.Context, q store.AlertCountsQuery) ([]store.AlertCount, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	return collectRows(ctx, s, "AlertCounts", s.rs.alertCounts, []any{ms(q.From), ms(q.To), q.Bucket.Milliseconds()},
		func(rows *sql.Rows, r *store.AlertCount) error {
			var bucket sql.NullInt64
			err := rows.Scan(&bucket, &r.RuleID, &r.Severity, &r.Alerts, &r.Open, &r.Events)
			r.Bucket = timeOf(bucket)
			return err
		})
}

// Incidents implements store.Reader.
func (s *Store) Incidents(ctx context.Context, q store.IncidentQuery) ([]store.IncidentSummary, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	args := []any{ms(q.Now), q.Limit}
	for _, st := range q.States {
		args = append(args, st)
	}
	rows, err := s.read.QueryContext(ctx, incidentsSQL(len(q.States)), args...)
	if err != nil {
		return nil, s.queryError(ctx, "Incidents", err)
	}
	defer rows.Close()
	out := []store.IncidentSummary{}
	for rows.Next() {
		var (
			r                     store.IncidentSummary
			detected, aware, next sql.NullInt64
		)
		if err := rows.Scan(&r.IncidentID, &r.State, &r.Severity, &r.Org, &r.ActorID, &detected, &aware,
			&r.Alerts, &r.ScopePeople, &r.ScopeMinors, &r.Transitions, &r.OpenNotices, &next, &r.Overdue); err != nil {
			return nil, s.queryError(ctx, "Incidents", err)
		}
		r.DetectedAt, r.AwareAt, r.NextDeadline = timeOf(detected), timeOf(aware), timeOf(next)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.queryError(ctx, "Incidents", err)
	}
	return out, nil
}

// NoticeProgress implements store.Reader.
func (s *Store) NoticeProgress(ctx context.Context, q store.NoticeQuery) ([]store.NoticeProgress, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	st, args := s.rs.noticeProgress, []any{ms(q.Now)}
	if q.IncidentID != "" {
		st, args = s.rs.incidentNoticeProgress, append(args, q.IncidentID)
	}
	return collectRows(ctx, s, "NoticeProgress", st, args,
		func(rows *sql.Rows, r *store.NoticeProgress) error {
			return rows.Scan(&r.IncidentID, &r.Channel, &r.Total, &r.Planned, &r.Approved, &r.Sending,
				&r.Sent, &r.Failed, &r.Skipped, &r.Overdue, &r.Attempts)
		})
}

// IngestRate implements store.Reader.
func (s *Store) IngestRate(ctx context.Context, r store.TimeRange) ([]store.IngestMinute, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	return collectRows(ctx, s, "IngestRate", s.rs.ingestRate, []any{ms(r.From), ms(r.To)},
		func(rows *sql.Rows, m *store.IngestMinute) error {
			var minute sql.NullInt64
			err := rows.Scan(&minute, &m.Source, &m.Kind, &m.Events)
			m.Minute = timeOf(minute)
			return err
		})
}

// DeadLetterCounts implements store.Reader.
func (s *Store) DeadLetterCounts(ctx context.Context, r store.TimeRange) ([]store.DeadLetterCount, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	return collectRows(ctx, s, "DeadLetterCounts", s.rs.deadLetterCounts, []any{ms(r.From), ms(r.To)},
		func(rows *sql.Rows, c *store.DeadLetterCount) error {
			return rows.Scan(&c.Reason, &c.Source, &c.Count, &c.Bytes)
		})
}

// scanEventsSQL streams both event tables in one ordered cursor: each row
// is the kind, the order keys and the row as a JSON object of its columns
// (json_object keeps NULLs, so absent coordinates stay absent). One cursor
// keeps ScanEvents to one read connection whatever Options.Readers is.
const scanEventsSQL = `SELECT kind, occurred_ms, event_id, row FROM (
	SELECT 'access' AS kind, occurred_ms, event_id, json_object(
		'received_ms', received_ms, 'source', source, 'org', org,
		'actor_id', actor_id, 'actor_type', actor_type, 'actor_role', actor_role,
		'actor_department', actor_department, 'action', action,
		'subject_id', subject_id, 'subject_type', subject_type, 'subject_minor', subject_minor,
		'subject_vip', subject_vip, 'subject_employee', subject_employee,
		'categories', json(categories), 'record_count', record_count, 'purpose', purpose,
		'relationship', relationship, 'outcome', outcome,
		'client_ip', client_ip, 'client_user_agent', client_user_agent, 'client_device_id', client_device_id,
		'client_geo_country', client_geo_country, 'client_geo_region', client_geo_region,
		'client_geo_city', client_geo_city, 'client_geo_lat', client_geo_lat, 'client_geo_lon', client_geo_lon,
		'session_id', session_id, 'request_id', request_id, 'attrs', json(attrs)) AS row
	FROM access_events
	WHERE occurred_ms >= ?1 AND occurred_ms < ?2 AND (?3 = '' OR org = ?3)
	UNION ALL
	SELECT 'device', occurred_ms, event_id, json_object(
		'received_ms', received_ms, 'source', source, 'org', org,
		'account_id', account_id, 'device_id', device_id, 'kind', kind,
		'device_model', device_model, 'device_os', device_os, 'device_os_version', device_os_version,
		'device_app_version', device_app_version,
		'signal_emulator', signal_emulator, 'signal_rooted', signal_rooted,
		'signal_hook_framework', signal_hook_framework, 'signal_debugger', signal_debugger,
		'signal_app_tampered', signal_app_tampered, 'signal_proxy_or_vpn', signal_proxy_or_vpn,
		'signal_multi_open', signal_multi_open, 'signal_location_spoofed', signal_location_spoofed,
		'signal_remote_control', signal_remote_control,
		'network_ip', network_ip, 'network_carrier', network_carrier, 'network_wifi_bssid', network_wifi_bssid,
		'location_lat', location_lat, 'location_lon', location_lon, 'location_accuracy_m', location_accuracy_m,
		'outcome', outcome, 'attrs', json(attrs))
	FROM device_events
	WHERE occurred_ms >= ?1 AND occurred_ms < ?2 AND (?3 = '' OR org = ?3))
ORDER BY occurred_ms, event_id, kind`

const alertIDsSQL = `SELECT alert_id FROM alerts
	WHERE window_start_ms >= ?1 AND window_start_ms < ?2
	ORDER BY alert_id`

// storedRow is the JSON object of one scanned row: the columns of both
// event tables.
type storedRow struct {
	ReceivedMs      *int64            `json:"received_ms"`
	Source          string            `json:"source"`
	Org             string            `json:"org"`
	ActorID         string            `json:"actor_id"`
	ActorType       string            `json:"actor_type"`
	ActorRole       string            `json:"actor_role"`
	ActorDepartment string            `json:"actor_department"`
	Action          string            `json:"action"`
	SubjectID       string            `json:"subject_id"`
	SubjectType     string            `json:"subject_type"`
	SubjectMinor    int               `json:"subject_minor"`
	SubjectVIP      int               `json:"subject_vip"`
	SubjectEmployee int               `json:"subject_employee"`
	Categories      []string          `json:"categories"`
	RecordCount     int64             `json:"record_count"`
	Purpose         string            `json:"purpose"`
	Relationship    string            `json:"relationship"`
	Outcome         string            `json:"outcome"`
	ClientIP        string            `json:"client_ip"`
	ClientUA        string            `json:"client_user_agent"`
	ClientDeviceID  string            `json:"client_device_id"`
	GeoCountry      string            `json:"client_geo_country"`
	GeoRegion       string            `json:"client_geo_region"`
	GeoCity         string            `json:"client_geo_city"`
	GeoLat          *float64          `json:"client_geo_lat"`
	GeoLon          *float64          `json:"client_geo_lon"`
	SessionID       string            `json:"session_id"`
	RequestID       string            `json:"request_id"`
	Attrs           map[string]string `json:"attrs"`

	AccountID        string   `json:"account_id"`
	DeviceID         string   `json:"device_id"`
	Kind             string   `json:"kind"`
	DeviceModel      string   `json:"device_model"`
	DeviceOS         string   `json:"device_os"`
	DeviceOSVersion  string   `json:"device_os_version"`
	DeviceAppVersion string   `json:"device_app_version"`
	Emulator         int      `json:"signal_emulator"`
	Rooted           int      `json:"signal_rooted"`
	HookFramework    int      `json:"signal_hook_framework"`
	Debugger         int      `json:"signal_debugger"`
	AppTampered      int      `json:"signal_app_tampered"`
	ProxyOrVPN       int      `json:"signal_proxy_or_vpn"`
	MultiOpen        int      `json:"signal_multi_open"`
	LocationSpoofed  int      `json:"signal_location_spoofed"`
	RemoteControl    int      `json:"signal_remote_control"`
	NetworkIP        string   `json:"network_ip"`
	NetworkCarrier   string   `json:"network_carrier"`
	NetworkBSSID     string   `json:"network_wifi_bssid"`
	LocationLat      *float64 `json:"location_lat"`
	LocationLon      *float64 `json:"location_lon"`
	LocationAccuracy float64  `json:"location_accuracy_m"`
}

func stamp(ms *int64) event.Timestamp {
	if ms == nil {
		return event.Timestamp{}
	}
	return event.Timestamp{Time: time.UnixMilli(*ms).UTC()}
}

func attrsOf(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (r *storedRow) access(id string, occurred int64) *event.AccessEvent {
	e := &event.AccessEvent{
		EventID:    id,
		OccurredAt: stamp(&occurred),
		ReceivedAt: stamp(r.ReceivedMs),
		Source:     r.Source,
		Org:        r.Org,
		Actor: event.Actor{ID: r.ActorID, Type: event.ActorType(r.ActorType), Role: r.ActorRole,
			Department: r.ActorDepartment},
		Action: event.Action(r.Action),
		Subject: event.Subject{ID: r.SubjectID, Type: event.SubjectType(r.SubjectType), Minor: r.SubjectMinor != 0,
			VIP: r.SubjectVIP != 0, Employee: r.SubjectEmployee != 0},
		RecordCount:  r.RecordCount,
		Purpose:      r.Purpose,
		Relationship: event.Relationship(r.Relationship),
		Outcome:      event.Outcome(r.Outcome),
		Client: event.Client{IP: r.ClientIP, UserAgent: r.ClientUA, DeviceID: r.ClientDeviceID,
			Geo: event.Geo{Country: r.GeoCountry, Region: r.GeoRegion, City: r.GeoCity, Lat: r.GeoLat, Lon: r.GeoLon}},
		SessionID: r.SessionID,
		RequestID: r.RequestID,
		Attrs:     attrsOf(r.Attrs),
	}
	for _, c := range r.Categories {
		e.Categories = append(e.Categories, event.Category(c))
	}
	return e
}

func (r *storedRow) device(id string, occurred int64) *event.DeviceEvent {
	e := &event.DeviceEvent{
		EventID:    id,
		OccurredAt: stamp(&occurred),
		ReceivedAt: stamp(r.ReceivedMs),
		Source:     r.Source,
		Org:        r.Org,
		AccountID:  r.AccountID,
		DeviceID:   r.DeviceID,
		Kind:       event.DeviceKind(r.Kind),
		Device: event.Device{Model: r.DeviceModel, OS: r.DeviceOS, OSVersion: r.DeviceOSVersion,
			AppVersion: r.DeviceAppVersion},
		Signals: event.Signals{Emulator: r.Emulator != 0, Rooted: r.Rooted != 0, HookFramework: r.HookFramework != 0,
			Debugger: r.Debugger != 0, AppTampered: r.AppTampered != 0, ProxyOrVPN: r.ProxyOrVPN != 0,
			MultiOpen: r.MultiOpen != 0, LocationSpoofed: r.LocationSpoofed != 0, RemoteControl: r.RemoteControl != 0},
		Network: event.Network{IP: r.NetworkIP, Carrier: r.NetworkCarrier, WiFiBSSID: r.NetworkBSSID},
		Outcome: event.Outcome(r.Outcome),
		Attrs:   attrsOf(r.Attrs),
	}
	if r.LocationLat != nil && r.LocationLon != nil {
		e.Location = &event.Location{Lat: *r.LocationLat, Lon: *r.LocationLon, AccuracyM: r.LocationAccuracy}
	}
	return e
}

// ScanEvents implements store.EventScanner. Event ids are unique in the
// tables (redelivered copies are not written), so every row is one event.
func (s *Store) ScanEvents(ctx context.Context, q store.ScanQuery, fn func(*store.StoredEvent) error) error {
	if err := q.Check(); err != nil {
		return err
	}
	rows, err := s.read.QueryContext(ctx, scanEventsSQL, ms(q.From), ms(q.To), q.Org)
	if err != nil {
		return s.queryError(ctx, "ScanEvents", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			kind, id string
			occurred int64
			raw      []byte
			r        storedRow
		)
		if err := rows.Scan(&kind, &occurred, &id, &raw); err != nil {
			return s.queryError(ctx, "ScanEvents", err)
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return s.queryError(ctx, "ScanEvents", fmt.Errorf("%s event %s: %w", kind, id, err))
		}
		var e store.StoredEvent
		if kind == "access" {
			e.Access = r.access(id, occurred)
		} else {
			e.Device = r.device(id, occurred)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.queryError(ctx, "ScanEvents", err)
	}
	return nil
}

// AlertIDs implements store.EventScanner.
func (s *Store) AlertIDs(ctx context.Context, r store.TimeRange, fn func(string) error) error {
	if err := r.Check(); err != nil {
		return err
	}
	rows, err := s.read.QueryContext(ctx, alertIDsSQL, ms(r.From), ms(r.To))
	if err != nil {
		return s.queryError(ctx, "AlertIDs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return s.queryError(ctx, "AlertIDs", err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.queryError(ctx, "AlertIDs", err)
	}
	return nil
}

var _ store.EventScanner = (*Store)(nil)
