package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vigil-audit/vigil/internal/event"
)

// The queries of the Reader on ClickHouse, one statement per file
// (queries/NAME.sql), each with a header saying what it answers and a
// "-- params:" line of sample values for its '?' placeholders, in order,
// which scripts/chdb_check.py binds to run every query on current
// ClickHouse. DBPlaceholder stands for the database, as in the migrations.
//
//go:embed queries/*.sql
var queryFS embed.FS

// The query files (queries/<name>.sql).
const (
	qSubjectHistory      = "subject_history"
	qSubjectHistoryCount = "subject_history_count"
	qActorHistory        = "actor_history"
	qActorHistoryCount   = "actor_history_count"
	qActorActivity       = "actor_activity"
	qTopActors           = "top_actors"
	qAlertCounts         = "alert_counts"
	qIncidents           = "incidents"
	qNoticeProgress      = "notice_progress"
	qIngestRate          = "ingest_rate"
	qDeadLetterCounts    = "dead_letter_counts"
	qScanAccessEvents    = "scan_access_events"
	qScanDeviceEvents    = "scan_device_events"
	qAlertIDs            = "alert_ids"
)

// loadQueries returns the statement of every dir/*.sql of fsys by name (the
// file name without .sql), comments removed. A file must hold exactly one
// statement.
func loadQueries(fsys fs.FS, dir string) (map[string]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: queries: %w", err)
	}
	qs := make(map[string]string, len(entries))
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if e.IsDir() || !ok {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: queries: %w", err)
		}
		stmts, err := SplitStatements(string(b))
		if err != nil {
			return nil, fmt.Errorf("store: queries: %s: %w", e.Name(), err)
		}
		if len(stmts) != 1 {
			return nil, fmt.Errorf("store: queries: %s: %d statements, want exactly one", e.Name(), len(stmts))
		}
		qs[name] = stmts[0]
	}
	return qs, nil
}

// ClickHouseStore is the Store of the system of record: a ClickHouseWriter
// for Write and Close, and the Reader's queries (queries/*.sql) over the
// tables of migrations/0001_initial.sql.
//
// Every query deduplicates as the schema's comments ask: ReplacingMergeTree
// collapses the copies of a record only when parts merge, so queries keep
// one copy of an event by event_id (LIMIT 1 BY, GROUP BY) and the latest
// version of an alert, incident or notice (argMax by version), never FINAL.
// Time ranges select whole seconds on the DateTime columns (what the
// indexes and partitions hold) and then cut at the millisecond on
// seconds*1000 + the *_ms column.
//
// SubjectHistory and ActorHistory hand fn each row as clickhouse-go
// decodes the server's blocks, holding one block at most. When fn fails
// they cancel the query, which closes that connection (clickhouse-go has
// no other way to stop a result short of reading it all); the pool dials a
// new one for the next query.
//
// Like the writer, it has no mutable state: its methods may be called from
// several goroutines at once.
type ClickHouseStore struct {
	*ClickHouseWriter
	conn driver.Conn
	// queries holds each query's text with the database name in place.
	queries map[string]string
	// err is a bad database name or unreadable queries, returned by every
	// query after its parameters are checked.
	err error
}

var _ Store = (*ClickHouseStore)(nil)

// NewClickHouseStore returns the Store over database db (which must hold
// the schema of Migrate) through conn, a native-protocol connection
// (Open). The caller owns conn: Close does not close it. A db that is not a
// plain identifier makes every Write and query fail with an error saying
// so.
func NewClickHouseStore(conn driver.Conn, db string) *ClickHouseStore {
	s := &ClickHouseStore{ClickHouseWriter: NewClickHouseWriter(conn, db), conn: conn}
	if s.err = checkIdent("database", db); s.err != nil {
		return s
	}
	qs, err := loadQueries(queryFS, "queries")
	if err != nil {
		s.err = err
		return s
	}
	for name, q := range qs {
		qs[name] = forDB(q, db)
	}
	s.queries = qs
	return s
}

// SubjectHistory implements Reader.SubjectHistory from access_by_subject.
func (s *ClickHouseStore) SubjectHistory(ctx context.Context, q SubjectQuery, fn func(*SubjectAccess) error) error {
	const op = "subject history"
	args, empty, err := s.subjectArgs(op, q)
	if err != nil || empty {
		return err
	}
	return streamRows(ctx, s, op, qSubjectHistory, args, scanSubjectAccess, fn)
}

func scanSubjectAccess(rows driver.Rows, a *SubjectAccess) error {
	var (
		at         time.Time
		ms         uint16
		records    uint64
		categories []string
	)
	if err := rows.Scan(&a.EventID, &at, &ms, &a.Org, &a.Source, &a.ActorID, &a.ActorType, &a.ActorRole,
		&a.ActorDepartment, &a.Action, &a.SubjectType, &categories, &records, &a.Purpose, &a.Relationship,
		&a.Outcome); err != nil {
		return err
	}
	a.OccurredAt = msTime(at, ms)
	a.Categories = normCategories(categories)
	a.RecordCount = int64(records)
	return nil
}

// CountSubjectHistory implements Reader.CountSubjectHistory.
func (s *ClickHouseStore) CountSubjectHistory(ctx context.Context, q SubjectQuery) (int64, error) {
	const op = "count subject history"
	args, empty, err := s.subjectArgs(op, q)
	if err != nil || empty {
		return 0, err
	}
	return s.count(ctx, op, qSubjectHistoryCount, args)
}

// subjectArgs checks q and returns the parameters of the subject queries;
// empty is true when no stored time can be in q's range.
func (s *ClickHouseStore) subjectArgs(op string, q SubjectQuery) (args []any, empty bool, err error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, false, err
	}
	r, empty := rangeArgs(q.TimeRange)
	return append([]any{q.SubjectID}, r...), empty, nil
}

// ActorHistory implements Reader.ActorHistory from access_by_actor.
func (s *ClickHouseStore) ActorHistory(ctx context.Context, q ActorQuery, fn func(*ActorAccess) error) error {
	const op = "actor history"
	args, empty, err := s.actorArgs(op, q)
	if err != nil || empty {
		return err
	}
	return streamRows(ctx, s, op, qActorHistory, args, scanActorAccess, fn)
}

func scanActorAccess(rows driver.Rows, a *ActorAccess) error {
	var (
		at         time.Time
		ms         uint16
		minor      uint8
		records    uint64
		categories []string
	)
	if err := rows.Scan(&a.EventID, &at, &ms, &a.ActorType, &a.ActorRole, &a.ActorDepartment, &a.Action,
		&a.SubjectID, &a.SubjectType, &minor, &categories, &records, &a.Relationship, &a.Outcome); err != nil {
		return err
	}
	a.OccurredAt = msTime(at, ms)
	a.SubjectMinor = minor != 0
	a.Categories = normCategories(categories)
	a.RecordCount = int64(records)
	return nil
}

// CountActorHistory implements Reader.CountActorHistory.
func (s *ClickHouseStore) CountActorHistory(ctx context.Context, q ActorQuery) (int64, error) {
	const op = "count actor history"
	args, empty, err := s.actorArgs(op, q)
	if err != nil || empty {
		return 0, err
	}
	return s.count(ctx, op, qActorHistoryCount, args)
}

// ActorActivity implements Reader.ActorActivity from access_by_actor.
func (s *ClickHouseStore) ActorActivity(ctx context.Context, q ActorQuery) ([]ActorHour, error) {
	const op = "actor activity"
	args, empty, err := s.actorArgs(op, q)
	if err != nil || empty {
		return nil, err
	}
	return queryAll(ctx, s, op, qActorActivity, args, func(rows driver.Rows, h *ActorHour) error {
		var hour, events, subjects, records, denied uint64
		if err := rows.Scan(&hour, &h.Category, &events, &subjects, &records, &denied); err != nil {
			return err
		}
		h.Hour = unixTime(hour)
		h.Events, h.Subjects, h.Records, h.Denied = int64(events), int64(subjects), int64(records), int64(denied)
		return nil
	})
}

// actorArgs checks q and returns the parameters of the actor queries;
// empty is true when no stored time can be in q's range.
func (s *ClickHouseStore) actorArgs(op string, q ActorQuery) (args []any, empty bool, err error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, false, err
	}
	r, empty := rangeArgs(q.TimeRange)
	return append([]any{q.Org, q.ActorID}, r...), empty, nil
}

// TopActors implements Reader.TopActors from access_by_actor.
func (s *ClickHouseStore) TopActors(ctx context.Context, q TopActorsQuery) ([]TopActor, error) {
	const op = "top actors"
	args, empty, err := s.topActorsArgs(op, q)
	if err != nil || empty {
		return nil, err
	}
	return queryAll(ctx, s, op, qTopActors, args, func(rows driver.Rows, a *TopActor) error {
		var events, subjects, sensitive, sensitiveSubjects, records uint64
		if err := rows.Scan(&a.Org, &a.ActorID, &events, &subjects, &sensitive, &sensitiveSubjects, &records); err != nil {
			return err
		}
		a.Events, a.Subjects, a.SensitiveEvents = int64(events), int64(subjects), int64(sensitive)
		a.SensitiveSubjects, a.Records = int64(sensitiveSubjects), int64(records)
		return nil
	})
}

func (s *ClickHouseStore) topActorsArgs(op string, q TopActorsQuery) (args []any, empty bool, err error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, false, err
	}
	r, empty := rangeArgs(q.TimeRange)
	args = append([]any{sensitiveCategories(), q.Org, q.Org}, r...)
	return append(args, string(q.By), q.Limit), empty, nil
}

// sensitiveCategories is event.SensitiveCategories as strings.
func sensitiveCategories() []string {
	cs := event.SensitiveCategories()
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// AlertCounts implements Reader.AlertCounts from alerts.
func (s *ClickHouseStore) AlertCounts(ctx context.Context, q AlertCountsQuery) ([]AlertCount, error) {
	const op = "alert counts"
	args, empty, err := s.alertCountsArgs(op, q)
	if err != nil || empty {
		return nil, err
	}
	return queryAll(ctx, s, op, qAlertCounts, args, func(rows driver.Rows, c *AlertCount) error {
		var bucket, alerts, open, events uint64
		if err := rows.Scan(&bucket, &c.RuleID, &c.Severity, &alerts, &open, &events); err != nil {
			return err
		}
		c.Bucket = unixTime(bucket)
		c.Alerts, c.Open, c.Events = int64(alerts), int64(open), int64(events)
		return nil
	})
}

func (s *ClickHouseStore) alertCountsArgs(op string, q AlertCountsQuery) (args []any, empty bool, err error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, false, err
	}
	bucket := uint32(q.Bucket / time.Second) // 60..86400 (Check)
	r, empty := rangeArgs(q.TimeRange)
	return append([]any{bucket, bucket}, r...), empty, nil
}

// Incidents implements Reader.Incidents from incidents and notices.
func (s *ClickHouseStore) Incidents(ctx context.Context, q IncidentQuery) ([]IncidentSummary, error) {
	const op = "incidents"
	args, err := s.incidentsArgs(op, q)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, s, op, qIncidents, args, func(rows driver.Rows, i *IncidentSummary) error {
		var (
			detected, aware                                   time.Time
			detectedMs, awareMs                               uint16
			alerts, people, minors, transitions, open, nextMs uint64
			overdue                                           uint64
		)
		if err := rows.Scan(&i.IncidentID, &i.State, &i.Severity, &i.Org, &i.ActorID, &detected, &detectedMs,
			&aware, &awareMs, &alerts, &people, &minors, &transitions, &open, &nextMs, &overdue); err != nil {
			return err
		}
		i.DetectedAt = msTime(detected, detectedMs)
		i.AwareAt = optionalTime(msTime(aware, awareMs))
		i.NextDeadline = optionalTime(unixMilliTime(nextMs))
		i.Alerts, i.ScopePeople, i.ScopeMinors, i.Transitions = int64(alerts), int64(people), int64(minors), int64(transitions)
		i.OpenNotices, i.Overdue = int64(open), int64(overdue)
		return nil
	})
}

func (s *ClickHouseStore) incidentsArgs(op string, q IncidentQuery) ([]any, error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, err
	}
	states := append([]string{}, q.States...) // never nil: the query binds an array
	return []any{states, states, nowMilli(q.Now), q.Limit}, nil
}

// NoticeProgress implements Reader.NoticeProgress from notices.
func (s *ClickHouseStore) NoticeProgress(ctx context.Context, q NoticeQuery) ([]NoticeProgress, error) {
	const op = "notice progress"
	args, err := s.noticeArgs(op, q)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, s, op, qNoticeProgress, args, func(rows driver.Rows, p *NoticeProgress) error {
		var total, planned, approved, sending, sent, failed, skipped, overdue, attempts uint64
		if err := rows.Scan(&p.IncidentID, &p.Channel, &total, &planned, &approved, &sending, &sent, &failed,
			&skipped, &overdue, &attempts); err != nil {
			return err
		}
		p.Total, p.Planned, p.Approved, p.Sending = int64(total), int64(planned), int64(approved), int64(sending)
		p.Sent, p.Failed, p.Skipped = int64(sent), int64(failed), int64(skipped)
		p.Overdue, p.Attempts = int64(overdue), int64(attempts)
		return nil
	})
}

func (s *ClickHouseStore) noticeArgs(op string, q NoticeQuery) ([]any, error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, err
	}
	return []any{nowMilli(q.Now), q.IncidentID, q.IncidentID}, nil
}

// IngestRate implements Reader.IngestRate from access_events and
// device_events.
func (s *ClickHouseStore) IngestRate(ctx context.Context, r TimeRange) ([]IngestMinute, error) {
	const op = "ingest rate"
	args, empty, err := s.ingestArgs(op, r)
	if err != nil || empty {
		return nil, err
	}
	return queryAll(ctx, s, op, qIngestRate, args, func(rows driver.Rows, m *IngestMinute) error {
		var minute, events uint64
		if err := rows.Scan(&minute, &m.Source, &m.Kind, &events); err != nil {
			return err
		}
		m.Minute = unixTime(minute)
		m.Events = int64(events)
		return nil
	})
}

func (s *ClickHouseStore) ingestArgs(op string, r TimeRange) (args []any, empty bool, err error) {
	if err := s.check(op, r.Check()); err != nil {
		return nil, false, err
	}
	a, empty := rangeArgs(r)
	return slices.Concat(a, a), empty, nil // access_events, then device_events
}

// DeadLetterCounts implements Reader.DeadLetterCounts from dead_letters.
func (s *ClickHouseStore) DeadLetterCounts(ctx context.Context, r TimeRange) ([]DeadLetterCount, error) {
	const op = "dead letter counts"
	args, empty, err := s.deadLetterArgs(op, r)
	if err != nil || empty {
		return nil, err
	}
	return queryAll(ctx, s, op, qDeadLetterCounts, args, func(rows driver.Rows, c *DeadLetterCount) error {
		var count, bytes uint64
		if err := rows.Scan(&c.Reason, &c.Source, &count, &bytes); err != nil {
			return err
		}
		c.Count, c.Bytes = int64(count), int64(bytes)
		return nil
	})
}

func (s *ClickHouseStore) deadLetterArgs(op string, r TimeRange) (args []any, empty bool, err error) {
	if err := s.check(op, r.Check()); err != nil {
		return nil, false, err
	}
	args, empty = rangeArgs(r)
	return args, empty, nil
}

// check returns the error of a query's Check (wrapping ErrBadQuery), or
// the store's own error, named by op; nil when the query can run.
func (s *ClickHouseStore) check(op string, err error) error {
	if err == nil {
		err = s.err
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// count runs a query answering one UInt64.
func (s *ClickHouseStore) count(ctx context.Context, op, name string, args []any) (int64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, s.queries[name], args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: %s: %w", op, err)
	}
	return int64(n), nil
}

// streamRows runs query name and calls fn with each row as scan reads it
// into a new T, as the rows arrive (clickhouse-go hands them over block by
// block). An error from fn cancels the query (rows.Close would otherwise
// read the rest of the result) and is returned as is; other errors are
// wrapped with op.
func streamRows[T any](ctx context.Context, s *ClickHouseStore, op, name string, args []any,
	scan func(driver.Rows, *T) error, fn func(*T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, s.queries[name], args...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	stop := func() {
		cancel()
		_ = rows.Close()
	}
	for rows.Next() {
		v := new(T)
		if err := scan(rows, v); err != nil {
			stop()
			return fmt.Errorf("store: %s: %w", op, err)
		}
		if err := fn(v); err != nil {
			stop()
			return err
		}
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// queryAll runs query name and returns its rows, each read by scan; nil
// when there is none.
func queryAll[T any](ctx context.Context, s *ClickHouseStore, op, name string, args []any,
	scan func(driver.Rows, *T) error) ([]T, error) {
	var out []T
	err := streamRows(ctx, s, op, name, args, scan, func(v *T) error {
		out = append(out, *v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ScanEvents implements EventScanner.ScanEvents: scan_access_events and
// scan_device_events run at once (two pooled connections) and are merged
// in event-time order, access before device on a tie.
func (s *ClickHouseStore) ScanEvents(ctx context.Context, q ScanQuery, fn func(*StoredEvent) error) error {
	const op = "scan events"
	args, empty, err := s.scanArgs(op, q)
	if err != nil || empty {
		return err
	}
	// Cancel before Close: Close alone would read the rest of a result
	// that fn's error or the other query's failure left unread.
	ctx, cancel := context.WithCancel(ctx)
	var opened []driver.Rows
	defer func() {
		cancel()
		for _, rows := range opened {
			_ = rows.Close()
		}
	}()
	open := func(name string) (driver.Rows, error) {
		rows, err := s.conn.Query(ctx, s.queries[name], args...)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %s: %w", op, name, err)
		}
		opened = append(opened, rows)
		return rows, nil
	}
	ar, err := open(qScanAccessEvents)
	if err != nil {
		return err
	}
	dr, err := open(qScanDeviceEvents)
	if err != nil {
		return err
	}
	var (
		a *event.AccessEvent
		d *event.DeviceEvent
	)
	nextAccess := func() error {
		a = nil
		if ar.Next() {
			a = new(event.AccessEvent)
			return scanStoredAccess(ar, a)
		}
		return ar.Err()
	}
	nextDevice := func() error {
		d = nil
		if dr.Next() {
			d = new(event.DeviceEvent)
			return scanStoredDevice(dr, d)
		}
		return dr.Err()
	}
	if err := nextAccess(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := nextDevice(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	for a != nil || d != nil {
		if a != nil && (d == nil || eventBefore(a.OccurredAt.Time, a.EventID, d.OccurredAt.Time, d.EventID)) {
			if err := fn(&StoredEvent{Access: a}); err != nil {
				return err
			}
			if err := nextAccess(); err != nil {
				return fmt.Errorf("store: %s: %w", op, err)
			}
			continue
		}
		if err := fn(&StoredEvent{Device: d}); err != nil {
			return err
		}
		if err := nextDevice(); err != nil {
			return fmt.Errorf("store: %s: %w", op, err)
		}
	}
	return nil
}

// scanArgs are the parameters of scan_access_events and
// scan_device_events.
func (s *ClickHouseStore) scanArgs(op string, q ScanQuery) (args []any, empty bool, err error) {
	if err := s.check(op, q.Check()); err != nil {
		return nil, false, err
	}
	args, empty = rangeArgs(q.TimeRange)
	return append(args, q.Org, q.Org), empty, nil
}

// alertIDsArgs are the parameters of alert_ids.
func (s *ClickHouseStore) alertIDsArgs(op string, r TimeRange) (args []any, empty bool, err error) {
	if err := s.check(op, r.Check()); err != nil {
		return nil, false, err
	}
	args, empty = rangeArgs(r)
	return args, empty, nil
}

// eventBefore orders events by time then id; equal keys go to the first
// (access before device).
func eventBefore(t1 time.Time, id1 string, t2 time.Time, id2 string) bool {
	if c := t1.Compare(t2); c != 0 {
		return c < 0
	}
	return id1 <= id2
}

func scanStoredAccess(rows driver.Rows, e *event.AccessEvent) error {
	var (
		occurred, received             time.Time
		occurredMs, receivedMs         uint16
		actorType, action, subjectType string
		minor, vip, employee           uint8
		cats, keys, values             []string
		records                        uint64
		relationship, outcome          string
	)
	g := &e.Client.Geo
	if err := rows.Scan(&e.EventID, &occurred, &occurredMs, &received, &receivedMs, &e.Source, &e.Org,
		&e.Actor.ID, &actorType, &e.Actor.Role, &e.Actor.Department, &action,
		&e.Subject.ID, &subjectType, &minor, &vip, &employee, &cats, &records, &e.Purpose,
		&relationship, &outcome, &e.Client.IP, &e.Client.UserAgent, &e.Client.DeviceID,
		&g.Country, &g.Region, &g.City, &g.Lat, &g.Lon, &e.SessionID, &e.RequestID, &keys, &values); err != nil {
		return err
	}
	e.OccurredAt = event.Timestamp{Time: msTime(occurred, occurredMs)}
	e.ReceivedAt = event.Timestamp{Time: optionalTime(msTime(received, receivedMs))}
	e.Actor.Type = event.ActorType(actorType)
	e.Action = event.Action(action)
	e.Subject.Type = event.SubjectType(subjectType)
	e.Subject.Minor, e.Subject.VIP, e.Subject.Employee = minor != 0, vip != 0, employee != 0
	for _, c := range normCategories(cats) {
		e.Categories = append(e.Categories, event.Category(c))
	}
	e.RecordCount = int64(records)
	e.Relationship = event.Relationship(relationship)
	e.Outcome = event.Outcome(outcome)
	e.Attrs = attrMap(keys, values)
	return nil
}

func scanStoredDevice(rows driver.Rows, e *event.DeviceEvent) error {
	var (
		occurred, received     time.Time
		occurredMs, receivedMs uint16
		kind, outcome          string
		sig                    [9]uint8
		lat, lon               *float64
		accuracy               float64
		keys, values           []string
	)
	if err := rows.Scan(&e.EventID, &occurred, &occurredMs, &received, &receivedMs, &e.Source, &e.Org,
		&e.AccountID, &e.DeviceID, &kind, &e.Device.Model, &e.Device.OS, &e.Device.OSVersion, &e.Device.AppVersion,
		&sig[0], &sig[1], &sig[2], &sig[3], &sig[4], &sig[5], &sig[6], &sig[7], &sig[8],
		&e.Network.IP, &e.Network.Carrier, &e.Network.WiFiBSSID, &lat, &lon, &accuracy, &outcome,
		&keys, &values); err != nil {
		return err
	}
	e.OccurredAt = event.Timestamp{Time: msTime(occurred, occurredMs)}
	e.ReceivedAt = event.Timestamp{Time: optionalTime(msTime(received, receivedMs))}
	e.Kind = event.DeviceKind(kind)
	e.Signals = event.Signals{Emulator: sig[0] != 0, Rooted: sig[1] != 0, HookFramework: sig[2] != 0,
		Debugger: sig[3] != 0, AppTampered: sig[4] != 0, ProxyOrVPN: sig[5] != 0, MultiOpen: sig[6] != 0,
		LocationSpoofed: sig[7] != 0, RemoteControl: sig[8] != 0}
	if lat != nil && lon != nil {
		e.Location = &event.Location{Lat: *lat, Lon: *lon, AccuracyM: accuracy}
	}
	e.Outcome = event.Outcome(outcome)
	e.Attrs = attrMap(keys, values)
	return nil
}

// attrMap joins the parallel attr_keys / attr_values arrays; nil when
// empty.
func attrMap(keys, values []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		if i < len(values) {
			m[k] = values[i]
		}
	}
	return m
}

// AlertIDs implements EventScanner.AlertIDs from alerts.
func (s *ClickHouseStore) AlertIDs(ctx context.Context, r TimeRange, fn func(string) error) error {
	const op = "alert ids"
	args, empty, err := s.alertIDsArgs(op, r)
	if err != nil || empty {
		return err
	}
	return streamRows(ctx, s, op, qAlertIDs, args, func(rows driver.Rows, id *string) error {
		return rows.Scan(id)
	}, func(id *string) error { return fn(*id) })
}

// maxStoredMilli is the end of what a DateTime holds, in Unix
// milliseconds: one second past its last second.
const maxStoredMilli = (maxDateTime + 1) * 1000

// rangeArgs returns r as the queries' four range parameters: the first and
// the last whole second of the range on the DateTime column (for the index
// and the partitions) and its bounds in Unix milliseconds, from inclusive,
// to exclusive. The bounds are r's at millisecond precision (truncated, as
// the stored times are) and clamped to what a DateTime holds; empty is true
// when nothing stored can be in r.
func rangeArgs(r TimeRange) (args []any, empty bool) {
	from := max(r.From.UnixMilli(), 0)
	to := min(r.To.UnixMilli(), maxStoredMilli)
	if to <= from {
		return []any{uint32(0), uint32(0), uint64(0), uint64(0)}, true
	}
	return []any{uint32(from / 1000), uint32((to - 1) / 1000), uint64(from), uint64(to)}, false
}

// nowMilli is a query's Now in Unix milliseconds, clamped to the stored
// range (a time before 1970 is before every stored time).
func nowMilli(t time.Time) uint64 {
	return uint64(min(max(t.UnixMilli(), 0), maxStoredMilli))
}

// msTime joins a DateTime and its *_ms column into a UTC time.
func msTime(sec time.Time, ms uint16) time.Time {
	return time.UnixMilli(sec.Unix()*1000 + int64(ms)).UTC()
}

// unixTime is a UTC time from Unix seconds.
func unixTime(sec uint64) time.Time { return time.Unix(int64(sec), 0).UTC() }

// unixMilliTime is a UTC time from Unix milliseconds.
func unixMilliTime(ms uint64) time.Time { return time.UnixMilli(int64(ms)).UTC() }

// optionalTime maps 1970-01-01T00:00:00Z, how the schema stores an absent
// time, to the zero time.Time.
func optionalTime(t time.Time) time.Time {
	if t.Equal(epoch) {
		return time.Time{}
	}
	return t
}

// normCategories returns a stored category list sorted, without
// duplicates and never nil (an event without categories has [], as the
// contract suite reads the Reader's "lists are sorted and unique").
func normCategories(cs []string) []string {
	if cs == nil {
		return []string{}
	}
	slices.Sort(cs)
	return slices.Compact(cs)
}
