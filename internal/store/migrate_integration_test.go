//go:build integration

package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// migrateTestDB connects to the real ClickHouse and returns a connection
// and a database name unique to the test, dropped when it ends.
func migrateTestDB(t *testing.T) (context.Context, driver.Conn, string) {
	t.Helper()
	addr := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	conn, err := Open(ctx, ClickHouseConfig{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	db := fmt.Sprintf("vigil_migrate_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("DROP DATABASE %s: %v", db, err)
		}
	})
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s, database %s", version, db)
	return ctx, conn, db
}

func allMigrationNames(t *testing.T) []string {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

func TestMigrateTwiceIntegration(t *testing.T) {
	ctx, conn, db := migrateTestDB(t)
	applied, err := Migrate(ctx, conn, db)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if want := allMigrationNames(t); !reflect.DeepEqual(applied, want) {
		t.Fatalf("first Migrate applied %q, want %q", applied, want)
	}
	applied, err = Migrate(ctx, conn, db)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %q, %v; want nothing applied", applied, err)
	}
	var tables []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	want := []string{"access_by_actor", "access_by_actor_mv", "access_by_subject", "access_by_subject_mv",
		"access_events", "alerts", "dead_letters", "deliveries", "deliveries_mv", "device_events",
		"incident_transitions", "incident_transitions_mv", "incidents", "notices", "schema_migrations"}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("tables = %q\nwant     %q", tables, want)
	}
}

func TestMigrateChangedChecksumIntegration(t *testing.T) {
	ctx, conn, db := migrateTestDB(t)
	if _, err := Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	// A VALUES insert through conn.Exec hangs against 18.16: use the batch API.
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, checksum, applied_at, applied_by)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(uint32(1), "0001_initial.sql", "edited", time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	_, err = Migrate(ctx, conn, db)
	if err == nil || !strings.Contains(err.Error(), "0001_initial.sql was applied with checksum") {
		t.Fatalf("Migrate after a changed migration: error = %v", err)
	}
}

func TestMigrateConcurrentIntegration(t *testing.T) {
	ctx, conn, db := migrateTestDB(t)
	const n = 4
	var (
		wg      sync.WaitGroup
		errs    = make([]error, n)
		applied = make([][]string, n)
	)
	for i := range n {
		wg.Go(func() { applied[i], errs[i] = Migrate(ctx, conn, db) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	t.Logf("applied: %q", applied)
	got, err := Migrate(ctx, conn, db)
	if err != nil || len(got) != 0 {
		t.Fatalf("Migrate after the concurrent ones = %q, %v; want nothing", got, err)
	}
	var versions uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(version) FROM "+db+".schema_migrations").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != uint64(len(allMigrationNames(t))) {
		t.Errorf("schema_migrations holds %d versions, want %d", versions, len(allMigrationNames(t)))
	}
}

// TestSchemaInsertAndRetentionIntegration writes access events (twice, as a
// redelivery would), reads them back through access_by_subject, checks the
// incident history and delivery views, and drops old months with the
// retention helpers.
func TestSchemaInsertAndRetentionIntegration(t *testing.T) {
	ctx, conn, db := migrateTestDB(t)
	if _, err := Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old1 := time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC)
	old2 := time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)
	recent := now.Add(-time.Hour).Truncate(time.Second)
	type ev struct {
		id, subject, actor string
		at                 time.Time
		ms                 uint16
	}
	evs := []ev{
		{"e1", "subj-A", "doc-1", old1, 123},
		{"e2", "subj-A", "doc-2", old2, 999},
		{"e3", "subj-B", "doc-1", old2, 0},
		{"e4", "subj-A", "doc-1", recent, 7},
		{"e5", "", "doc-1", recent, 8}, // a login: no subject
	}
	insert := func() {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+`.access_events (event_id, occurred_at, occurred_ms,
			received_at, received_ms, source, org, actor_id, actor_type, actor_role, actor_department, action,
			subject_id, subject_type, subject_minor, subject_vip, subject_employee, categories, record_count,
			purpose, relationship, outcome, client_ip, client_user_agent, client_device_id, client_geo_country,
			client_geo_region, client_geo_city, client_geo_lat, client_geo_lon, session_id, request_id,
			attr_keys, attr_values)`)
		if err != nil {
			t.Fatal(err)
		}
		lat := 31.2
		for _, e := range evs {
			action, cats := "read", []string{"health", "id_number"}
			if e.subject == "" {
				action, cats = "login", nil
			}
			if err := b.Append(e.id, e.at, e.ms, e.at.Add(time.Second), uint16(0), "ehr", "hosp-1", e.actor,
				"doctor", "physician", "cardiology", action, e.subject, "patient", uint8(0), uint8(1), uint8(0),
				cats, uint64(1), "treatment", "true", "success", "10.0.0.1", "ua", "dev-tok", "CN", "SH",
				"Shanghai", &lat, nil, "sess", "req", []string{"k"}, []string{"v"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insert()
	insert() // redelivery of the same batch

	// Duplicates collapse after a merge; OPTIMIZE … FINAL forces it now.
	for _, tbl := range []string{"access_events", "access_by_subject", "access_by_actor"} {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+"."+tbl+" FINAL"); err != nil {
			t.Fatalf("OPTIMIZE %s: %v", tbl, err)
		}
	}
	rows, err := conn.Query(ctx, "SELECT event_id, occurred_at, occurred_ms, actor_id, categories FROM "+db+
		".access_by_subject WHERE subject_id = ? ORDER BY occurred_at, event_id", "subj-A")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var (
			id, actor string
			at        time.Time
			ms        uint16
			cats      []string
		)
		if err := rows.Scan(&id, &at, &ms, &actor, &cats); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s.%03d %s %v", id, at.UTC().Format(time.DateTime), ms, actor, cats))
	}
	rows.Close()
	want := []string{
		"e1 2024-01-15 09:30:00.123 doc-1 [health id_number]",
		"e2 2024-02-29 23:59:59.999 doc-2 [health id_number]",
		fmt.Sprintf("e4 %s.007 doc-1 [health id_number]", recent.Format(time.DateTime)),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subject history of subj-A =\n%q\nwant\n%q", got, want)
	}
	var actorRows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".access_by_actor WHERE org = 'hosp-1' AND actor_id = 'doc-1'").Scan(&actorRows); err != nil {
		t.Fatal(err)
	}
	if actorRows != 4 {
		t.Errorf("access_by_actor rows for doc-1 = %d, want 4 (e1, e3, e4, e5 once each)", actorRows)
	}

	// An incident written in two states: the history view gets one row per transition.
	for v, n := range []int{1, 2} {
		from := []string{"detected", "triage"}[:n]
		to := []string{"triage", "confirmed"}[:n]
		at := []time.Time{old1, old1.Add(time.Hour)}[:n]
		state := to[n-1]
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+`.incidents (incident_id, version, state, detected_at,
			detected_ms, aware_at, aware_ms, alert_ids, actor_id, org, severity, scope_people, scope_minors,
			scope_categories, scope_jurisdictions, transition_from, transition_to, transition_at, transition_ms,
			transition_by, transition_reason)`)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("inc-1", uint64(v+1), state, old1, uint16(0), time.Unix(0, 0), uint16(0), []string{"a1"},
			"doc-1", "hosp-1", "high", uint64(10), uint64(1), []string{"health"}, []string{"pipl"}, from, to, at,
			make([]uint16, n), make([]string, n), make([]string, n)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatalf("insert incident v%d: %v", v+1, err)
		}
	}
	var history []string
	rows, err = conn.Query(ctx, "SELECT seq, from_state, to_state FROM "+db+".incident_transitions FINAL WHERE incident_id = 'inc-1' ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			seq      uint32
			from, to string
		)
		if err := rows.Scan(&seq, &from, &to); err != nil {
			t.Fatal(err)
		}
		history = append(history, fmt.Sprintf("%d %s>%s", seq, from, to))
	}
	rows.Close()
	if want := []string{"1 detected>triage", "2 triage>confirmed"}; !reflect.DeepEqual(history, want) {
		t.Errorf("incident history = %q, want %q", history, want)
	}

	// Retention: the months 2024-01 and 2024-02 go, the current month stays.
	parts, err := ListPartitions(ctx, conn, db)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanRetention(now, Keep{Months: 6}, parts)
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]bool{}
	for _, p := range plan {
		planned[p.Table+"/"+p.ID] = true
	}
	for _, want := range []string{"access_events/202401", "access_events/202402", "access_by_subject/202401",
		"access_by_subject/202402", "access_by_actor/202401", "incidents/202401", "incident_transitions/202401"} {
		if !planned[want] {
			t.Errorf("retention plan %v lacks %s", plan, want)
		}
	}
	for _, p := range plan {
		if p.ID == now.Format("200601") {
			t.Errorf("plan drops the current month: %+v", p)
		}
	}
	if err := DropPartitions(ctx, conn, db, plan); err != nil {
		t.Fatal(err)
	}
	after, err := ListPartitions(ctx, conn, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range after {
		if p.ID < "202403" {
			t.Errorf("partition %s/%s left after retention", p.Table, p.ID)
		}
	}
	var left uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".access_events").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 2 {
		t.Errorf("access_events holds %d rows after retention, want 2 (e4, e5)", left)
	}
	// A recent month is refused even when asked for directly.
	if err := DropPartitions(ctx, conn, db, []Partition{{Table: "access_events", ID: now.Format("200601")}}); err == nil {
		t.Error("DropPartitions dropped the current month")
	}
}

// TestMigrateRerunAfterInterruptionIntegration: a migration that stopped
// after some statements (before it was recorded) runs again from its first
// statement; each statement must succeed on a schema that already has its
// effect, ADD COLUMN included (18.16 has no ADD COLUMN IF NOT EXISTS).
func TestMigrateRerunAfterInterruptionIntegration(t *testing.T) {
	ctx, conn, db := migrateTestDB(t)
	if _, err := Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for i, stmt := range m.Statements {
			if err := execDDL(ctx, conn, forDB(stmt, db)); err != nil {
				t.Errorf("%s statement %d again: %v", m.Name, i+1, err)
			}
		}
	}
	// A real failure of an ADD COLUMN is still an error.
	err = execDDL(ctx, conn, "ALTER TABLE "+db+".no_such_table ADD COLUMN x String")
	if err == nil {
		t.Fatal("ADD COLUMN on a missing table succeeded")
	}
}
