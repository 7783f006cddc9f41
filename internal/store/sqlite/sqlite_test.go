package sqlite_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"github.com/vigil-audit/vigil/internal/store/storetest"
)

// base is when the test events of this file happen.
var base = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// wide covers every test event.
var wide = store.TimeRange{From: base.Add(-24 * time.Hour), To: base.Add(24 * time.Hour)}

// accessEvent is a complete access event to subject, i milliseconds after
// base.
func accessEvent(id, subject string, i int) event.AccessEvent {
	lat, lon := 30.27, 120.16
	return event.AccessEvent{
		EventID:      id,
		OccurredAt:   event.NewTimestamp(base.Add(time.Duration(i) * time.Millisecond)),
		ReceivedAt:   event.NewTimestamp(base.Add(time.Duration(i)*time.Millisecond + time.Second)),
		Source:       "emr-prod",
		Org:          "hosp-1",
		Actor:        event.Actor{ID: "staff-42", Type: event.ActorDoctor, Role: "attending", Department: "pediatrics"},
		Action:       event.ActionRead,
		Subject:      event.Subject{ID: subject, Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth, event.CategoryContact, event.CategoryPrescription},
		RecordCount:  1,
		Purpose:      "treatment",
		Relationship: event.RelationshipTrue,
		Outcome:      event.OutcomeSuccess,
		Client: event.Client{IP: "10.1.2.3", UserAgent: "EMRClient/4.2", DeviceID: "tok-ws-42",
			Geo: event.Geo{Country: "CN", Region: "Zhejiang", City: "Hangzhou", Lat: &lat, Lon: &lon}},
		SessionID: "sess-3f9a",
		RequestID: "req-" + id,
		Attrs:     map[string]string{"ward": "7B", "terminal": "t-12"},
	}
}

// countSubject is CountSubjectHistory over wide.
func countSubject(t *testing.T, r store.Reader, subject string) int64 {
	t.Helper()
	n, err := r.CountSubjectHistory(t.Context(), store.SubjectQuery{SubjectID: subject, TimeRange: wide})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		readOnly bool
		want     string   // in the message after the "sqlite store: open PATH: " prefix
		is       error    // wrapped, when not nil
		isNot    []string // files that must not be created
	}{
		{name: "empty path", path: "", want: "empty path"},
		{name: "missing directory", path: filepath.Join(dir, "missing", "vigil.db"), want: "directory " + filepath.Join(dir, "missing"),
			is: fs.ErrNotExist},
		{name: "directory", path: dir, want: "is a directory"},
		{name: "parent is a file", path: filepath.Join(file, "vigil.db"), want: "not a directory"},
		{name: "read-only missing file", path: filepath.Join(dir, "none.db"), readOnly: true,
			want: "a read-only open never creates one", is: fs.ErrNotExist, isNot: []string{filepath.Join(dir, "none.db")}},
		{name: "not a database", path: notDB, want: "not a database"},
		{name: "read-only not a database", path: notDB, readOnly: true, want: "not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tt.path, sqlite.Options{ReadOnly: tt.readOnly})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			prefix := "sqlite store: open " + tt.path + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q…%q", err, prefix, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			for _, f := range tt.isNot {
				if _, err := os.Stat(f); err == nil {
					t.Errorf("%s was created", f)
				}
			}
		})
	}
}

func TestReadOnlySchemaChecks(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
		// writable also fails for a read-write open.
		writable bool
	}{
		{"empty database", func(t *testing.T, path string) {
			db := rawWritable(t, path)
			if _, err := db.ExecContext(t.Context(), "CREATE TABLE other (x INTEGER)"); err != nil {
				t.Fatal(err)
			}
		}, sqlite.ErrNoSchema, false},
		{"empty migrations table", func(t *testing.T, path string) {
			db := rawWritable(t, path)
			if _, err := db.ExecContext(t.Context(), "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"); err != nil {
				t.Fatal(err)
			}
		}, sqlite.ErrNoSchema, false},
		{"newer schema", func(t *testing.T, path string) {
			s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db := rawWritable(t, path)
			if _, err := db.ExecContext(t.Context(), "INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01T00:00:00Z')"); err != nil {
				t.Fatal(err)
			}
		}, sqlite.ErrSchemaTooNew, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.db")
			tt.setup(t, path)
			s, err := sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: true})
			if !errors.Is(err, tt.want) {
				if err == nil {
					_ = s.Close()
				}
				t.Fatalf("read-only Open error = %v, want %v", err, tt.want)
			}
			s, err = sqlite.Open(t.Context(), path, sqlite.Options{})
			if tt.writable {
				if !errors.Is(err, tt.want) {
					t.Errorf("Open error = %v, want %v", err, tt.want)
				}
				if err == nil {
					_ = s.Close()
				}
				return
			}
			// A read-write open migrates the file; then read-only works.
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("read-only Open after migration: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	for i := range 3 {
		s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		if err := s.Write(t.Context(), &store.Batch{Access: []event.AccessEvent{accessEvent("e", "subj-1", 0)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	if n, want := queryInt(t, db, "SELECT COUNT(*) FROM schema_migrations"), int64(len(mustMigrations(t))); n != want {
		t.Errorf("schema_migrations has %d rows, want %d (each migration recorded once)", n, want)
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM schema_migrations WHERE version = 1 AND name = 'initial'"); n != 1 {
		t.Error("migration 1 is not recorded as initial")
	}
	if n := queryInt(t, db, "SELECT COUNT(*) FROM access_events"); n != 1 {
		t.Errorf("access_events has %d rows after three opens, want 1", n)
	}
}

// TestOpenFromGoroutinesAtOnce opens one new file from several stores at
// once (each its own connections, as separate processes have): every Open
// succeeds and the migration is applied once.
func TestOpenFromGoroutinesAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = errors.Join(
				s.Write(t.Context(), &store.Batch{Access: []event.AccessEvent{accessEvent(fmt.Sprintf("e-%d", i), "subj-1", i)}}),
				s.Close())
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	db := rawDB(t, path)
	if got, want := queryInt(t, db, "SELECT COUNT(*) FROM schema_migrations"), int64(len(mustMigrations(t))); got != want {
		t.Errorf("schema_migrations has %d rows, want %d", got, want)
	}
	if got := queryInt(t, db, "SELECT COUNT(*) FROM access_events"); got != n {
		t.Errorf("access_events has %d rows, want %d", got, n)
	}
}

// TestOpenFromProcessesAtOnce does the same with real processes (this test
// binary run again, see helperProcess).
func TestOpenFromProcessesAtOnce(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip("no executable to re-run:", err)
	}
	path := filepath.Join(t.TempDir(), "vigil.db")
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	for i := range cmds {
		cmds[i] = exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmds[i].Env = append(os.Environ(), helperEnv+"="+path)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i].String())
		}
	}
	db := rawDB(t, path)
	if got, want := queryInt(t, db, "SELECT COUNT(*) FROM schema_migrations"), int64(len(mustMigrations(t))); got != want {
		t.Errorf("schema_migrations has %d rows, want %d", got, want)
	}
	if got := queryInt(t, db, "SELECT COUNT(*) FROM access_events"); got != n {
		t.Errorf("access_events has %d rows, want one per process (%d)", got, n)
	}
}

// TestReopenKeepsData writes the contract fixture, closes the store and
// opens it again, read-write and read-only: every answer is the same.
func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Batches() {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		s, err := sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, s); after != before {
			t.Errorf("read-only %t: after reopening:\n%s\nbefore:\n%s", ro, after, before)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadOnlyOnLiveStore reads with a read-only store while another
// writes: it sees each committed batch, cannot write, and keeps working
// after the writer closes.
func TestReadOnlyOnLiveStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	w, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	batch := func(from, n int) *store.Batch {
		b := &store.Batch{}
		for i := from; i < from+n; i++ {
			b.Access = append(b.Access, accessEvent(fmt.Sprintf("e-%d", i), "subj-1", i))
		}
		return b
	}
	if err := w.Write(t.Context(), batch(0, 10)); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := countSubject(t, r, "subj-1"); n != 10 {
		t.Errorf("reader sees %d events, want 10", n)
	}
	if err := w.Write(t.Context(), batch(10, 5)); err != nil {
		t.Fatal(err)
	}
	if n := countSubject(t, r, "subj-1"); n != 15 {
		t.Errorf("reader sees %d events after the second batch, want 15", n)
	}
	err = r.Write(t.Context(), batch(100, 1))
	if !errors.Is(err, sqlite.ErrReadOnly) {
		t.Errorf("Write on a read-only store: %v, want ErrReadOnly", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countSubject(t, r, "subj-1"); n != 15 {
		t.Errorf("reader sees %d events after the writer closed, want 15", n)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Write(t.Context(), &store.Batch{Access: []event.AccessEvent{accessEvent("e", "s", 0)}}); err == nil {
		t.Error("Write after Close succeeded")
	}
	if _, err := s.CountSubjectHistory(t.Context(), store.SubjectQuery{SubjectID: "s", TimeRange: wide}); err == nil {
		t.Error("query after Close succeeded")
	}
}

// snapshot renders what every Reader method answers about the contract
// fixture over all time, to compare a store before and after reopening.
func snapshot(t *testing.T, r store.Reader) string {
	t.Helper()
	ctx := t.Context()
	all := store.TimeRange{From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var subject []store.SubjectAccess
	var actor []store.ActorAccess
	answers := []func() (any, error){
		func() (any, error) {
			err := r.SubjectHistory(ctx, store.SubjectQuery{SubjectID: "subj-p1", TimeRange: all},
				func(a *store.SubjectAccess) error { subject = append(subject, *a); return nil })
			return subject, err
		},
		func() (any, error) {
			err := r.ActorHistory(ctx, store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: all},
				func(a *store.ActorAccess) error { actor = append(actor, *a); return nil })
			return actor, err
		},
		func() (any, error) {
			return r.ActorActivity(ctx, store.ActorQuery{Org: "org-a", ActorID: "doc-1", TimeRange: all})
		},
		func() (any, error) {
			return r.TopActors(ctx, store.TopActorsQuery{TimeRange: all, By: store.BySensitive, Limit: store.MaxTopActors})
		},
		func() (any, error) {
			return r.AlertCounts(ctx, store.AlertCountsQuery{TimeRange: all, Bucket: time.Hour})
		},
		func() (any, error) { return r.Incidents(ctx, store.IncidentQuery{Limit: store.MaxIncidents, Now: now}) },
		func() (any, error) { return r.NoticeProgress(ctx, store.NoticeQuery{Now: now}) },
		func() (any, error) { return r.IngestRate(ctx, all) },
		func() (any, error) { return r.DeadLetterCounts(ctx, all) },
	}
	var b strings.Builder
	for i, answer := range answers {
		v, err := answer()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(j) < 10 {
			t.Fatalf("answer %d is empty (%s): the snapshot would prove nothing", i, j)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
