package detector

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

const (
	login      = event.ActionLogin
	read       = event.ActionRead
	export     = event.ActionExport
	breakGlass = event.ActionBreakGlass
	minute     = time.Minute
	ms         = time.Millisecond
)

// closer is an event far later than the rest: it moves the watermark past
// every window so that closing-mode windows are decided.
func closer(at time.Duration) in { return acc(at, "zz-closer", event.ActionSearch) }

// summary is what the golden files hold for one case.
type summary struct {
	Alerts []event.Alert `json:"alerts"`
	Stats  Stats         `json:"stats"`
}

type corrCase struct {
	name  string
	rules string
	opts  Options
	seq   []in
	// alerts is the number of distinct alerts per rule id.
	alerts map[string]int
	check  func(t *testing.T, p *Partition, recs []event.Alert)
}

func runCases(t *testing.T, cases []corrCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPartition(t, loadRules(t, c.rules), c.opts)
			recs := run(t, p, c.seq)
			last := latest(recs)
			got := map[string]int{}
			for _, a := range last {
				got[a.RuleID]++
			}
			for rule, n := range c.alerts {
				if got[rule] != n {
					t.Errorf("%s: %d alerts, want %d", rule, got[rule], n)
				}
			}
			for rule, n := range got {
				if _, ok := c.alerts[rule]; !ok {
					t.Errorf("%s: %d unexpected alerts", rule, n)
				}
			}
			if c.check != nil {
				c.check(t, p, recs)
			}
			golden(t, "corr_"+c.name, summary{Alerts: last, Stats: p.Stats()})
		})
	}
}

func TestCorrelations(t *testing.T) {
	runCases(t, []corrCase{
		{
			name:  "event_count_window_edges",
			rules: "counts.yml",
			seq: []in{
				acc(0, "a", login, denied),
				acc(0, "b", login, denied),
				acc(1*minute, "a", login, denied),
				acc(2*minute, "a", login, denied, org("hosp-2")), // another org: another group
				acc(5*minute, "b", login, denied),
				acc(10*minute-ms, "a", login, denied), // third within [0, 10m): fires
				acc(10*minute, "b", login, denied),    // 0 and 10m are not in one window
				acc(10*minute+30*time.Second, "a", login, denied),
			},
			alerts: map[string]int{"t-count-gte": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.GroupKey != "hosp-1/a" || a.Count != 4 || a.ActorID != "a" || a.Org != "hosp-1" {
					t.Errorf("alert %+v", a)
				}
				if !a.WindowStart.Equal(t0) || !a.LastSeen.Equal(t0.Add(10*minute+30*time.Second)) {
					t.Errorf("window %v..%v", a.WindowStart, a.LastSeen)
				}
				if want := []string{"e0", "e2", "e5", "e7"}; !slices.Equal(a.Evidence, want) {
					t.Errorf("evidence %v, want %v", a.Evidence, want)
				}
				if a.AlertID != event.AlertID("t-count-gte", "hosp-1/a", t0) {
					t.Errorf("alert id %s", a.AlertID)
				}
			},
		},
		{
			name:  "value_count",
			rules: "counts.yml",
			seq: []in{
				acc(0, "a", read, subject("p1")),
				acc(1*minute, "a", read, subject("p1")), // repeated value
				acc(2*minute, "a", read, subject("p2")),
				acc(3*minute, "b", read, subject("p3")),
				acc(4*minute, "a", read, subject("p2")),
				acc(5*minute, "a", read, subject("")), // absent value: not counted
				acc(11*minute, "a", read, subject("p3")),
				acc(11*minute, "a", read, subject("p4")), // p2, p3, p4 in (1m, 11m]
			},
			alerts: map[string]int{"t-distinct": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.DistinctSubjects != 3 || a.Count != 5 || !a.WindowStart.Equal(t0.Add(2*minute)) {
					t.Errorf("alert %+v", a)
				}
				if !strings.HasPrefix(a.Explanation, "3 distinct values of subject.id") {
					t.Errorf("explanation %q", a.Explanation)
				}
			},
		},
		{
			name:  "value_sum",
			rules: "counts.yml",
			seq: []in{
				acc(0, "a", export, records(60)),
				acc(30*minute, "b", export, records(90)),
				acc(59*minute, "a", export, records(40)), // 100: not more than 100
				acc(61*minute, "a", export, records(41)), // 0 left the window: 81
				acc(62*minute, "a", export, records(30)), // 111
				acc(63*minute, "b", export, records(5)),
			},
			alerts: map[string]int{"t-sum": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.GroupKey != "hosp-1/a" || a.Count != 3 || !a.WindowStart.Equal(t0.Add(59*minute)) ||
					a.Severity != event.SeverityCritical {
					t.Errorf("alert %+v", a)
				}
				if !strings.HasPrefix(a.Explanation, "record_count summed to 111 over 3 events") {
					t.Errorf("explanation %q", a.Explanation)
				}
			},
		},
		{
			name:  "temporal",
			rules: "counts.yml",
			seq: []in{
				acc(0, "a", export),
				acc(5*minute, "a", login, denied), // any order: fires
				acc(0, "b", login, denied),
				acc(10*minute, "b", export), // 10m apart: not in one window
				acc(30*minute, "c", login, denied),
				acc(31*minute, "c", login, denied), // one rule twice is not two rules
			},
			alerts: map[string]int{"t-temporal": 1, "t-count-gte": 0},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.GroupKey != "hosp-1/a" || a.Count != 2 {
					t.Errorf("alert %+v", a)
				}
			},
		},
		{
			name:  "temporal_ordered",
			rules: "counts.yml",
			seq: []in{
				acc(0, "a", login),                // success first
				acc(1*minute, "a", login, denied), // then failure: wrong order
				acc(2*minute, "b", login, denied),
				acc(3*minute, "b", login), // failure then success: fires
				acc(4*minute, "c", login, denied),
				acc(14*minute, "c", login), // too far apart
			},
			alerts: map[string]int{"t-ordered": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				a := latest(recs)[0]
				if a.GroupKey != "hosp-1/b" || a.Count != 2 || !strings.Contains(a.Explanation, "in this order") {
					t.Errorf("alert %+v", a)
				}
			},
		},
		{
			name:  "thresholds",
			rules: "thresholds.yml",
			seq: []in{
				acc(0, "x", login, denied), acc(1*minute, "x", login, denied), // 2 in the window
				acc(0, "y", login, denied), acc(1*minute, "y", login, denied), acc(2*minute, "y", login, denied), // 3
				acc(0, "z", login, denied), acc(1*minute, "z", login, denied), acc(2*minute, "z", login, denied),
				acc(3*minute, "z", login, denied), // 4
				closer(2 * time.Hour),
			},
			// gt 2 and gte 3: y and z as soon as the third arrives. lt 3
			// and lte 2: x, once its window closed. eq 3: y only, at
			// close (z went past 3). 2..3: x and y.
			alerts: map[string]int{"t-gt": 2, "t-gte": 2, "t-lt": 1, "t-lte": 1, "t-eq": 1, "t-range": 2},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				for _, a := range latest(recs) {
					switch a.RuleID {
					case "t-lt", "t-lte":
						if a.GroupKey != "hosp-1/x" || a.Count != 2 {
							t.Errorf("%s: %+v", a.RuleID, a)
						}
					case "t-eq":
						if a.GroupKey != "hosp-1/y" || a.Count != 3 {
							t.Errorf("%s: %+v", a.RuleID, a)
						}
					}
				}
			},
		},
		{
			name:  "closing_window_waits_for_the_watermark",
			rules: "thresholds.yml",
			opts:  Options{Lateness: 2 * minute},
			seq: []in{
				acc(0, "x", login, denied),
				acc(11*minute, "q", event.ActionSearch), // watermark 9m: the window [0,10m) is still open
				acc(9*minute, "x", login, denied),       // late but within lateness: joins it
				acc(12*minute+1*ms, "q", event.ActionSearch),
				acc(30*minute, "x", login, denied), // a new window
				acc(31*minute, "x", login, denied),
				acc(32*minute, "x", login, denied),
				closer(time.Hour),
			},
			alerts: map[string]int{"t-lt": 1, "t-lte": 1, "t-range": 1, "t-gt": 1, "t-gte": 1, "t-eq": 1},
			check: func(t *testing.T, p *Partition, recs []event.Alert) {
				for _, a := range latest(recs) {
					switch a.RuleID {
					case "t-lt", "t-lte":
						if a.Count != 2 || !a.WindowStart.Equal(t0) || !a.LastSeen.Equal(t0.Add(9*minute)) {
							t.Errorf("%s: %+v", a.RuleID, a)
						}
					case "t-eq":
						if a.Count != 3 || !a.WindowStart.Equal(t0.Add(30*minute)) {
							t.Errorf("%s: %+v", a.RuleID, a)
						}
					}
				}
				if s := p.Stats(); s.Late != 0 {
					t.Errorf("late %d, want 0 (within lateness)", s.Late)
				}
			},
		},
	})
}

func TestLateEvents(t *testing.T) {
	runCases(t, []corrCase{{
		name:  "late",
		rules: "counts.yml",
		opts:  Options{Lateness: time.Minute},
		seq: []in{
			acc(0, "a", login, denied),
			acc(20*minute, "q", event.ActionSearch), // watermark 19m
			acc(15*minute, "a", login, denied),      // late (before 19m), still in retained state
			acc(16*minute, "a", login, denied),
			acc(17*minute, "a", login, denied), // three in (7m, 17m]: fires though late
			acc(1*minute, "a", login, denied),  // too late for any window: dropped from correlations
		},
		alerts: map[string]int{"t-count-gte": 1},
		check: func(t *testing.T, p *Partition, recs []event.Alert) {
			s := p.Stats()
			// The last event is dropped by the three correlations of
			// login_failed.
			if s.Late != 4 || s.LateDropped != 3 {
				t.Errorf("late %d, dropped %d; want 4, 3", s.Late, s.LateDropped)
			}
			a := latest(recs)[0]
			if a.Count != 3 || !a.WindowStart.Equal(t0.Add(15*minute)) {
				t.Errorf("alert %+v", a)
			}
		},
	}})
}

func TestEvidenceBounded(t *testing.T) {
	var seq []in
	for i := range 100 {
		seq = append(seq, acc(time.Duration(i)*time.Second, "a", login, denied))
	}
	p := newPartition(t, loadRules(t, "counts.yml"), Options{})
	recs := run(t, p, seq)
	last := latest(recs)
	if len(last) != 1 {
		t.Fatalf("%d alerts, want 1", len(last))
	}
	a := last[0]
	if a.Count != 100 || len(a.Evidence) != event.MaxEvidence || a.Evidence[0] != "e0" ||
		a.Evidence[event.MaxEvidence-1] != fmt.Sprintf("e%d", event.MaxEvidence-1) {
		t.Errorf("count %d, evidence %v", a.Count, a.Evidence)
	}
	// One record per event from the third on: each drain saw an update.
	if len(recs) != 98 {
		t.Errorf("%d records, want 98", len(recs))
	}
}

func TestLimits(t *testing.T) {
	t.Run("groups", func(t *testing.T) {
		p := newPartition(t, loadRules(t, "counts.yml"), Options{MaxGroups: 2})
		run(t, p, []in{
			acc(0, "a", login, denied), acc(1*ms, "b", login, denied), acc(2*ms, "c", login, denied),
			acc(3*ms, "a", login, denied), acc(4*ms, "a", login, denied), // a was evicted: 2 now
		})
		// Three correlations read login_failed; each keeps two groups.
		if s := p.Stats(); s.GroupEvictions != 3*2 || s.Groups != 3*2 || s.AlertsOpened != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("window", func(t *testing.T) {
		p := newPartition(t, loadRules(t, "counts.yml"), Options{MaxWindowEvents: 4})
		var seq []in
		for i := range 6 {
			seq = append(seq, acc(time.Duration(i)*time.Second, "a", read, subject(fmt.Sprintf("p%d", i))))
		}
		recs := run(t, p, seq)
		s := p.Stats()
		if s.WindowEvictions != 2 {
			t.Errorf("window evictions %d, want 2", s.WindowEvictions)
		}
		a := latest(recs)[0]
		if !strings.HasPrefix(a.Explanation, "4 distinct") || a.Count != 6 {
			t.Errorf("alert %+v", a)
		}
	})
	t.Run("unreachable threshold", func(t *testing.T) {
		_, err := New(loadRules(t, "counts.yml"), Options{MaxWindowEvents: 2}, nil)
		if err == nil || !strings.Contains(err.Error(), "cannot hold within max_window_events 2") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("alerts", func(t *testing.T) {
		p := newPartition(t, loadRules(t, "standalone.yml"), Options{MaxAlerts: 2})
		recs := run(t, p, []in{
			acc(0, "a", breakGlass), acc(1*ms, "b", breakGlass), acc(2*ms, "c", breakGlass),
			acc(3*ms, "a", breakGlass), // a was forgotten: a new alert with a new window
		})
		if s := p.Stats(); s.AlertEvictions != 2 || s.Alerts != 2 || s.AlertsOpened != 4 {
			t.Errorf("stats %+v", s)
		}
		if n := len(latest(recs)); n != 4 {
			t.Errorf("%d alerts, want 4", n)
		}
	})
}
