package store

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// queryArgs builds, for every query file, the parameters a
// ClickHouseStore binds to it for a valid query, through the same
// functions the methods use.
func queryArgs(t *testing.T) map[string][]any {
	t.Helper()
	s := NewClickHouseStore(nil, "vigil")
	r := TimeRange{From: time.Unix(1700000000, 0), To: time.Unix(1700086400, 0)}
	must := func(args []any, empty bool, err error) []any {
		t.Helper()
		if err != nil || empty {
			t.Fatalf("args: empty %v, %v", empty, err)
		}
		return args
	}
	must2 := func(args []any, err error) []any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return args
	}
	subject := must(s.subjectArgs("test", SubjectQuery{SubjectID: "p_abc", TimeRange: r}))
	actor := must(s.actorArgs("test", ActorQuery{Org: "hosp-1", ActorID: "staff-42", TimeRange: r}))
	return map[string][]any{
		qSubjectHistory:      subject,
		qSubjectHistoryCount: subject,
		qActorHistory:        actor,
		qActorHistoryCount:   actor,
		qActorActivity:       actor,
		qTopActors:           must(s.topActorsArgs("test", TopActorsQuery{TimeRange: r, By: BySubjects, Limit: 10})),
		qAlertCounts:         must(s.alertCountsArgs("test", AlertCountsQuery{TimeRange: r, Bucket: 5 * time.Minute})),
		qIncidents:           must2(s.incidentsArgs("test", IncidentQuery{Limit: 100, Now: r.From})),
		qNoticeProgress:      must2(s.noticeArgs("test", NoticeQuery{IncidentID: "inc-1", Now: r.From})),
		qIngestRate:          must(s.ingestArgs("test", r)),
		qDeadLetterCounts:    must(s.deadLetterArgs("test", r)),
		qScanAccessEvents:    must(s.scanArgs("test", ScanQuery{TimeRange: r})),
		qScanDeviceEvents:    must(s.scanArgs("test", ScanQuery{TimeRange: r, Org: "hosp-1"})),
		qAlertIDs:            must(s.alertIDsArgs("test", r)),
	}
}

// placeholders counts the '?' of a comment-free statement outside string
// literals and quoted identifiers.
func placeholders(stmt string) int {
	n := 0
	var quote byte
	for i := 0; i < len(stmt); i++ {
		c := stmt[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '?':
			n++
		}
	}
	return n
}

// sampleParams returns the values of a query file's "-- params:" line,
// split on commas outside quotes and brackets (what scripts/chdb_check.py
// binds).
func sampleParams(text string) (vals []string, ok bool) {
	for line := range strings.Lines(text) {
		rest, found := strings.CutPrefix(strings.TrimSpace(line), "-- params:")
		if !found {
			continue
		}
		depth, start := 0, 0
		var quote bool
		for i := 0; i < len(rest); i++ {
			switch c := rest[i]; {
			case c == '\'':
				quote = !quote
			case quote:
			case c == '[' || c == '(':
				depth++
			case c == ']' || c == ')':
				depth--
			case c == ',' && depth == 0:
				vals = append(vals, strings.TrimSpace(rest[start:i]))
				start = i + 1
			}
		}
		return append(vals, strings.TrimSpace(rest[start:])), true
	}
	return nil, false
}

// TestQueryFiles checks every embedded query file: it is one statement, it
// is used by the store, and its placeholders, its sample params and the
// parameters the store binds agree in number.
func TestQueryFiles(t *testing.T) {
	qs, err := loadQueries(queryFS, "queries")
	if err != nil {
		t.Fatal(err)
	}
	args := queryArgs(t)
	if got, want := slices.Sorted(maps.Keys(qs)), slices.Sorted(maps.Keys(args)); !slices.Equal(got, want) {
		t.Fatalf("query files %q, queries the store runs %q", got, want)
	}
	for name, stmt := range qs {
		t.Run(name, func(t *testing.T) {
			text, err := fs.ReadFile(queryFS, "queries/"+name+".sql")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(text), "-- "+name+": ") {
				t.Errorf("the header does not start with %q", "-- "+name+": ")
			}
			if !strings.Contains(stmt, DBPlaceholder+".") {
				t.Errorf("the query names no table in %s", DBPlaceholder)
			}
			params, ok := sampleParams(string(text))
			if !ok {
				t.Fatal("no -- params: line")
			}
			n := placeholders(stmt)
			if len(params) != n || len(args[name]) != n {
				t.Errorf("%d placeholders, %d sample params %q, %d parameters bound by the store", n, len(params), params, len(args[name]))
			}
		})
	}
}

func TestLoadQueriesErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"two statements", fstest.MapFS{"q/a.sql": {Data: []byte("SELECT 1; SELECT 2")}}, "2 statements, want exactly one"},
		{"no statement", fstest.MapFS{"q/a.sql": {Data: []byte("-- only a comment\n")}}, "0 statements"},
		{"unterminated literal", fstest.MapFS{"q/b.sql": {Data: []byte("SELECT 'x")}}, "b.sql"},
		{"no directory", fstest.MapFS{"other/a.sql": {Data: []byte("SELECT 1")}}, "store: queries"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadQueries(c.fsys, "q")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("loadQueries = %v, want an error containing %q", err, c.want)
			}
		})
	}
	qs, err := loadQueries(fstest.MapFS{"q/a.sql": {Data: []byte("-- a: x\nSELECT 1;\n")}, "q/README": {Data: []byte("x")}}, "q")
	if err != nil || len(qs) != 1 || qs["a"] != "SELECT 1" {
		t.Errorf("loadQueries = %q, %v; want a: SELECT 1", qs, err)
	}
}

func TestRangeArgs(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name  string
		r     TimeRange
		want  []any
		empty bool
	}{
		{"whole seconds", TimeRange{From: utc("2023-11-14T22:13:20Z"), To: utc("2023-11-14T22:13:22Z")},
			[]any{uint32(1700000000), uint32(1700000001), uint64(1700000000000), uint64(1700000002000)}, false},
		{"milliseconds", TimeRange{From: utc("2023-11-14T22:13:20.999Z"), To: utc("2023-11-14T22:13:21.001Z")},
			[]any{uint32(1700000000), uint32(1700000001), uint64(1700000000999), uint64(1700000001001)}, false},
		{"sub-millisecond bounds truncate", TimeRange{From: utc("2023-11-14T22:13:20.0005Z"), To: utc("2023-11-14T22:13:20.0019Z")},
			[]any{uint32(1700000000), uint32(1700000000), uint64(1700000000000), uint64(1700000000001)}, false},
		{"within one millisecond", TimeRange{From: utc("2023-11-14T22:13:20.0005Z"), To: utc("2023-11-14T22:13:20.0009Z")}, nil, true},
		{"another zone", TimeRange{From: utc("2023-11-15T06:13:20+08:00"), To: utc("2023-11-15T06:13:21+08:00")},
			[]any{uint32(1700000000), uint32(1700000000), uint64(1700000000000), uint64(1700000001000)}, false},
		{"from before 1970", TimeRange{From: utc("1900-01-01T00:00:00Z"), To: utc("1970-01-01T00:00:01Z")},
			[]any{uint32(0), uint32(0), uint64(0), uint64(1000)}, false},
		{"wholly before 1970", TimeRange{From: utc("1900-01-01T00:00:00Z"), To: utc("1969-12-31T23:59:59.999Z")}, nil, true},
		{"to 1970 exactly", TimeRange{From: utc("1969-01-01T00:00:00Z"), To: utc("1970-01-01T00:00:00Z")}, nil, true},
		{"to after DateTime's end", TimeRange{From: utc("2106-02-07T06:28:15Z"), To: utc("2200-01-01T00:00:00Z")},
			[]any{uint32(4294967295), uint32(4294967295), uint64(4294967295000), uint64(4294967296000)}, false},
		{"wholly after DateTime's end", TimeRange{From: utc("2106-02-07T06:28:16Z"), To: utc("2200-01-01T00:00:00Z")}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, empty := rangeArgs(c.r)
			if empty != c.empty || (!c.empty && !slices.Equal(got, c.want)) {
				t.Errorf("rangeArgs = %v, empty %v; want %v, empty %v", got, empty, c.want, c.empty)
			}
		})
	}
}

func TestNowMilli(t *testing.T) {
	for _, c := range []struct {
		now  time.Time
		want uint64
	}{
		{time.UnixMilli(1700000000123).Add(999 * time.Microsecond), 1700000000123},
		{time.UnixMilli(1700000000123).In(time.FixedZone("CST", 8*3600)), 1700000000123},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), maxStoredMilli},
	} {
		if got := nowMilli(c.now); got != c.want {
			t.Errorf("nowMilli(%s) = %d, want %d", c.now, got, c.want)
		}
	}
}

func TestResultTimes(t *testing.T) {
	sec := time.Unix(1700000000, 0).In(time.FixedZone("X", 3600))
	for _, c := range []struct {
		name string
		got  time.Time
		want time.Time
	}{
		{"msTime", msTime(sec, 7), time.UnixMilli(1700000000007).UTC()},
		{"msTime of the epoch", msTime(epoch, 0), epoch},
		{"unixTime", unixTime(1700000040), time.Unix(1700000040, 0).UTC()},
		{"unixMilliTime", unixMilliTime(1700000000999), time.UnixMilli(1700000000999).UTC()},
		{"optionalTime of the epoch", optionalTime(msTime(epoch, 0)), time.Time{}},
		{"optionalTime of 1 ms past it", optionalTime(msTime(epoch, 1)), time.UnixMilli(1).UTC()},
		{"optionalTime of 0 ms", optionalTime(unixMilliTime(0)), time.Time{}},
	} {
		if !c.got.Equal(c.want) || c.got.Location() != c.want.Location() {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestNormCategories(t *testing.T) {
	for _, c := range []struct {
		in, want []string
	}{
		{nil, []string{}},
		{[]string{}, []string{}},
		{[]string{"health"}, []string{"health"}},
		{[]string{"minor_data", "contact", "health", "contact"}, []string{"contact", "health", "minor_data"}},
	} {
		got := normCategories(slices.Clone(c.in))
		if got == nil || !slices.Equal(got, c.want) {
			t.Errorf("normCategories(%q) = %#v, want %q", c.in, got, c.want)
		}
	}
}

// TestClickHouseStoreChecksFirst: every method refuses invalid parameters
// with ErrBadQuery, and answers a range no stored time can be in with no
// rows, without touching the database (the store has no connection: any
// use would panic).
func TestClickHouseStoreChecksFirst(t *testing.T) {
	s := NewClickHouseStore(nil, "vigil")
	ctx := context.Background()
	before1970 := TimeRange{From: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}
	calls := 0
	fn := func() error { calls++; return nil }
	cases := []struct {
		name    string
		call    func() (rows int, err error)
		badName string // the error names the method
	}{
		{"SubjectHistory/bad", func() (int, error) {
			return 0, s.SubjectHistory(ctx, SubjectQuery{TimeRange: before1970}, func(*SubjectAccess) error { return fn() })
		}, "subject history"},
		{"CountSubjectHistory/bad", func() (int, error) {
			n, err := s.CountSubjectHistory(ctx, SubjectQuery{SubjectID: "p"})
			return int(n), err
		}, "count subject history"},
		{"ActorHistory/bad", func() (int, error) {
			return 0, s.ActorHistory(ctx, ActorQuery{ActorID: "a", TimeRange: before1970}, func(*ActorAccess) error { return fn() })
		}, "actor history"},
		{"CountActorHistory/bad", func() (int, error) {
			n, err := s.CountActorHistory(ctx, ActorQuery{Org: "o", TimeRange: before1970})
			return int(n), err
		}, "count actor history"},
		{"ActorActivity/bad", func() (int, error) {
			rows, err := s.ActorActivity(ctx, ActorQuery{Org: "o", ActorID: "a"})
			return len(rows), err
		}, "actor activity"},
		{"TopActors/bad", func() (int, error) {
			rows, err := s.TopActors(ctx, TopActorsQuery{TimeRange: before1970, By: "events", Limit: 1})
			return len(rows), err
		}, "top actors"},
		{"AlertCounts/bad", func() (int, error) {
			rows, err := s.AlertCounts(ctx, AlertCountsQuery{TimeRange: before1970, Bucket: 7 * time.Minute})
			return len(rows), err
		}, "alert counts"},
		{"Incidents/bad", func() (int, error) {
			rows, err := s.Incidents(ctx, IncidentQuery{Limit: 10})
			return len(rows), err
		}, "incidents"},
		{"NoticeProgress/bad", func() (int, error) {
			rows, err := s.NoticeProgress(ctx, NoticeQuery{IncidentID: "inc-1"})
			return len(rows), err
		}, "notice progress"},
		{"IngestRate/bad", func() (int, error) {
			rows, err := s.IngestRate(ctx, TimeRange{To: before1970.To})
			return len(rows), err
		}, "ingest rate"},
		{"DeadLetterCounts/bad", func() (int, error) {
			rows, err := s.DeadLetterCounts(ctx, TimeRange{From: before1970.To, To: before1970.From})
			return len(rows), err
		}, "dead letter counts"},
		{"SubjectHistory/before 1970", func() (int, error) {
			return 0, s.SubjectHistory(ctx, SubjectQuery{SubjectID: "p", TimeRange: before1970}, func(*SubjectAccess) error { return fn() })
		}, ""},
		{"CountSubjectHistory/before 1970", func() (int, error) {
			n, err := s.CountSubjectHistory(ctx, SubjectQuery{SubjectID: "p", TimeRange: before1970})
			return int(n), err
		}, ""},
		{"ActorHistory/before 1970", func() (int, error) {
			return 0, s.ActorHistory(ctx, ActorQuery{Org: "o", ActorID: "a", TimeRange: before1970}, func(*ActorAccess) error { return fn() })
		}, ""},
		{"CountActorHistory/before 1970", func() (int, error) {
			n, err := s.CountActorHistory(ctx, ActorQuery{Org: "o", ActorID: "a", TimeRange: before1970})
			return int(n), err
		}, ""},
		{"ActorActivity/before 1970", func() (int, error) {
			rows, err := s.ActorActivity(ctx, ActorQuery{Org: "o", ActorID: "a", TimeRange: before1970})
			return len(rows), err
		}, ""},
		{"TopActors/before 1970", func() (int, error) {
			rows, err := s.TopActors(ctx, TopActorsQuery{TimeRange: before1970, By: BySensitive, Limit: 1})
			return len(rows), err
		}, ""},
		{"AlertCounts/before 1970", func() (int, error) {
			rows, err := s.AlertCounts(ctx, AlertCountsQuery{TimeRange: before1970, Bucket: time.Hour})
			return len(rows), err
		}, ""},
		{"IngestRate/before 1970", func() (int, error) {
			rows, err := s.IngestRate(ctx, before1970)
			return len(rows), err
		}, ""},
		{"DeadLetterCounts/before 1970", func() (int, error) {
			rows, err := s.DeadLetterCounts(ctx, before1970)
			return len(rows), err
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := c.call()
			if c.badName == "" {
				if err != nil || rows != 0 {
					t.Errorf("= %d rows, %v; want none, no error", rows, err)
				}
				return
			}
			if !errors.Is(err, ErrBadQuery) || !strings.HasPrefix(err.Error(), "store: "+c.badName+": invalid query: ") {
				t.Errorf("error = %v; want \"store: %s: invalid query: …\" wrapping ErrBadQuery", err, c.badName)
			}
		})
	}
	if calls != 0 {
		t.Errorf("fn called %d times", calls)
	}
}

// TestClickHouseStoreBadDatabase: a database name that is not a plain
// identifier fails every query (after its check) with an error saying so,
// without touching the database.
func TestClickHouseStoreBadDatabase(t *testing.T) {
	s := NewClickHouseStore(nil, "vigil; DROP TABLE x")
	r := TimeRange{From: time.Unix(1700000000, 0), To: time.Unix(1700086400, 0)}
	_, err := s.Incidents(context.Background(), IncidentQuery{Limit: 1, Now: r.To})
	if err == nil || errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "not a plain identifier") ||
		!strings.HasPrefix(err.Error(), "store: incidents: ") {
		t.Errorf("Incidents = %v; want the bad database name", err)
	}
	_, err = s.IngestRate(context.Background(), TimeRange{})
	if !errors.Is(err, ErrBadQuery) {
		t.Errorf("IngestRate with a zero range = %v; want ErrBadQuery first", err)
	}
	if err := s.Write(context.Background(), &Batch{}); err == nil {
		t.Error("Write on a bad database name succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
