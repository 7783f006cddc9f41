package behave

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

func bs1(b detector.Behaviour) []detector.Behaviour { return []detector.Behaviour{b} }

// active returns accesses by actor on days 0 … n-1 at 09:00, reading an
// ordinary (non-sensitive) contact record.
func active(actor string, n int) []any {
	var evs []any
	for d := range n {
		e := acc(actor, day(d, 9, 0))
		e.Categories = []event.Category{event.CategoryContact}
		evs = append(evs, e)
	}
	return evs
}

// returning returns k sensitive reads of one record each by actor,
// starting at when, a minute apart.
func returning(actor string, when time.Duration, k int, edit func(*event.AccessEvent)) []any {
	var evs []any
	for i := range k {
		e := acc(actor, when+time.Duration(i)*time.Minute)
		e.RecordCount = 1
		if edit != nil {
			edit(e)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestDormant(t *testing.T) {
	last := day(2, 9, 0) // the last event of active(…, 3)
	idle := 30 * 24 * time.Hour
	ordinary := func(e *event.AccessEvent) { e.Categories = []event.Category{event.CategoryContact} }
	tests := []struct {
		name  string
		evs   []any
		want  int
		sev   event.Severity
		words []string
	}{
		{"idle exactly 30 days", append(active("S1", 3), returning("S1", last+idle, 20, nil)...), 1, event.SeverityHigh,
			[]string{"idle for 30 days", "last seen 2026-11-04", "20 records", "health"}},
		{"idle 30 days less 1ms", append(active("S1", 3), returning("S1", last+idle-time.Millisecond, 20, nil)...), 0, "", nil},
		{"too little history", append(active("S1", 2), returning("S1", last+40*24*time.Hour, 30, nil)...), 0, "", nil},
		{"new actor", returning("S1", 0, 50, nil), 0, "", nil},
		{"below min_records", append(active("S1", 3), returning("S1", last+idle, 19, nil)...), 0, "", nil},
		{"ordinary records only", append(active("S1", 3), returning("S1", last+40*24*time.Hour, 50, ordinary)...), 0, "", nil},
		{"one bulk export of ordinary data", append(active("S1", 3), returning("S1", last+idle, 1, func(e *event.AccessEvent) {
			ordinary(e)
			e.Action, e.RecordCount = event.ActionExport, 500
		})...), 1, event.SeverityHigh, []string{"exported, printed or downloaded 500 records"}},
		{"failed reads do not count", append(active("S1", 3), returning("S1", last+idle, 30, func(e *event.AccessEvent) {
			e.Outcome = event.OutcomeDenied
		})...), 0, "", nil},
		{"minor's data raises severity", append(active("S1", 3), returning("S1", last+idle, 20, func(e *event.AccessEvent) {
			e.Subject.Minor = true
		})...), 1, event.SeverityCritical, []string{"minors' or VIPs' data"}},
		{"VIP raises severity", append(active("S1", 3), returning("S1", last+idle, 20, func(e *event.AccessEvent) {
			e.Subject.VIP = true
		})...), 1, event.SeverityCritical, nil},
		{"outside window", append(active("S1", 3), append(returning("S1", last+idle, 10, nil),
			returning("S1", last+idle+25*time.Hour, 10, nil)...)...), 0, "", nil},
		{"fires once per wake", append(active("S1", 3), returning("S1", last+idle, 100, nil)...), 1, event.SeverityHigh, nil},
		{"wakes again", append(append(active("S1", 3), returning("S1", last+idle, 20, nil)...),
			returning("S1", last+2*idle+time.Hour, 20, nil)...), 2, event.SeverityHigh, nil},
		{"other actor's gap is not this one's", append(append(active("S1", 3), active("S2", 3)...),
			returning("S2", last+idle-time.Hour, 30, nil)...), 0, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustNew(t, Defaults(), RuleDormantAccount)
			got := run(t, b, tc.evs)
			if len(got) != tc.want {
				t.Fatalf("%d findings, want %d: %+v", len(got), tc.want, got)
			}
			if tc.want == 0 {
				return
			}
			f := got[0]
			if f.Severity != tc.sev {
				t.Errorf("severity %s, want %s", f.Severity, tc.sev)
			}
			if f.ActorID == "" || f.GroupKey != "org1/"+f.ActorID {
				t.Errorf("group %q actor %q", f.GroupKey, f.ActorID)
			}
			for _, w := range tc.words {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation %q lacks %q", f.Explanation, w)
				}
			}
			if strings.Contains(f.Explanation, "S1") || strings.Contains(f.Explanation, "P1") {
				t.Errorf("explanation names an id: %q", f.Explanation)
			}
		})
	}
}

func TestDormantSnapshot(t *testing.T) {
	evs := append(active("S1", 3), returning("S1", day(2, 9, 0)+31*24*time.Hour, 30, nil)...)
	for cut := range len(evs) {
		whole := run(t, mustNew(t, Defaults(), RuleDormantAccount), evs)
		b := mustNew(t, Defaults(), RuleDormantAccount)
		var f feeder
		for _, e := range evs[:cut] {
			f.feed(bs1(b), e)
		}
		data, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		b2 := mustNew(t, Defaults(), RuleDormantAccount)
		if err := b2.UnmarshalState(data); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		again, _ := b2.MarshalState()
		if string(again) != string(data) {
			t.Fatalf("cut %d: state does not round-trip", cut)
		}
		for _, e := range evs[cut:] {
			f.feed(bs1(b2), e)
		}
		if len(f.found) != len(whole) || len(whole) != 1 || f.found[0].Explanation != whole[0].Explanation ||
			f.found[0].Count != whole[0].Count {
			t.Fatalf("cut %d: %+v, want %+v", cut, f.found, whole)
		}
	}
}

func TestDormantConfig(t *testing.T) {
	c := Defaults()
	c.DormantAccount.Idle = 48 * time.Hour
	c.DormantAccount.ForgetAfter = 24 * time.Hour
	c.DormantAccount.MinRecords = -1
	err := c.Validate()
	for _, k := range []string{"behaviours.dormant_account.forget_after", "behaviours.dormant_account.min_records"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("Validate: %v, want an error naming %s", err, k)
		}
	}
}

func TestDormantEvicts(t *testing.T) {
	c := Defaults()
	c.DormantAccount.MaxActors = 2
	b := mustNew(t, c, RuleDormantAccount)
	run(t, b, []any{acc("S1", 0), acc("S2", time.Minute), acc("S3", 2*time.Minute)})
	st := b.(StatsReporter).Stats()
	if st.Tracked != 2 || st.Evicted != 1 {
		t.Errorf("stats %+v, want 2 tracked, 1 evicted", st)
	}
}

func TestDormantAllocs(t *testing.T) {
	b := mustNew(t, Defaults(), RuleDormantAccount)
	evs := active("S1", 3)
	run(t, b, evs)
	e := acc("S1", day(3, 9, 0))
	n := testing.AllocsPerRun(200, func() {
		e.OccurredAt = event.NewTimestamp(e.OccurredAt.Add(time.Second))
		b.Access(e, func(detector.Finding) {})
	})
	if n != 0 {
		t.Errorf("%v allocations per event, want 0", n)
	}
}
