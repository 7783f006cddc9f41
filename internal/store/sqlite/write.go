package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// Column lists of the tables the writer fills, in argument order.
var (
	accessColumns = []string{"event_id", "occurred_ms", "received_ms", "source", "org",
		"actor_id", "actor_type", "actor_role", "actor_department", "action",
		"subject_id", "subject_type", "subject_minor", "subject_vip", "subject_employee",
		"categories", "record_count", "purpose", "relationship", "outcome",
		"client_ip", "client_user_agent", "client_device_id",
		"client_geo_country", "client_geo_region", "client_geo_city", "client_geo_lat", "client_geo_lon",
		"session_id", "request_id", "attrs"}
	deviceColumns = []string{"event_id", "occurred_ms", "received_ms", "source", "org",
		"account_id", "device_id", "kind",
		"device_model", "device_os", "device_os_version", "device_app_version",
		"signal_emulator", "signal_rooted", "signal_hook_framework", "signal_debugger", "signal_app_tampered",
		"signal_proxy_or_vpn", "signal_multi_open", "signal_location_spoofed", "signal_remote_control",
		"network_ip", "network_carrier", "network_wifi_bssid",
		"location_lat", "location_lon", "location_accuracy_m", "outcome", "attrs"}
	deadLetterColumns = []string{"dead_letter_id", "received_ms", "source", "receiver", "kind", "reason",
		"problems", "location", "event_id", "raw", "raw_bytes", "truncated"}
	alertColumns = []string{"alert_id", "version", "rule_id", "rule_title", "severity", "group_key",
		"window_start_ms", "window_end_ms", "first_seen_ms", "last_seen_ms",
		"count", "distinct_subjects", "categories", "evidence", "explanation",
		"actor_id", "device_id", "org", "status", "status_reason", "status_by"}
	incidentColumns = []string{"incident_id", "version", "state", "detected_ms", "aware_ms", "alert_ids",
		"actor_id", "org", "severity", "scope_people", "scope_minors", "scope_categories", "scope_jurisdictions",
		"device_id", "window_start_ms", "window_end_ms", "obligations", "fields", "submissions", "rule_ids"}
	transitionColumns = []string{"incident_id", "seq", "from_state", "to_state", "at_ms", "changed_by", "reason"}
	noticeColumns     = []string{"notice_id", "version", "incident_id", "obligation", "regime",
		"recipient_token", "recipient_kind", "channel", "language", "due_ms", "state", "attempts",
		"sent_ms", "message_id", "last_error"}
	deliveryColumns = []string{"notice_id", "attempt", "version", "incident_id", "due_ms", "channel",
		"recipient_kind", "state", "sent_ms", "message_id", "error"}
)

// insertSQL is an INSERT of one row into table with the given conflict
// clause.
func insertSQL(table string, columns []string, onConflict string) string {
	return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ") " + onConflict
}

// ignoreDuplicate keeps the first copy of an immutable record.
func ignoreDuplicate(id string) string { return "ON CONFLICT (" + id + ") DO NOTHING" }

// newerVersion replaces a changing record only by a higher version: an
// older state written late, or the same version redelivered, changes
// nothing (and reports no affected row).
func newerVersion(table string, key []string, columns []string) string {
	var set []string
	for _, c := range columns {
		if !slices.Contains(key, c) {
			set = append(set, c+" = excluded."+c)
		}
	}
	return "ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ") +
		" WHERE excluded.version > " + table + ".version"
}

// writeStmts are the writer's prepared statements.
type writeStmts struct {
	access, device, deadLetter, alert, incident, clearTransitions, transition, notice, delivery *sql.Stmt
}

func prepareWrites(ctx context.Context, db *sql.DB) (*writeStmts, error) {
	ws := &writeStmts{}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&ws.access, insertSQL("access_events", accessColumns, ignoreDuplicate("event_id"))},
		{&ws.device, insertSQL("device_events", deviceColumns, ignoreDuplicate("event_id"))},
		{&ws.deadLetter, insertSQL("dead_letters", deadLetterColumns, ignoreDuplicate("dead_letter_id"))},
		{&ws.alert, insertSQL("alerts", alertColumns, newerVersion("alerts", []string{"alert_id"}, alertColumns))},
		{&ws.incident, insertSQL("incidents", incidentColumns, newerVersion("incidents", []string{"incident_id"}, incidentColumns))},
		{&ws.clearTransitions, "DELETE FROM incident_transitions WHERE incident_id = ?"},
		{&ws.transition, insertSQL("incident_transitions", transitionColumns, "")},
		{&ws.notice, insertSQL("notices", noticeColumns, newerVersion("notices", []string{"notice_id"}, noticeColumns))},
		{&ws.delivery, insertSQL("deliveries", deliveryColumns, newerVersion("deliveries", []string{"notice_id", "attempt"}, deliveryColumns))},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			_ = ws.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = st
	}
	return ws, nil
}

func (ws *writeStmts) close() error {
	return closeAll(ws.access, ws.device, ws.deadLetter, ws.alert, ws.incident, ws.clearTransitions,
		ws.transition, ws.notice, ws.delivery)
}

// Write stores b in one transaction: all of it or, on error, none of it.
// Events and dead letters already stored (by id) are left as they are;
// alerts, incidents and notices replace the stored record only when their
// Version is higher. When Write returns nil the transaction is on disk
// (synchronous FULL). Errors name the store, the record kind and id:
// "sqlite store: write 3 records to /data/vigil.db: alert 1f…: …". A
// version above math.MaxInt64 is refused with store.ErrInvalidRecord.
func (s *Store) Write(ctx context.Context, b *store.Batch) error {
	if s.readOnly {
		return fmt.Errorf("sqlite store: write to %s: %w", s.path, ErrReadOnly)
	}
	if b == nil || b.Len() == 0 {
		return nil
	}
	if err := s.writeTx(ctx, b); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err) // SQLite says only "interrupted"
		}
		return fmt.Errorf("sqlite store: write %d records to %s: %w", b.Len(), s.path, err)
	}
	return nil
}

func (s *Store) writeTx(ctx context.Context, b *store.Batch) (err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	w := batchWriter{ctx: ctx, tx: tx, ws: s.ws}
	if err := w.write(b); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// batchWriter writes the records of one batch in one transaction.
type batchWriter struct {
	ctx  context.Context
	tx   *sql.Tx
	ws   *writeStmts
	args []any    // reused between rows
	buf  []byte   // JSON being built
	strs []string // categories or keys being sorted
}

func (w *batchWriter) write(b *store.Batch) error {
	if len(b.Access) > 0 {
		st := w.tx.StmtContext(w.ctx, w.ws.access)
		for i := range b.Access {
			if _, err := st.ExecContext(w.ctx, w.accessArgs(&b.Access[i])...); err != nil {
				return fmt.Errorf("access event %s: %w", b.Access[i].EventID, err)
			}
		}
	}
	if len(b.Device) > 0 {
		st := w.tx.StmtContext(w.ctx, w.ws.device)
		for i := range b.Device {
			if _, err := st.ExecContext(w.ctx, w.deviceArgs(&b.Device[i])...); err != nil {
				return fmt.Errorf("device event %s: %w", b.Device[i].EventID, err)
			}
		}
	}
	if len(b.DeadLetters) > 0 {
		st := w.tx.StmtContext(w.ctx, w.ws.deadLetter)
		for i := range b.DeadLetters {
			if _, err := st.ExecContext(w.ctx, w.deadLetterArgs(&b.DeadLetters[i])...); err != nil {
				return fmt.Errorf("dead letter %s: %w", b.DeadLetters[i].DeadLetterID, err)
			}
		}
	}
	for i := range b.Alerts {
		if err := w.alert(&b.Alerts[i]); err != nil {
			return fmt.Errorf("alert %s version %d: %w", b.Alerts[i].Value.AlertID, b.Alerts[i].Version, err)
		}
	}
	for i := range b.Incidents {
		if err := w.incident(&b.Incidents[i]); err != nil {
			return fmt.Errorf("incident %s version %d: %w", b.Incidents[i].Value.IncidentID, b.Incidents[i].Version, err)
		}
	}
	for i := range b.Notices {
		if err := w.notice(&b.Notices[i]); err != nil {
			return fmt.Errorf("notice %s version %d: %w", b.Notices[i].Value.NoticeID, b.Notices[i].Version, err)
		}
	}
	return nil
}

func (w *batchWriter) accessArgs(e *event.AccessEvent) []any {
	g := &e.Client.Geo
	w.args = append(w.args[:0], e.EventID, e.OccurredAt.UnixMilli(), nullMs(e.ReceivedAt), e.Source, e.Org,
		e.Actor.ID, string(e.Actor.Type), e.Actor.Role, e.Actor.Department, string(e.Action),
		e.Subject.ID, string(e.Subject.Type), flag(e.Subject.Minor), flag(e.Subject.VIP), flag(e.Subject.Employee),
		w.categoryJSON(e.Categories), e.RecordCount, e.Purpose, string(e.Relationship), string(e.Outcome),
		e.Client.IP, e.Client.UserAgent, e.Client.DeviceID,
		g.Country, g.Region, g.City, nullFloat(g.Lat), nullFloat(g.Lon),
		e.SessionID, e.RequestID, w.attrsJSON(e.Attrs))
	return w.args
}

func (w *batchWriter) deviceArgs(e *event.DeviceEvent) []any {
	var lat, lon any
	accuracy := 0.0
	if e.Location != nil {
		lat, lon, accuracy = e.Location.Lat, e.Location.Lon, e.Location.AccuracyM
	}
	sig := &e.Signals
	w.args = append(w.args[:0], e.EventID, e.OccurredAt.UnixMilli(), nullMs(e.ReceivedAt), e.Source, e.Org,
		e.AccountID, e.DeviceID, string(e.Kind),
		e.Device.Model, e.Device.OS, e.Device.OSVersion, e.Device.AppVersion,
		flag(sig.Emulator), flag(sig.Rooted), flag(sig.HookFramework), flag(sig.Debugger), flag(sig.AppTampered),
		flag(sig.ProxyOrVPN), flag(sig.MultiOpen), flag(sig.LocationSpoofed), flag(sig.RemoteControl),
		e.Network.IP, e.Network.Carrier, e.Network.WiFiBSSID,
		lat, lon, accuracy, string(e.Outcome), w.attrsJSON(e.Attrs))
	return w.args
}

func (w *batchWriter) deadLetterArgs(d *event.DeadLetter) []any {
	w.args = append(w.args[:0], d.DeadLetterID, d.ReceivedAt.UnixMilli(), d.Source, d.Receiver, d.Kind, d.Reason,
		w.listJSON(d.Problems), d.Location, d.EventID, d.Raw, int64(d.RawBytes), flag(d.Truncated))
	return w.args
}

func (w *batchWriter) alert(v *store.Versioned[event.Alert]) error {
	version, err := versionOf(v.Version)
	if err != nil {
		return err
	}
	a := &v.Value
	_, err = w.tx.StmtContext(w.ctx, w.ws.alert).ExecContext(w.ctx,
		a.AlertID, version, a.RuleID, a.RuleTitle, string(a.Severity), a.GroupKey,
		a.WindowStart.UnixMilli(), nullMs(a.WindowEnd), nullMs(a.FirstSeen), nullMs(a.LastSeen),
		a.Count, a.DistinctSubjects, w.categoryJSON(a.Categories), w.listJSON(a.Evidence), a.Explanation,
		a.ActorID, a.DeviceID, a.Org, string(a.Status), a.StatusReason, a.StatusBy)
	return err
}

// incident upserts the incident and, when this version replaced the
// stored one, its state history.
func (w *batchWriter) incident(v *store.Versioned[event.Incident]) error {
	version, err := versionOf(v.Version)
	if err != nil {
		return err
	}
	i := &v.Value
	res, err := w.tx.StmtContext(w.ctx, w.ws.incident).ExecContext(w.ctx,
		i.IncidentID, version, string(i.State), i.DetectedAt.UnixMilli(), nullMs(i.AwareAt), w.listJSON(i.AlertIDs),
		i.ActorID, i.Org, string(i.Severity), i.Scope.People, i.Scope.Minors,
		w.categoryJSON(i.Scope.Categories), w.listJSON(i.Scope.Jurisdictions),
		i.DeviceID, nullMs(i.WindowStart), nullMs(i.WindowEnd), jsonText(i.Obligations), jsonText(i.Fields), jsonText(i.Submissions),
		w.listJSON(i.RuleIDs))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // an older or equal version: the stored one stays
	}
	if _, err := w.tx.StmtContext(w.ctx, w.ws.clearTransitions).ExecContext(w.ctx, i.IncidentID); err != nil {
		return fmt.Errorf("clear transitions: %w", err)
	}
	st := w.tx.StmtContext(w.ctx, w.ws.transition)
	for n, t := range i.Transitions {
		if _, err := st.ExecContext(w.ctx, i.IncidentID, n+1, string(t.From), string(t.To), nullMs(t.At), t.By, t.Reason); err != nil {
			return fmt.Errorf("transition %d: %w", n+1, err)
		}
	}
	return nil
}

// notice upserts the notice and, when it reports an attempt, the
// attempt's delivery row.
func (w *batchWriter) notice(v *store.Versioned[event.Notice]) error {
	version, err := versionOf(v.Version)
	if err != nil {
		return err
	}
	n := &v.Value
	if _, err := w.tx.StmtContext(w.ctx, w.ws.notice).ExecContext(w.ctx,
		n.NoticeID, version, n.IncidentID, n.Obligation, n.Regime,
		n.RecipientToken, string(n.RecipientKind), string(n.Channel), n.Language, n.DueAt.UnixMilli(), string(n.State),
		int64(n.Attempts), nullMs(n.SentAt), n.MessageID, n.LastError); err != nil {
		return err
	}
	if n.Attempts <= 0 {
		return nil
	}
	if _, err := w.tx.StmtContext(w.ctx, w.ws.delivery).ExecContext(w.ctx,
		n.NoticeID, int64(n.Attempts), version, n.IncidentID, n.DueAt.UnixMilli(), string(n.Channel),
		string(n.RecipientKind), string(n.State), nullMs(n.SentAt), n.MessageID, n.LastError); err != nil {
		return fmt.Errorf("delivery attempt %d: %w", n.Attempts, err)
	}
	return nil
}

// versionOf is v as SQLite's INTEGER (int64).
func versionOf(v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: version %d exceeds SQLite's 64-bit signed integer", store.ErrInvalidRecord, v)
	}
	return int64(v), nil
}

// nullMs is t in Unix milliseconds, or NULL when absent.
func nullMs(t event.Timestamp) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func nullFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func flag(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// categoryJSON is a category list as stored: a JSON array, sorted and
// unique (queries expand it with json_each and count each category once).
func (w *batchWriter) categoryJSON(cs []event.Category) string {
	w.strs = w.strs[:0]
	for _, c := range cs {
		w.strs = append(w.strs, string(c))
	}
	slices.Sort(w.strs)
	return w.listJSON(slices.Compact(w.strs))
}

// listJSON is a list as a JSON array, in its order; nil is [].
func (w *batchWriter) listJSON(list []string) string {
	w.buf = append(w.buf[:0], '[')
	for i, s := range list {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = event.AppendJSONString(w.buf, s)
	}
	w.buf = append(w.buf, ']')
	return string(w.buf)
}

// jsonText is v's JSON, or "" for an empty slice or map.
func jsonText[T any](v T) string {
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlite: %T does not encode: %v", v, err)) // plain data only
	}
	return string(b)
}

// attrsJSON is a string map as a JSON object with sorted keys; nil is {}.
func (w *batchWriter) attrsJSON(m map[string]string) string {
	w.strs = w.strs[:0]
	for k := range m {
		w.strs = append(w.strs, k)
	}
	slices.Sort(w.strs)
	w.buf = append(w.buf[:0], '{')
	for i, k := range w.strs {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = event.AppendJSONString(w.buf, k)
		w.buf = append(w.buf, ':')
		w.buf = event.AppendJSONString(w.buf, m[k])
	}
	w.buf = append(w.buf, '}')
	return string(w.buf)
}
