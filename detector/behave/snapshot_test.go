package behave

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vigil-audit/vigil/detector"
)

// runAll feeds events to fresh behaviours from cfg and returns the
// findings and the behaviours.
func runAll(t testing.TB, cfg Config, events []any) ([]detector.Finding, []detector.Behaviour) {
	t.Helper()
	bs, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var f feeder
	for _, e := range events {
		f.feed(bs, e)
	}
	return f.found, bs
}

func marshalAll(t testing.TB, bs []detector.Behaviour) [][]byte {
	t.Helper()
	out := make([][]byte, len(bs))
	for i, b := range bs {
		s, err := b.MarshalState()
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		out[i] = s
	}
	return out
}

func TestStreamCoversEveryBehaviour(t *testing.T) {
	evs := stream(1, 20000, 3)
	found, bs := runAll(t, fastConfig(), evs)
	by := map[string]int{}
	for _, f := range found {
		by[f.RuleID]++
		checkFinding(t, ruleBehaviour(bs, f.RuleID), f)
	}
	for _, b := range bs {
		if by[b.Name()] == 0 {
			t.Errorf("%s: no finding in the test stream", b.Name())
		}
		st := b.(StatsReporter).Stats()
		t.Logf("%-40s %5d findings, %v", b.Name(), by[b.Name()], st)
	}
	t.Logf("%d events, %d findings", len(evs), len(found))
}

func ruleBehaviour(bs []detector.Behaviour, rule string) detector.Behaviour {
	for _, b := range bs {
		if b.Name() == rule {
			return b
		}
	}
	return nil
}

// TestSnapshotRestore cuts the stream at random points: behaviours
// snapshotted there and restored into fresh instances must go on to
// produce exactly the findings of an uninterrupted run, and a restored
// state must marshal to the same bytes.
func TestSnapshotRestore(t *testing.T) {
	cfg := fastConfig()
	evs := stream(2, 20000, 3)
	want, wantBS := runAll(t, cfg, evs)
	r := rand.New(rand.NewPCG(7, 7))
	cuts := []int{0, 1, len(evs) - 1}
	for range 6 {
		cuts = append(cuts, r.IntN(len(evs)))
	}
	for _, cut := range cuts {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			bs, _ := New(cfg)
			var f feeder
			for _, e := range evs[:cut] {
				f.feed(bs, e)
			}
			states := marshalAll(t, bs)
			restored, _ := New(cfg)
			for i, b := range restored {
				if err := b.UnmarshalState(states[i]); err != nil {
					t.Fatalf("%s: %v", b.Name(), err)
				}
			}
			again := marshalAll(t, restored)
			for i := range states {
				if !bytes.Equal(states[i], again[i]) {
					t.Errorf("%s: restored state marshals differently", bs[i].Name())
				}
			}
			for _, e := range evs[cut:] {
				f.feed(restored, e)
			}
			if !reflect.DeepEqual(f.found, want) {
				t.Fatalf("findings differ after a restore at %d: %d vs %d uninterrupted%s", cut, len(f.found), len(want), firstDiff(f.found, want))
			}
			end := marshalAll(t, restored)
			for i, s := range marshalAll(t, wantBS) {
				if !bytes.Equal(s, end[i]) {
					t.Errorf("%s: final state differs from the uninterrupted run's", bs[i].Name())
				}
			}
		})
	}
}

func firstDiff(a, b []detector.Finding) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("\nfirst difference at %d:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	return ""
}

func TestDeterministic(t *testing.T) {
	evs := stream(3, 10000, 2)
	a, abs := runAll(t, fastConfig(), evs)
	b, bbs := runAll(t, fastConfig(), evs)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs over the same events differ")
	}
	sa, sb := marshalAll(t, abs), marshalAll(t, bbs)
	for i := range sa {
		if !bytes.Equal(sa[i], sb[i]) {
			t.Errorf("%s: states differ", abs[i].Name())
		}
	}
}

func TestUnmarshalState(t *testing.T) {
	_, bs := runAll(t, fastConfig(), stream(4, 5000, 1))
	states := marshalAll(t, bs)
	for i, b := range bs {
		t.Run(b.Name(), func(t *testing.T) {
			s := states[i]
			// nil resets.
			if err := b.UnmarshalState(nil); err != nil {
				t.Fatal(err)
			}
			fresh, _ := New(fastConfig())
			if got, want := mustMarshal(t, b), mustMarshal(t, fresh[i]); !bytes.Equal(got, want) {
				t.Error("UnmarshalState(nil) is not the fresh state")
			}
			// Every truncation fails and leaves the behaviour fresh.
			for n := 0; n < len(s); n += 1 + len(s)/200 {
				if err := b.UnmarshalState(s[:n]); err == nil || !errors.Is(err, errCorrupt) {
					t.Fatalf("truncated to %d of %d bytes: %v", n, len(s), err)
				}
				if b.(StatsReporter).Stats().Tracked != 0 {
					t.Fatalf("truncated to %d: state left behind", n)
				}
			}
			// Trailing bytes, another behaviour's state, another version.
			other := states[(i+1)%len(states)]
			for name, bad := range map[string][]byte{
				"trailing": append(append([]byte(nil), s...), 0),
				"other":    other,
				"version":  append([]byte("VBS\x02"), s[4:]...),
				"garbage":  []byte("{}"),
			} {
				if err := b.UnmarshalState(bad); err == nil {
					t.Errorf("%s: accepted", name)
				}
			}
			if err := b.UnmarshalState(s); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func mustMarshal(t testing.TB, b detector.Behaviour) []byte {
	t.Helper()
	s, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func FuzzUnmarshalState(f *testing.F) {
	_, bs := runAll(f, fastConfig(), stream(5, 3000, 1))
	for _, s := range marshalAll(f, bs) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fresh, _ := New(fastConfig())
		for _, b := range fresh {
			if err := b.UnmarshalState(data); err != nil {
				continue
			}
			// Accepted state must be usable and marshal again.
			var fd feeder
			for _, e := range stream(6, 200, 1) {
				fd.feed([]detector.Behaviour{b}, e)
			}
			if _, err := b.MarshalState(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestCountsAddUp checks the emitter's contract on Count: it is the
// number of events a finding adds, so over a run the counts of a
// behaviour add up to the distinct events in its evidence. The baseline
// is the exception: its first finding of an hour counts the hour's
// accesses so far but names only the one that tipped it over.
func TestCountsAddUp(t *testing.T) {
	found, bs := runAll(t, fastConfig(), stream(8, 20000, 3))
	for _, b := range bs {
		var sum int64
		ids := map[string]bool{}
		for _, f := range found {
			if f.RuleID != b.Name() {
				continue
			}
			sum += f.Count
			for _, id := range f.Evidence {
				ids[id] = true
			}
		}
		switch {
		case b.Name() == RuleActorBaseline && sum < int64(len(ids)):
			t.Errorf("%s: counts add up to %d, fewer than the %d events in evidence", b.Name(), sum, len(ids))
		case b.Name() != RuleActorBaseline && sum != int64(len(ids)):
			t.Errorf("%s: counts add up to %d, evidence names %d events", b.Name(), sum, len(ids))
		}
	}
}
