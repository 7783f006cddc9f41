package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migrate brings database db up to the embedded schema: it creates db and
// its schema_migrations table if missing, then applies, in version order,
// every migration not recorded there, recording each after all its
// statements succeeded. It returns the names of the migrations it applied
// (none when db is up to date).
//
// Running it again, or from several instances at once, is safe:
//
//   - every schema statement is idempotent (CREATE … IF NOT EXISTS), so a
//     migration that two instances apply together, or that failed half-way
//     and runs again, ends in the same schema;
//   - ClickHouse 18.16 refuses a CREATE while another session creates the
//     same table ("… is creating or attaching right now"); Migrate retries
//     such a statement briefly, after which IF NOT EXISTS finds the table;
//   - recording a version twice is harmless: schema_migrations is a
//     ReplacingMergeTree keyed by version and is read with GROUP BY.
//
// Later migrations must keep to this (IF NOT EXISTS / IF EXISTS forms only),
// and must never be edited once applied: Migrate compares each applied
// migration's recorded checksum with the embedded file and refuses to run
// on a mismatch. Errors name the migration file and the statement.
func Migrate(ctx context.Context, conn driver.Conn, db string) (applied []string, err error) {
	if err := checkIdent("database", db); err != nil {
		return nil, err
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	boot, err := bootstrapStatements()
	if err != nil {
		return nil, fmt.Errorf("store: migrate %s: %w", db, err)
	}
	for i, stmt := range boot {
		if err := execDDL(ctx, conn, forDB(stmt, db)); err != nil {
			return nil, fmt.Errorf("store: migrate %s: bootstrap.sql statement %d (%s): %w", db, i+1, summary(stmt), err)
		}
	}
	done, err := appliedMigrations(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if sums, ok := done[m.Version]; ok {
			for _, sum := range sums {
				if sum != m.Checksum {
					return applied, fmt.Errorf("store: migrate %s: %s was applied with checksum %.12s… but the file now has %.12s…: an applied migration must not change; add a new migration instead", db, m.Name, sum, m.Checksum)
				}
			}
			continue
		}
		for i, stmt := range m.Statements {
			if err := execDDL(ctx, conn, forDB(stmt, db)); err != nil {
				return applied, fmt.Errorf("store: migrate %s: %s statement %d (%s): %w", db, m.Name, i+1, summary(stmt), err)
			}
		}
		if err := recordMigration(ctx, conn, db, m); err != nil {
			return applied, fmt.Errorf("store: migrate %s: %s: recording it in schema_migrations: %w", db, m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// appliedMigrations returns the checksums recorded for each applied version.
func appliedMigrations(ctx context.Context, conn driver.Conn, db string) (map[uint32][]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, groupUniqArray(checksum) FROM "+db+".schema_migrations GROUP BY version ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("store: migrate %s: reading schema_migrations: %w", db, err)
	}
	defer rows.Close()
	done := map[uint32][]string{}
	for rows.Next() {
		var (
			v    uint32
			sums []string
		)
		if err := rows.Scan(&v, &sums); err != nil {
			return nil, fmt.Errorf("store: migrate %s: reading schema_migrations: %w", db, err)
		}
		done[v] = sums
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: migrate %s: reading schema_migrations: %w", db, err)
	}
	return done, nil
}

func recordMigration(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, checksum, applied_at, applied_by)")
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	by := fmt.Sprintf("%s pid %d", host, os.Getpid())
	if err := batch.Append(m.Version, m.Name, m.Checksum, time.Now().UTC().Truncate(time.Second), by); err != nil {
		_ = batch.Abort()
		return err
	}
	return batch.Send()
}

// ddlRetries bounds how long execDDL waits out a concurrent CREATE of the
// same object.
const (
	ddlRetries    = 50
	ddlRetryPause = 100 * time.Millisecond
)

// execDDL runs one schema statement, retrying while another session is
// creating the same object (ClickHouse's DDL guard), which happens when two
// instances migrate at once.
func execDDL(ctx context.Context, conn driver.Conn, stmt string) error {
	for attempt := 0; ; attempt++ {
		err := conn.Exec(ctx, stmt)
		if err != nil && columnExists(stmt, err) {
			return nil // added by an earlier, interrupted run (or a concurrent one)
		}
		if err == nil || attempt >= ddlRetries || !concurrentDDL(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waiting out a concurrent CREATE after: %v)", ctx.Err(), err)
		case <-time.After(ddlRetryPause):
		}
	}
}

// addColumn matches an ALTER TABLE … ADD COLUMN statement.
var addColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s`)

// columnExists reports whether err is ClickHouse saying that the column an
// ADD COLUMN statement adds is there already. ClickHouse 18.16 has no ADD
// COLUMN IF NOT EXISTS, so this is how such a statement is idempotent.
func columnExists(stmt string, err error) bool {
	var ex *clickhouse.Exception
	return addColumn.MatchString(stmt) && errors.As(err, &ex) && ex.Code == 44 &&
		strings.Contains(ex.Message, "already exists")
}

// concurrentDDL reports whether err says another session is creating the
// same database or table right now. ClickHouse 18.16 reports it as
// TABLE_ALREADY_EXISTS (57) or DATABASE_ALREADY_EXISTS (82) with "right
// now" in the message even for CREATE … IF NOT EXISTS; later versions wait
// instead.
func concurrentDDL(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 57, 82:
		return strings.Contains(ex.Message, "right now")
	}
	return false
}
