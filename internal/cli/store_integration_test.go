//go:build integration

package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestStoreMigrateRetention runs `vigil store migrate` twice and `vigil store
// retention` (dry run, then --yes) against the real ClickHouse 18.16: only
// partitions older than the period go, the recent month stays.
func TestStoreMigrateRetention(t *testing.T) {
	chAddr := testenv.ClickHouse(t)
	db := fmt.Sprintf("vigil_storecmd_%d", time.Now().UnixNano())
	env := []string{"VIGIL_CLICKHOUSE_ADDR=" + chAddr, "VIGIL_CLICKHOUSE_DATABASE=" + db}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })

	code, out, errOut := run(t, env, "store", "migrate")
	if code != ExitOK || !strings.Contains(out, "Applied to "+db) {
		t.Fatalf("first migrate: exit %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, env, "store", "migrate")
	if code != ExitOK || !strings.Contains(out, "is up to date") {
		t.Fatalf("second migrate: exit %d %q", code, out)
	}

	now := time.Now().UTC()
	mk := func(id string, at time.Time) event.AccessEvent {
		return event.AccessEvent{
			EventID: id, OccurredAt: event.NewTimestamp(at), ReceivedAt: event.NewTimestamp(at), Source: "ehr", Org: "h1",
			Actor: event.Actor{ID: "u1", Type: "doctor"}, Action: "read", Subject: event.Subject{ID: "p_x", Type: "patient"},
			Categories: []event.Category{"health"}, Relationship: event.RelationshipUnknown, Outcome: "success",
		}
	}
	w := store.NewClickHouseWriter(conn, db)
	batch := &store.Batch{Access: []event.AccessEvent{
		mk("old-1", time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC)),
		mk("old-2", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)),
		mk("new-1", now.Add(-time.Hour)),
	}}
	if err := w.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = run(t, env, "store", "--keep", "12mo", "retention")
	if code != ExitOK || !strings.Contains(out, "access_events") || !strings.Contains(out, "2024-01") ||
		!strings.Contains(out, "Nothing was dropped: run again with --yes") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	count := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".access_events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("dry run dropped rows: %d left", n)
	}
	code, out, errOut = run(t, env, "store", "--keep", "12mo", "--yes", "retention")
	if code != ExitOK || !strings.Contains(out, "Dropped") {
		t.Fatalf("retention --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := count(); n != 1 {
		t.Errorf("%d rows left after retention, want only the recent one", n)
	}
	code, out, _ = run(t, env, "store", "--keep", "12mo", "retention")
	if code != ExitOK || !strings.Contains(out, "Nothing to drop") {
		t.Errorf("second retention: exit %d %q", code, out)
	}
}
