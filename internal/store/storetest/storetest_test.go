package storetest

import (
	"context"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the reference model")

// goldenCase is one question as a golden file records it.
type goldenCase struct {
	Name  string `json:"name"`
	Query any    `json:"query"`
	Want  any    `json:"want"`
}

// goldenFile is the golden file of a Reader method: SubjectHistory ->
// testdata/subject_history.json.
func goldenFile(method string) string {
	snake := regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(method, "${1}_${2}")
	return filepath.Join("testdata", strings.ToLower(snake)+".json")
}

// TestGolden checks that the reference model's answers are the reviewed
// ones in testdata/ (or rewrites them with -update): a change to the model
// or the fixture shows as a diff of the golden files.
func TestGolden(t *testing.T) {
	m := newModel(Batches())
	byMethod := map[string][]goldenCase{}
	for _, c := range cases() {
		byMethod[c.method] = append(byMethod[c.method], goldenCase{Name: c.name, Query: c.query, Want: c.want(m)})
	}
	if len(byMethod) != len(methods) {
		t.Fatalf("cases cover %d methods, want the %d of store.Reader", len(byMethod), len(methods))
	}
	for _, method := range methods {
		t.Run(method, func(t *testing.T) {
			got, err := render(byMethod[method])
			if err != nil {
				t.Fatal(err)
			}
			got += "\n"
			file := goldenFile(method)
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s is stale (- file, + model); review and run go test -update:\n%s", file, lineDiff(string(want), got))
			}
		})
	}
}

// TestMethodsAreReaders checks that the suite's list of methods is
// store.Reader's method set, so a method added to the interface cannot be
// left out of the suite.
func TestMethodsAreReaders(t *testing.T) {
	var readerMethods []string
	rt := reflect.TypeFor[store.Reader]()
	for i := range rt.NumMethod() {
		readerMethods = append(readerMethods, rt.Method(i).Name)
	}
	got := slices.Sorted(slices.Values(methods))
	if !slices.Equal(got, readerMethods) {
		t.Errorf("suite methods %v, store.Reader has %v", got, readerMethods)
	}
}

// TestFixtureShape checks the properties the package doc promises of the
// fixture, so a later edit cannot quietly drop one.
func TestFixtureShape(t *testing.T) {
	batches := Batches()
	writes := map[string]int{}
	batchesOf := map[string]map[int]bool{}
	versions := map[string][]uint64{}
	note := func(key string, batch int) {
		writes[key]++
		if batchesOf[key] == nil {
			batchesOf[key] = map[int]bool{}
		}
		batchesOf[key][batch] = true
	}
	for i, b := range batches {
		for _, e := range b.Access {
			note("access/"+e.EventID, i)
		}
		for _, e := range b.Device {
			note("device/"+e.EventID, i)
		}
		for _, d := range b.DeadLetters {
			note("dead/"+d.DeadLetterID, i)
		}
		for _, a := range b.Alerts {
			versions["alert/"+a.Value.AlertID] = append(versions["alert/"+a.Value.AlertID], a.Version)
		}
		for _, v := range b.Incidents {
			versions["incident/"+v.Value.IncidentID] = append(versions["incident/"+v.Value.IncidentID], v.Version)
		}
		for _, n := range b.Notices {
			versions["notice/"+n.Value.NoticeID] = append(versions["notice/"+n.Value.NoticeID], n.Version)
		}
	}
	for key, bs := range batchesOf {
		if len(bs) < 2 {
			t.Errorf("%s is written in %d batch(es), want at least 2", key, len(bs))
		}
	}
	if !slices.ContainsFunc(slices.Collect(maps.Values(writes)), func(n int) bool { return n >= 3 }) {
		t.Error("no record is written twice within one batch")
	}
	for _, kind := range []string{"alert/", "incident/", "notice/"} {
		olderAfterNewer, repeated := false, false
		for key, vs := range versions {
			if !strings.HasPrefix(key, kind) {
				continue
			}
			for i := 1; i < len(vs); i++ {
				olderAfterNewer = olderAfterNewer || vs[i] < slices.Max(vs[:i])
				repeated = repeated || slices.Contains(vs[:i], vs[i])
			}
		}
		if !olderAfterNewer || !repeated {
			t.Errorf("%s records: older version after a newer %t, a version twice %t; want both", kind, olderAfterNewer, repeated)
		}
	}

	m := newModel(batches)
	var atFrom, atTo, beforeFrom, lastMs, login, multi, sameMs bool
	occurred := map[time.Time]int{}
	orgsOf := map[string]map[string]bool{}
	for _, e := range m.access {
		t := e.OccurredAt.Time
		atFrom = atFrom || t.Equal(window.From)
		atTo = atTo || t.Equal(window.To)
		beforeFrom = beforeFrom || t.Equal(window.From.Add(-ms))
		lastMs = lastMs || t.Equal(window.To.Add(-ms))
		login = login || (e.Action == event.ActionLogin && e.Subject.ID == "")
		multi = multi || len(e.Categories) > 1 && !slices.IsSorted(e.Categories)
		occurred[t]++
		sameMs = sameMs || occurred[t] > 1
		if orgsOf[e.Actor.ID] == nil {
			orgsOf[e.Actor.ID] = map[string]bool{}
		}
		orgsOf[e.Actor.ID][e.Org] = true
	}
	for name, ok := range map[string]bool{
		"event at From": atFrom, "event at To": atTo, "event 1 ms before From": beforeFrom,
		"event 1 ms before To": lastMs, "login without subject": login,
		"unsorted categories": multi, "two events in one millisecond": sameMs,
		"an actor id in two orgs": slices.ContainsFunc(slices.Collect(maps.Values(orgsOf)), func(o map[string]bool) bool { return len(o) > 1 }),
	} {
		if !ok {
			t.Errorf("the fixture has no %s", name)
		}
	}
}

// TestReferenceModelRules checks the model's own building blocks on cases
// worked by hand.
func TestReferenceModelRules(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"floor to hour", floorTo(ts("2026-03-02T10:59:59.999Z"), time.Hour), ts("2026-03-02T10:00:00Z")},
		{"floor to hour at the hour", floorTo(ts("2026-03-02T11:00:00Z"), time.Hour), ts("2026-03-02T11:00:00Z")},
		{"floor to 5m", floorTo(ts("2026-03-02T10:07:30Z"), 5*time.Minute), ts("2026-03-02T10:05:00Z")},
		{"floor to day", floorTo(ts("2026-03-01T23:55:00Z"), 24*time.Hour), ts("2026-03-01T00:00:00Z")},
		{"floor before the epoch", floorTo(ts("1969-12-31T23:30:00Z"), time.Hour), ts("1969-12-31T23:00:00Z")},
		{"ms time drops nanoseconds and zone", msTime(time.Date(2026, 3, 2, 18, 0, 0, 999_999, cst)), ts("2026-03-02T10:00:00Z")},
		{"within at From", within(stamp(window.From), window), true},
		{"within at To", within(stamp(window.To), window), false},
		{"within sub-ms From", within(stamp(window.From), store.TimeRange{From: window.From.Add(time.Microsecond), To: window.To}), true},
		{"categories sorted unique", categoryList([]event.Category{chat, contact, chat}), []string{"chat", "contact"}},
		{"no categories", categoryList(nil), []string{}},
		{"sensitive", sensitive([]event.Category{contact, health}), true},
		{"not sensitive", sensitive([]event.Category{contact, deviceID}), false},
		{"absent time", resultTime(event.Timestamp{}), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if o := compare(tt.want, tt.got); !o.equal {
				t.Error(o.report)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	utc := ts("2026-03-02T10:00:00.123Z")
	tests := []struct {
		name       string
		want, got  any
		equal      bool
		reportHas  []string
		reportNots []string
	}{
		{"equal rows", []store.IngestMinute{{Minute: utc, Events: 1}}, []store.IngestMinute{{Minute: utc, Events: 1}}, true, nil, nil},
		{"nil result equals no rows", []store.IngestMinute{}, []store.IngestMinute(nil), true, nil, nil},
		{"order matters", []int64{1, 2}, []int64{2, 1}, false, []string{"- ", "+ "}, nil},
		{"nil categories differ from empty", []store.ActorAccess{{Categories: []string{}}}, []store.ActorAccess{{}}, false,
			[]string{`-     "categories": []`, `+     "categories": null`}, nil},
		{"non-UTC time", []store.IngestMinute{{Minute: utc}}, []store.IngestMinute{{Minute: utc.In(time.FixedZone("X", 3600))}}, false,
			[]string{"result[0].Minute", "not in UTC"}, nil},
		{"sub-ms time", []store.IngestMinute{{Minute: utc}}, []store.IngestMinute{{Minute: utc.Add(time.Microsecond)}}, false,
			[]string{"finer than a millisecond"}, nil},
		{"count", int64(3), int64(4), false, []string{"- 3", "+ 4"}, []string{"not in UTC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := compare(tt.want, tt.got)
			if o.equal != tt.equal {
				t.Fatalf("equal = %t, want %t; report:\n%s", o.equal, tt.equal, o.report)
			}
			for _, s := range tt.reportHas {
				if !strings.Contains(o.report, s) {
					t.Errorf("report lacks %q:\n%s", s, o.report)
				}
			}
			for _, s := range tt.reportNots {
				if strings.Contains(o.report, s) {
					t.Errorf("report has %q:\n%s", s, o.report)
				}
			}
		})
	}
}

func TestLineDiff(t *testing.T) {
	tests := []struct {
		a, b, want string
	}{
		{"x\ny", "x\ny", "  x\n  y\n"},
		{"x\ny\nz", "x\nz", "  x\n- y\n  z\n"},
		{"x\nz", "x\ny\nz", "  x\n+ y\n  z\n"},
		{"a", "b", "- a\n+ b\n"},
	}
	for _, tt := range tests {
		if got := lineDiff(tt.a, tt.b); got != tt.want {
			t.Errorf("lineDiff(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestEventuallyWaitsForTrailingRows checks the retry: an answer that is
// wrong twice and then right passes; an error stops at once.
func TestEventuallyWaitsForTrailingRows(t *testing.T) {
	calls := 0
	o, err := eventually(t.Context(), int64(3), func(context.Context) (any, error) {
		calls++
		return int64(calls), nil
	})
	if err != nil || !o.equal || calls != 3 {
		t.Errorf("eventually = %+v, %v after %d calls; want equal after 3", o, err, calls)
	}
	boom := errors.New("boom")
	calls = 0
	_, err = eventually(t.Context(), int64(3), func(context.Context) (any, error) {
		calls++
		return nil, boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("eventually = %v after %d calls; want boom after 1", err, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o, err = eventually(ctx, int64(3), func(context.Context) (any, error) { return int64(1), nil })
	if err != nil || o.equal || !strings.Contains(o.report, "+ 1") {
		t.Errorf("eventually on a cancelled context = %+v, %v; want the mismatch at once", o, err)
	}
}
