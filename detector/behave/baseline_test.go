package behave

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// workHistory is an actor's ordinary work: on each of days days, 08:00 to
// 16:00, per hour `counted` searches (relationship unknown) of distinct
// subjects and `care` reads of its own patients (relationship true).
func workHistory(actor string, days, counted, care int) []any {
	var out []any
	for d := range days {
		for h := 8; h < 16; h++ {
			n := counted + care
			for i := range n {
				e := acc(actor, day(d, h, i*59/n))
				if i < counted {
					e.Action, e.Relationship = event.ActionSearch, event.RelationshipUnknown
					e.Subject.ID = fmt.Sprintf("S%d-%d-%d", d, h, i)
				} else {
					e.Subject.ID = fmt.Sprintf("OWN%d", i%20)
				}
				out = append(out, e)
			}
		}
	}
	return out
}

// burst is n accesses by actor from start within span, each to a new
// subject, with relationship rel and action a.
func burst(actor string, start, span time.Duration, n int, a event.Action, rel event.Relationship) []any {
	var out []any
	for i := range n {
		e := acc(actor, start+span*time.Duration(i)/time.Duration(n))
		e.Action, e.Relationship = a, rel
		e.Subject.ID = fmt.Sprintf("B%s-%d", actor, i)
		e.EventID = fmt.Sprintf("burst-%s-%d", actor, i)
		out = append(out, e)
	}
	return out
}

// exports are exports of record counts n by actor from start, a minute
// apart.
func exports(actor string, start time.Duration, n ...int64) []any {
	var out []any
	for i, rc := range n {
		e := acc(actor, start+time.Duration(i)*time.Minute)
		e.Action, e.Relationship, e.RecordCount = event.ActionExport, event.RelationshipUnknown, rc
		e.Subject.ID = fmt.Sprintf("X%s-%d", actor, i)
		e.EventID = fmt.Sprintf("burst-%s-%d", actor, i)
		out = append(out, e)
	}
	return out
}

// nightly is a reporting service exporting 5,000 to 15,000 records at
// 02:00 every night for days days.
func nightly(actor string, days int, _ int) []any {
	var out []any
	for d := range days {
		e := acc(actor, day(d, 2, 0))
		e.Actor.Type, e.Actor.Role = event.ActorService, "integration"
		e.Action, e.Relationship, e.RecordCount = event.ActionExport, event.RelationshipUnknown, int64(5000+(d*3571)%10000)
		out = append(out, e)
	}
	return out
}

func lateSearch(actor string, at time.Duration) []any {
	e := acc(actor, at)
	e.Action, e.Relationship, e.EventID = event.ActionSearch, event.RelationshipUnknown, "late-search"
	return []any{e}
}

func concat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// withRole changes the actor role of access events.
func withRole(evs []any, role string) []any {
	for _, e := range evs {
		e.(*event.AccessEvent).Actor.Role = role
	}
	return evs
}

func TestBaseline(t *testing.T) {
	care := Defaults()
	care.ActorBaseline.IncludeCareRelationship = true
	peers := func() []any { // five busy peers and a quiet actor
		var out []any
		for p := range 5 {
			out = append(out, workHistory(fmt.Sprintf("peer%d", p), 7, 100, 0)...)
		}
		return out
	}
	sorted := func(evs []any) []any {
		slices.SortStableFunc(evs, func(a, b any) int {
			return a.(*event.AccessEvent).OccurredAt.Compare(b.(*event.AccessEvent).OccurredAt.Time)
		})
		return evs
	}
	cases := []struct {
		name   string
		cfg    Config
		events []any
		fire   bool
		// when firing: the burst events that must be in the evidence
		evidence int
	}{
		{"bulk export after learning", Defaults(),
			concat(workHistory("N1", 6, 5, 10), burst("N1", day(6, 10, 0), 30*time.Minute, 100, event.ActionExport, event.RelationshipUnknown)),
			true, 60},
		{"departing reads of far more subjects", Defaults(),
			concat(workHistory("N1", 6, 5, 10), burst("N1", day(6, 9, 0), 90*time.Minute, 200, event.ActionRead, event.RelationshipUnknown)),
			true, 150},
		{"ward round of own patients", Defaults(),
			concat(workHistory("N1", 6, 5, 10), burst("N1", day(6, 9, 10), 40*time.Minute, 60, event.ActionRead, event.RelationshipTrue)),
			false, 0},
		{"ward round fires when care relationships count", care,
			concat(workHistory("N1", 6, 5, 10), burst("N1", day(6, 9, 10), 40*time.Minute, 60, event.ActionRead, event.RelationshipTrue)),
			true, 10},
		{"learning: two days of history", Defaults(),
			concat(workHistory("N1", 2, 5, 10), burst("N1", day(2, 10, 0), 30*time.Minute, 100, event.ActionExport, event.RelationshipUnknown)),
			false, 0},
		{"floors: 1 an hour to 25 an hour", Defaults(),
			concat(workHistory("N1", 6, 1, 10), burst("N1", day(6, 10, 0), 50*time.Minute, 25, event.ActionSearch, event.RelationshipUnknown)),
			false, 0},
		{"above the floors: 1 an hour to 35 subjects an hour", Defaults(),
			concat(workHistory("N1", 6, 1, 10), burst("N1", day(6, 10, 0), 50*time.Minute, 35, event.ActionSearch, event.RelationshipUnknown)),
			true, 5},
		{"steady service", Defaults(),
			concat(workHistory("svc", 6, 200, 0), burst("svc", day(6, 10, 0), 55*time.Minute, 60, event.ActionRead, event.RelationshipUnknown)),
			false, 0},
		{"peers do this much every hour", Defaults(),
			sorted(concat(peers(), workHistory("N1", 7, 5, 0), burst("N1", day(7, 10, 0), 40*time.Minute, 80, event.ActionRead, event.RelationshipUnknown))),
			false, 0},
		{"peers in another role do not count", Defaults(),
			sorted(concat(withRole(peers(), "billing"), workHistory("N1", 7, 5, 0), burst("N1", day(7, 10, 0), 40*time.Minute, 80, event.ActionRead, event.RelationshipUnknown))),
			true, 40},
		{"two exports of thousands of records", Defaults(),
			concat(workHistory("N1", 6, 5, 10), exports("N1", day(6, 10, 0), 3000, 2500)), true, 1},
		{"the nightly report exports as every night", Defaults(),
			concat(nightly("svc", 30, 0), exports("svc", day(30, 2, 0), 12000)), false, 0},
		{"the nightly report exports ten times as much", Defaults(),
			concat(nightly("svc", 30, 0), exports("svc", day(30, 2, 0), 150000)), true, 1},
		{"an hour after the burst is over", Defaults(),
			concat(workHistory("N1", 6, 5, 10), exports("N1", day(6, 10, 0), 3000, 2500), lateSearch("N1", day(6, 11, 5))),
			true, 1},
		{"late events of a closed hour", Defaults(),
			concat(workHistory("N1", 6, 5, 10), []any{acc("N1", day(6, 12, 0))}, burst("N1", day(6, 10, 0), 30*time.Minute, 100, event.ActionExport, event.RelationshipUnknown)),
			false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustNew(t, c.cfg, RuleActorBaseline)
			fs := run(t, b, c.events)
			if got := len(fs) > 0; got != c.fire {
				t.Fatalf("fired %v (%d findings), want %v; first: %+v", got, len(fs), c.fire, first(fs))
			}
			if !c.fire {
				return
			}
			if strings.Contains(c.name, "after the burst") {
				if slices.Contains(evidenceOf(fs), "late-search") {
					t.Errorf("an access 65 minutes after the exports is in the evidence")
				}
				if len(fs) != 2 {
					t.Errorf("%d findings, want the two exports", len(fs))
				}
			}
			n := 0
			for _, id := range evidenceOf(fs) {
				if strings.HasPrefix(id, "burst-") {
					n++
				}
			}
			if n < c.evidence {
				t.Errorf("%d burst events in evidence, want ≥ %d", n, c.evidence)
			}
			f := fs[0]
			if c.evidence > 1 && (f.Count < 2 || f.Start.Equal(f.End)) {
				t.Errorf("first finding Count %d Start %v End %v: want the hour so far", f.Count, f.Start, f.End)
			}
			if f.GroupKey != "org1/"+f.ActorID {
				t.Errorf("GroupKey %q", f.GroupKey)
			}
			t.Log(f.Explanation)
		})
	}
}

func first[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

func TestBaselineExplanation(t *testing.T) {
	b := mustNew(t, Defaults(), RuleActorBaseline)
	fs := run(t, b, concat(workHistory("N1", 6, 5, 10), burst("N1", day(6, 10, 0), 30*time.Minute, 100, event.ActionExport, event.RelationshipUnknown)))
	if len(fs) == 0 {
		t.Fatal("no finding")
	}
	x := fs[0].Explanation
	for _, want := range []string{"without a care relationship", "distinct subjects", "medians of its", "peers (nurse, cardiology)"} {
		if !strings.Contains(x, want) {
			t.Errorf("explanation %q lacks %q", x, want)
		}
	}
	if strings.Contains(x, "N1") || strings.Contains(x, "BN1") {
		t.Errorf("explanation %q names the actor or a subject", x)
	}
}

func TestHistStats(t *testing.T) {
	var h hist
	for v := range uint32(101) {
		h.add(v, 1<<20)
	}
	med, mad := h.medianMAD()
	// Exact: median 50, MAD 25; bins are at most 12.5% wide.
	if med < 44 || med > 56 || mad < 20 || mad > 30 {
		t.Errorf("median %v MAD %v, want about 50 and 25", med, mad)
	}
	for v := range uint32(1 << 17) {
		b := binOf(v)
		if lo := binLow(b); float64(v) < lo || b < nBins-1 && float64(v) >= binLow(b+1) {
			t.Fatalf("value %d in bin %d [%v, %v)", v, b, lo, binLow(b+1))
		}
	}
	var g hist
	for range 1000 {
		g.add(7, 300)
	}
	if g.n >= 300 || g.quantile(0.5) != 7 {
		t.Errorf("after halving: n %d median %v", g.n, g.quantile(0.5))
	}
}
