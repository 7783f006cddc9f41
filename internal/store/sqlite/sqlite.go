package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-audit/vigil/internal/store"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// Options configures Open. The zero value opens for reading and writing
// with the defaults below.
type Options struct {
	// ReadOnly opens an existing store for reading only, while another
	// process may be writing it (`vigil report --data DIR` next to a
	// running `vigil up`): the file is opened with mode=ro, nothing is
	// migrated, and Open fails with ErrNoSchema or ErrSchemaTooNew when the
	// schema is missing or newer than this build knows. Write then fails.
	ReadOnly bool
	// BusyTimeout is how long a statement waits for a lock another
	// connection or process holds before failing with "database is
	// locked". Zero means 10 s.
	BusyTimeout time.Duration
	// Readers is the number of connections queries use at once. Zero
	// means 4.
	Readers int
}

// Defaults of Options.
const (
	DefaultBusyTimeout = 10 * time.Second
	DefaultReaders     = 4
)

// ErrReadOnly is returned by Write on a store opened with
// Options.ReadOnly.
var ErrReadOnly = errors.New("store opened read-only")

// Store is the embedded store: a SQLite database file in WAL mode, so that
// queries (from this process or another one opened ReadOnly) run while a
// batch is written. It implements store.Store. Its methods may be called
// from several goroutines; writes are serialised on one connection,
// queries use a pool of read-only connections.
type Store struct {
	path     string
	readOnly bool
	write    *sql.DB // nil when read-only; one connection
	read     *sql.DB
	ws       *writeStmts
	rs       *readStmts

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the store in the SQLite file at path, creating the file (not
// its directory) and the schema if needed, unless opts.ReadOnly. Two
// processes may open the same file at once: migrations run in one
// exclusive transaction each and are recorded in schema_migrations, so the
// second finds them done. Errors name the path: "sqlite store: open
// /data/vigil.db: …".
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	s, err := open(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: open %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string, opts Options) (_ *Store, err error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Readers <= 0 {
		opts.Readers = DefaultReaders
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := checkPath(abs, opts.ReadOnly); err != nil {
		return nil, err
	}
	s := &Store{path: path, readOnly: opts.ReadOnly}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	busy := "busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")"
	if !opts.ReadOnly {
		// The writer: WAL so readers never wait for it; synchronous FULL so
		// that a batch is on disk when Write returns (the sink commits its
		// Kafka offsets then); BEGIN IMMEDIATE so that a transaction takes
		// the write lock at its start and two writers (two processes) wait
		// on busy_timeout instead of failing on a lock upgrade. A 64 MiB
		// page cache keeps the indexes' hot pages in memory, and
		// checkpointing every 8192 WAL pages (32 MiB) instead of 1000
		// writes a page rewritten by consecutive batches to the database
		// once: both measured by BenchmarkWriteAccess.
		s.write, err = openBusy(ctx, abs, url.Values{
			"_pragma": {busy, "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "cache_size(-65536)", "wal_autocheckpoint(8192)"},
			"_txlock": {"immediate"},
		}, opts.BusyTimeout)
		if err != nil {
			return nil, fmt.Errorf("writer connection: %w", err)
		}
		s.write.SetMaxOpenConns(1)
		if err := migrate(ctx, s.write); err != nil {
			return nil, fmt.Errorf("migrating: %w", err)
		}
	}
	readParams := url.Values{"_pragma": {busy, "query_only(1)"}}
	if opts.ReadOnly {
		readParams.Set("mode", "ro")
	}
	s.read, err = openDB(abs, readParams)
	if err != nil {
		return nil, fmt.Errorf("reader connection: %w", err)
	}
	s.read.SetMaxOpenConns(opts.Readers)
	s.read.SetMaxIdleConns(opts.Readers)
	if opts.ReadOnly {
		if err := checkSchema(ctx, s.read); err != nil {
			return nil, err
		}
	}
	if s.rs, err = prepareReads(ctx, s.read); err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if s.ws, err = prepareWrites(ctx, s.write); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkPath gives clear errors for the usual mistakes before SQLite gives
// its terse "unable to open database file".
func checkPath(abs string, readOnly bool) error {
	fi, err := os.Stat(abs)
	switch {
	case err == nil && fi.IsDir():
		return errors.New("is a directory")
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	case readOnly:
		return fmt.Errorf("no store there (a read-only open never creates one): %w", bare(err))
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("directory %s: %w", dir, bare(err))
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// bare is the reason of a path error without the path, which the
// messages above already name.
func bare(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// openDB opens a connection pool on the file with the driver parameters
// (modernc.org/sqlite reads _pragma and _txlock, SQLite reads mode) and
// checks that a connection opens.
// openBusy is openDB retried while SQLite answers SQLITE_BUSY, for at
// most timeout: switching a new database to WAL needs a lock that SQLite
// does not wait for (busy_timeout does not apply), so two processes
// creating the store at once would otherwise fail.
func openBusy(ctx context.Context, abs string, params url.Values, timeout time.Duration) (*sql.DB, error) {
	deadline := time.Now().Add(timeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		db, err := openDB(abs, params)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || time.Now().Add(wait).After(deadline) {
			return db, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a lock not taken.
const sqliteBusy = 5

func openDB(abs string, params url.Values) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: abs, RawQuery: params.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the store's statements and connections; the last
// connection to close checkpoints the WAL into the database file. It is
// safe to call more than once; later calls return the first call's
// result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.ws != nil {
			errs = append(errs, s.ws.close())
		}
		if s.rs != nil {
			errs = append(errs, s.rs.close())
		}
		if s.read != nil {
			errs = append(errs, s.read.Close())
		}
		if s.write != nil {
			errs = append(errs, s.write.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite store: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// closeAll closes prepared statements.
func closeAll(stmts ...*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
