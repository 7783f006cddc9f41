package runner

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
)

// TestBehaviourMetrics: the behaviours' Stats are exported per behaviour:
// the entries tracked by the assigned partitions, and those evicted
// because a limit was reached.
func TestBehaviourMetrics(t *testing.T) {
	e := newEnv(t, startBroker(t))
	cfg := behave.Defaults()
	cfg.ActorBaseline.MaxActors = 2 // five actors on each access partition
	e.opts = append(e.opts, WithBehaviours(func() ([]detector.Behaviour, error) { return behave.New(cfg) }))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.produce(ctx, genStream("bm", 0, 400))
	rn := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)

	ab := []string{"behaviour", behave.RuleActorBaseline}
	if n := rn.counter("vigil_detector_behaviour_tracked", ab...); n < 1 {
		t.Errorf("actor_baseline tracks %v entries after 400 events", n)
	}
	if n := rn.counter("vigil_detector_behaviour_evictions_total", ab...); n == 0 {
		t.Error("actor_baseline evicted nothing with max_actors 2 and 20 actors")
	}
	if n := rn.counter("vigil_detector_behaviour_evictions_total", "behaviour", behave.RuleCareRelationship); n != 0 {
		t.Errorf("care_relationship evicted %v entries with its default limits", n)
	}
	lint(t, rn.reg)
	rn.stop(t)
}
