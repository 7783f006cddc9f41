package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as another process opening a store
// (see TestOpenFromProcessesAtOnce): it opens the store at the path the
// variable names, writes one event and exits.
const helperEnv = "VIGIL_SQLITE_TEST_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(helperProcess(path))
	}
	goleak.VerifyTestMain(m)
}

func helperProcess(path string) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e := accessEvent(fmt.Sprintf("proc-%d", os.Getpid()), "subj-proc", 0)
	if err := s.Write(ctx, &store.Batch{Access: []event.AccessEvent{e}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = s.Close()
		return 1
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// rawDB opens the store's file with the driver directly, read-only, for
// tests that look at tables the Reader does not show.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// queryInt runs a query returning one integer.
func queryInt(t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// rawWritable opens path with the driver directly for writing (creating
// the file), closed when the test ends.
func rawWritable(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// mustMigrations returns the migration files the package embeds.
func mustMigrations(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return files
}
