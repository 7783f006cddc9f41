//go:build integration

package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestClickHouseBatchInsertIntegration writes 100,000 rows into a MergeTree
// table on the real ClickHouse (18.16 from Debian in the harness) with the
// native protocol's batch insert and reads them back.
func TestClickHouseBatchInsertIntegration(t *testing.T) {
	addr := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	conn, err := Open(ctx, ClickHouseConfig{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatalf("SELECT version(): %v", err)
	}
	t.Logf("ClickHouse %s at %s", version, addr)

	db := fmt.Sprintf("vigil_test_%d", time.Now().UnixNano())
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("CREATE DATABASE: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("DROP DATABASE %s: %v", db, err)
		}
	})

	table := db + ".events"
	// 18.16-compatible: DateTime (not DateTime64), explicit partition and order keys.
	if err := conn.Exec(ctx, `CREATE TABLE `+table+` (
		id UInt64,
		occurred DateTime,
		actor String,
		action String,
		bytes UInt32
	) ENGINE = MergeTree() PARTITION BY toYYYYMM(occurred) ORDER BY (id)`); err != nil {
		t.Fatalf("CREATE TABLE: %v", err)
	}

	const n = 100_000
	base := time.Date(2024, time.January, 31, 23, 0, 0, 0, time.UTC) // rows span two months
	row := func(i uint64) (time.Time, string, string, uint32) {
		return base.Add(time.Duration(i) * time.Second),
			fmt.Sprintf("user-%d", i%97),
			[]string{"login", "logout", "read", "write"}[i%4],
			uint32(i * 3)
	}

	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (id, occurred, actor, action, bytes)")
	if err != nil {
		t.Fatalf("PrepareBatch: %v", err)
	}
	for i := uint64(0); i < n; i++ {
		occurred, actor, action, bytes := row(i)
		if err := batch.Append(i, occurred, actor, action, bytes); err != nil {
			t.Fatalf("Append row %d: %v", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("Send: %v", err)
	}

	var (
		count    uint64
		sumID    uint64
		sumBytes uint64
		parts    uint64
	)
	if err := conn.QueryRow(ctx, "SELECT count(), sum(id), sum(bytes), uniqExact(toYYYYMM(occurred)) FROM "+table).
		Scan(&count, &sumID, &sumBytes, &parts); err != nil {
		t.Fatalf("aggregate query: %v", err)
	}
	wantSumID := uint64(n) * (n - 1) / 2
	if count != n || sumID != wantSumID || sumBytes != 3*wantSumID || parts != 2 {
		t.Fatalf("got count=%d sum(id)=%d sum(bytes)=%d months=%d, want %d, %d, %d, 2",
			count, sumID, sumBytes, parts, n, wantSumID, 3*wantSumID)
	}

	for _, id := range []uint64{0, 1, 3599, 3600, 54_321, n - 1} {
		var (
			gotID    uint64
			occurred time.Time
			actor    string
			action   string
			bytes    uint32
		)
		if err := conn.QueryRow(ctx, "SELECT id, occurred, actor, action, bytes FROM "+table+" WHERE id = ?", id).
			Scan(&gotID, &occurred, &actor, &action, &bytes); err != nil {
			t.Fatalf("row %d: %v", id, err)
		}
		wantOccurred, wantActor, wantAction, wantBytes := row(id)
		if gotID != id || !occurred.Equal(wantOccurred) || actor != wantActor || action != wantAction || bytes != wantBytes {
			t.Errorf("row %d = (%d, %s, %q, %q, %d), want (%d, %s, %q, %q, %d)",
				id, gotID, occurred.UTC(), actor, action, bytes, id, wantOccurred, wantActor, wantAction, wantBytes)
		}
	}

	// Partition pruning key works as retention will use it (drop by month).
	var january uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE toYYYYMM(occurred) = 202401").Scan(&january); err != nil {
		t.Fatalf("count January: %v", err)
	}
	if january != 3600 {
		t.Errorf("January rows = %d, want 3600 (one hour before February)", january)
	}
}

// TestOpenContextEndsOnlyOpening: the context given to Open bounds opening
// only. After it is cancelled the pool must still dial new connections
// (several queries at once need several).
func TestOpenContextEndsOnlyOpening(t *testing.T) {
	addr := testenv.ClickHouse(t)
	octx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	conn, err := Open(octx, ClickHouseConfig{Addr: []string{addr}})
	cancel()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var n uint8
			errs <- conn.QueryRow(ctx, "SELECT toUInt8(sleep(0.3) + 1)").Scan(&n)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("query after Open's context ended: %v", err)
		}
	}
}
