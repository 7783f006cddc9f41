package detector

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// burst is a test behaviour: every third access event of an actor within
// ten minutes is a finding over those three events.
type burst struct {
	Actors map[string]*burstActor `json:"actors"`
	buf    []string
}

type burstActor struct {
	IDs   []string  `json:"ids"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func newBurst() *burst { return &burst{Actors: map[string]*burstActor{}} }

func (b *burst) Name() string             { return BehaviourPrefix + "burst" }
func (b *burst) Title() string            { return "Burst of access" }
func (b *burst) Severity() event.Severity { return event.SeverityLow }

func (b *burst) Access(e *event.AccessEvent, emit func(Finding)) {
	key := e.Org + "/" + e.Actor.ID
	a := b.Actors[key]
	t := e.OccurredAt.Time
	if a == nil || t.Sub(a.First) >= 10*time.Minute || t.Before(a.First) {
		a = &burstActor{First: t}
		b.Actors[key] = a
	}
	a.IDs = append(a.IDs, e.EventID)
	a.Last = t
	if len(a.IDs) == 3 {
		b.buf = append(b.buf[:0], a.IDs...)
		emit(Finding{RuleID: b.Name(), RuleTitle: b.Title(), Severity: event.SeverityLow,
			GroupKey: key, Org: e.Org, ActorID: e.Actor.ID, Start: a.First, End: t, Count: 3,
			Subjects: []string{e.Subject.ID}, Categories: e.Categories, Evidence: b.buf,
			Explanation: "Three accesses within ten minutes."})
		delete(b.Actors, key)
	}
}

func (b *burst) Device(*event.DeviceEvent, func(Finding)) {}

func (b *burst) Advance(w time.Time) {
	for k, a := range b.Actors {
		if w.Sub(a.Last) > time.Hour {
			delete(b.Actors, k)
		}
	}
}

func (b *burst) MarshalState() ([]byte, error) { return json.Marshal(b.Actors) }

func (b *burst) UnmarshalState(p []byte) error {
	b.Actors = map[string]*burstActor{}
	if p == nil {
		return nil
	}
	return json.Unmarshal(p, &b.Actors)
}

func TestBehaviour(t *testing.T) {
	b := newBurst()
	p := newPartition(t, loadRules(t, "standalone.yml"), Options{}, b)
	recs := run(t, p, []in{
		acc(0, "a", read, subject("p1")), acc(minute, "a", read, subject("p2")),
		acc(2*minute, "b", read), acc(3*minute, "a", read, subject("p1")), // finding 1
		acc(4*minute, "a", read), acc(5*minute, "a", read), acc(6*minute, "a", read), // finding 2 folds
	})
	last := latest(recs)
	if len(last) != 1 {
		t.Fatalf("alerts %+v", last)
	}
	a := last[0]
	if a.RuleID != "vigil.behaviour.burst" || a.RuleTitle != "Burst of access" || a.Count != 6 ||
		a.Severity != event.SeverityLow || a.DistinctSubjects != 2 ||
		!slices.Equal(a.Evidence, []string{"e0", "e1", "e3", "e4", "e5", "e6"}) || !a.WindowStart.Equal(t0) {
		t.Errorf("alert %+v", a)
	}
	golden(t, "behaviour", summary{Alerts: last, Stats: p.Stats()})

	if _, err := New(loadRules(t, "standalone.yml"), Options{}, []Behaviour{newBurst(), newBurst()}); err == nil {
		t.Error("New accepted two behaviours of one name")
	}
}
