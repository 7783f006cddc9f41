//go:build integration

package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/storetest"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestContractClickHouse holds ClickHouseStore to the Reader contract
// (internal/store/storetest) against the real ClickHouse: every subtest
// gets a fresh database, migrated with store.Migrate and dropped when the
// subtest ends.
func TestContractClickHouse(t *testing.T) {
	addr := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = conn.Close() }()
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		db := fmt.Sprintf("vigil_contract_%d_%d", time.Now().UnixNano(), n.Add(1))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
				t.Errorf("DROP DATABASE %s: %v", db, err)
			}
		})
		if _, err := store.Migrate(ctx, conn, db); err != nil {
			t.Fatalf("Migrate %s: %v", db, err)
		}
		s := store.NewClickHouseStore(conn, db)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
