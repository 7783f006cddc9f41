package store

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The schema of the system of record, as versioned migration files
// (migrations/NNNN_name.sql, applied in version order by Migrate) and the
// bootstrap that creates the database and the schema_migrations table
// (bootstrap.sql). Every statement must run on ClickHouse 18.16 and on
// current ClickHouse; scripts/chdb_check.py runs them all in chDB.
//
//go:embed bootstrap.sql migrations/*.sql
var schemaFS embed.FS

// DBPlaceholder is replaced in every schema statement by the target
// database's name.
const DBPlaceholder = "${db}"

// Migration is one schema migration file.
type Migration struct {
	// Version is the file's number (0001_initial.sql is version 1).
	Version uint32
	// Name is the file's base name, e.g. "0001_initial.sql".
	Name string
	// Checksum is the hex SHA-256 of the file; Migrate refuses to run when
	// a migration recorded as applied has changed since.
	Checksum string
	// Statements are the file's statements without comments, in order,
	// with DBPlaceholder where the database name goes.
	Statements []string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) { return loadMigrations(schemaFS, "migrations") }

// bootstrapStatements returns the statements of bootstrap.sql.
func bootstrapStatements() ([]string, error) {
	b, err := schemaFS.ReadFile("bootstrap.sql")
	if err != nil {
		return nil, err
	}
	stmts, err := SplitStatements(string(b))
	if err != nil {
		return nil, fmt.Errorf("bootstrap.sql: %w", err)
	}
	return stmts, nil
}

// loadMigrations reads every *.sql file in dir of fsys. File names must be
// NNNN_name.sql; versions must run 1, 2, 3… without gaps or repeats, so a
// migration merged out of order or numbered twice fails the unit tests
// rather than a deployment.
func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		sub := migrationName.FindStringSubmatch(e.Name())
		if sub == nil {
			return nil, fmt.Errorf("store: migrations: %s: file name is not NNNN_name.sql (lower-case name)", e.Name())
		}
		v, _ := strconv.ParseUint(sub[1], 10, 32) // four digits: cannot fail
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: migrations: %w", err)
		}
		stmts, err := SplitStatements(string(b))
		if err != nil {
			return nil, fmt.Errorf("store: migrations: %s: %w", e.Name(), err)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("store: migrations: %s: no statements", e.Name())
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: uint32(v), Name: e.Name(), Checksum: hex.EncodeToString(sum[:]), Statements: stmts})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return int(a.Version) - int(b.Version) })
	for i, m := range ms {
		if m.Version != uint32(i+1) {
			if i > 0 && m.Version == ms[i-1].Version {
				return nil, fmt.Errorf("store: migrations: %s and %s have the same version %d", ms[i-1].Name, m.Name, m.Version)
			}
			return nil, fmt.Errorf("store: migrations: %s: version %d, want %d (versions run from 1 without gaps)", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}

// SplitStatements splits SQL text into statements on semicolons outside
// string literals ('…', with backslash escapes or a doubled quote), quoted identifiers
// ("…", `…`) and comments (-- to end of line, /* … */). Comments are
// removed; statements are trimmed and empty ones dropped. An unterminated
// literal, identifier or comment is an error naming its line.
func SplitStatements(sql string) ([]string, error) {
	var (
		stmts []string
		cur   strings.Builder
		line  = 1
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ';':
			flush()
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
				continue
			}
			i += j // keep the newline
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			comment := sql[i : i+2+j+2]
			line += strings.Count(comment, "\n")
			cur.WriteByte(' ')
			i += len(comment)
		case c == '\'' || c == '"' || c == '`':
			start, startLine := i, line
			i++
			closed := false
			for i < len(sql) {
				d := sql[i]
				if d == '\\' && i+1 < len(sql) {
					if sql[i+1] == '\n' {
						line++
					}
					i += 2
					continue
				}
				if d == '\n' {
					line++
				}
				i++
				if d == c {
					if i < len(sql) && sql[i] == c { // doubled quote
						i++
						continue
					}
					closed = true
					break
				}
			}
			if !closed {
				return nil, fmt.Errorf("line %d: unterminated %c quote", startLine, c)
			}
			cur.WriteString(sql[start:i])
		default:
			if c == '\n' {
				line++
			}
			cur.WriteByte(c)
			i++
		}
	}
	flush()
	return stmts, nil
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkIdent returns an error unless name is a plain identifier, safe to
// put into SQL unquoted.
func checkIdent(what, name string) error {
	if len(name) > 200 || !identifier.MatchString(name) {
		return fmt.Errorf("store: %s name %q is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)", what, name)
	}
	return nil
}

// forDB puts the database name db into a schema statement.
func forDB(stmt, db string) string { return strings.ReplaceAll(stmt, DBPlaceholder, db) }

// summary is the start of a statement on one line, for error messages.
func summary(stmt string) string {
	s := strings.Join(strings.Fields(stmt), " ")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}
