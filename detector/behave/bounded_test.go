package behave

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

func smallConfig(n int) Config {
	c := Defaults()
	c.ActorBaseline.MaxActors, c.ActorBaseline.MaxPeerGroups = n, n
	c.FirstSeen.MaxActors = n
	c.ImpossibleTravel.MaxActors, c.ImpossibleTravel.MaxAccounts = n, n
	c.CareRelationship.MaxActors = n
	c.BreakGlassBurst.MaxActors = n
	c.OffHours.MaxActors = n
	c.DeviceManyAccounts.MaxDevices = n
	c.FaceVerifyFailures.MaxDevices, c.FaceVerifyFailures.MaxAccounts = n, n
	c.SIMSwap.MaxAccounts = n
	return c
}

// keyed returns an event that makes behaviour rule keep state for key i.
func keyed(rule string, i int) any {
	when := time.Duration(i) * time.Minute
	actor := fmt.Sprintf("S%03d", i)
	switch rule {
	case RuleActorBaseline, RuleImpossibleTravel, RuleOffHours:
		e := acc(actor, when)
		e.Actor.Role = fmt.Sprintf("role%d", i) // a peer group each, too
		return e
	case RuleFirstSeen:
		e := acc(actor, when)
		e.Actor.Type = event.ActorAdmin
		return e
	case RuleCareRelationship, RuleBreakGlassBurst:
		e := acc(actor, when)
		e.Action, e.Relationship = event.ActionBreakGlass, event.RelationshipFalse
		return e
	case RuleDeviceManyAccounts:
		return dev(fmt.Sprintf("D%03d", i), "U1", event.KindLogin, when)
	case RuleFaceVerifyFailures:
		e := dev(fmt.Sprintf("D%03d", i), fmt.Sprintf("U%03d", i), event.KindFaceVerify, when)
		e.Outcome = event.OutcomeFailure
		return e
	case RuleSIMSwap:
		return dev("D1", fmt.Sprintf("U%03d", i), event.KindSIMChange, when)
	}
	return nil
}

func TestBoundedState(t *testing.T) {
	const limit, keys = 10, 100
	bs, err := New(smallConfig(limit))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		t.Run(b.Name(), func(t *testing.T) {
			if keyed(b.Name(), 0) == nil {
				if st := b.(StatsReporter).Stats(); st != (Stats{}) {
					t.Errorf("stateless behaviour reports %+v", st)
				}
				return
			}
			var f feeder
			for i := range keys {
				f.feed([]detector.Behaviour{b}, keyed(b.Name(), i))
				if st := b.(StatsReporter).Stats(); st.Tracked > 2*limit {
					t.Fatalf("after %d keys: %d tracked", i+1, st.Tracked)
				}
			}
			st := b.(StatsReporter).Stats()
			if st.Evicted < keys-limit {
				t.Errorf("evicted %d, want ≥ %d", st.Evicted, keys-limit)
			}
			// The most recent keys survive, the oldest are gone.
			s, _ := b.MarshalState()
			if !containsKey(s, keys-1) || containsKey(s, 0) {
				t.Errorf("state keeps the wrong keys")
			}
			// Everything expires once the watermark passes forget_after.
			b.Advance(t0.Add(1000 * 24 * time.Hour))
			st = b.(StatsReporter).Stats()
			if st.Tracked != 0 || st.Expired == 0 {
				t.Errorf("after expiry: %+v", st)
			}
		})
	}
}

// containsKey reports whether a state names key i (as S…, D… or U…).
func containsKey(state []byte, i int) bool {
	for _, p := range []string{"S", "D", "U"} {
		if contains(state, fmt.Sprintf("%s%03d", p, i)) {
			return true
		}
	}
	return false
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// TestSteadyStateAllocations: once an actor or device is known, ordinary
// events cost no allocation in any behaviour.
func TestSteadyStateAllocations(t *testing.T) {
	// Short learning periods, default limits (no eviction).
	cfg := fastConfig()
	d := Defaults()
	cfg.ActorBaseline.MaxActors, cfg.ActorBaseline.MaxPeerGroups = d.ActorBaseline.MaxActors, d.ActorBaseline.MaxPeerGroups
	cfg.ActorBaseline.MinEvents, cfg.ActorBaseline.MinSubjects = d.ActorBaseline.MinEvents, d.ActorBaseline.MinSubjects
	cfg.FirstSeen.MaxActors, cfg.FirstSeen.MaxValues = d.FirstSeen.MaxActors, d.FirstSeen.MaxValues
	cfg.ImpossibleTravel = d.ImpossibleTravel
	cfg.OffHours.MaxActors = d.OffHours.MaxActors
	cfg.DeviceManyAccounts = d.DeviceManyAccounts
	cfg.FaceVerifyFailures = d.FaceVerifyFailures
	cfg.SIMSwap = d.SIMSwap
	cfg.DormantAccount = d.DormantAccount
	bs, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := benchEvents(200, 50)
	// Warm up over 11 hours of event time: every learning period of
	// fastConfig ends.
	var f feeder
	const warm = 40000
	for i := range warm {
		f.feed(bs, retime(evs[i%len(evs)], int64(i)*1000))
	}
	if len(f.found) != 0 {
		t.Logf("%d findings during warm-up (first: %s)", len(f.found), f.found[0].Explanation)
	}
	learned := 0
	bs[0].(*baseline).actors.each(func(_ key, _ int64, a *baseActor) {
		if a.thr.learned {
			learned++
		}
	})
	if learned == 0 {
		t.Fatal("no actor learnt")
	}
	i := warm
	noop := func(detector.Finding) {}
	allocs := testing.AllocsPerRun(5000, func() {
		e := retime(evs[i%len(evs)], int64(i)*1000)
		i++
		switch e := e.(type) {
		case *event.AccessEvent:
			for _, b := range bs {
				b.Access(e, noop)
			}
			for _, b := range bs {
				b.Advance(e.OccurredAt.Time)
			}
		case *event.DeviceEvent:
			for _, b := range bs {
				b.Device(e, noop)
			}
		}
	})
	if allocs > 0.01 {
		t.Errorf("%.3f allocations per event", allocs)
	}
}
