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
