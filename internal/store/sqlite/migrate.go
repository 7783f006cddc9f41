package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoSchema is wrapped by Open's error when a store opened ReadOnly has
// no schema or lacks a migration this build needs: the file is not a Vigil
// store, or no writer of this version has opened it yet (start `vigil up`
// first).
var ErrNoSchema = errors.New("no Vigil schema in the database")

// ErrSchemaTooNew is wrapped by Open's error when the store's schema has a
// migration this build does not know: a newer Vigil wrote it; use that
// version.
var ErrSchemaTooNew = errors.New("the schema is newer than this build of Vigil")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema change: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// migrations returns the embedded migrations in version order, checking
// their names and that versions run 1, 2, 3… without gaps.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files { // fs.Glob sorts
		m := migrationName.FindStringSubmatch(path.Base(f))
		if m == nil {
			return nil, fmt.Errorf("migration file %s is not named NNNN_name.sql", f)
		}
		v, _ := strconv.Atoi(m[1])
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", f, v, len(ms)+1)
		}
		b, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: m[2], sql: string(b)})
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, all in one
// transaction that begins IMMEDIATE (the write connection's _txlock): a
// second process migrating at the same time waits for the first to commit
// (busy_timeout) and then finds nothing to do.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := checkKnown(applied, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("migrate: record %04d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// appliedVersions reads schema_migrations.
func appliedVersions(ctx context.Context, q querier) (map[int]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// checkKnown refuses a database with a migration this build lacks.
func checkKnown(applied map[int]bool, ms []migration) error {
	for v := range applied {
		if v < 1 || v > len(ms) {
			return fmt.Errorf("%w: it has migration %d, this build knows 1 to %d", ErrSchemaTooNew, v, len(ms))
		}
	}
	return nil
}

// checkSchema is the read-only open's check: every migration this build
// knows is applied and none it does not know.
func checkSchema(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return ErrNoSchema
		}
		return fmt.Errorf("read schema version: %w", err)
	}
	if len(applied) == 0 {
		return ErrNoSchema
	}
	if err := checkKnown(applied, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if !applied[m.version] {
			return fmt.Errorf("%w: migration %04d_%s is not applied yet (open the store for writing once to migrate it)",
				ErrNoSchema, m.version, m.name)
		}
	}
	return nil
}
