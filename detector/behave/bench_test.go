package behave

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/event"
)

// benchEvents returns ordinary traffic to cycle through: actors staff
// (one admin in ten) reading, searching and updating records from their
// workstations, and devices app phones logging in and paying. 85% access,
// 15% device events.
func benchEvents(actors, devices int) []any {
	var out []any
	lat, lon := 31.2304, 121.4737
	for i := range 20 * actors {
		a := i % actors
		if i%7 == 6 {
			d := i % devices
			e := &event.DeviceEvent{EventID: fmt.Sprintf("d%d", i), Org: "org1",
				DeviceID: fmt.Sprintf("DEV-%04d", d), AccountID: fmt.Sprintf("ACC-%04d", d),
				Kind: []event.DeviceKind{event.KindLogin, event.KindPayment, event.KindFaceVerify, event.KindLogout}[i%4], Outcome: event.OutcomeSuccess,
				Location: &event.Location{Lat: lat + float64(d%10)/100, Lon: lon, AccuracyM: 30}}
			out = append(out, e)
			continue
		}
		typ := event.ActorStaff
		if a%10 == 0 {
			typ = event.ActorAdmin
		}
		e := &event.AccessEvent{EventID: fmt.Sprintf("a%d", i), Org: "org1",
			Actor:        event.Actor{ID: fmt.Sprintf("S%05d", a), Type: typ, Role: "nurse", Department: fmt.Sprintf("dept%d", a%8)},
			Action:       []event.Action{event.ActionRead, event.ActionRead, event.ActionSearch, event.ActionUpdate}[i%4],
			Subject:      event.Subject{ID: fmt.Sprintf("PAT-%06d", (a*37+i)%5000), Type: event.SubjectPatient},
			Categories:   []event.Category{event.CategoryHealth},
			Relationship: []event.Relationship{event.RelationshipTrue, event.RelationshipTrue, event.RelationshipUnknown, event.RelationshipTrue}[i%4],
			Outcome:      event.OutcomeSuccess,
			Client: event.Client{IP: fmt.Sprintf("10.0.%d.%d", a%8, 2+a%50), DeviceID: fmt.Sprintf("WS-%d", a%40),
				Geo: event.Geo{Country: "CN", City: "Shanghai", Lat: &lat, Lon: &lon}},
		}
		out = append(out, e)
	}
	return out
}

// retime sets the occurred_at of event e (of benchEvents) to t0 + ms.
func retime(e any, ms int64) any {
	ts := event.Timestamp{Time: time.UnixMilli(t0.UnixMilli() + ms).UTC()}
	switch e := e.(type) {
	case *event.AccessEvent:
		e.OccurredAt = ts
	case *event.DeviceEvent:
		e.OccurredAt = ts
	}
	return e
}

// benchConfig is Defaults with learning periods short enough for a
// benchmark to get past them (the cost per event does not depend on
// their length).
func benchConfig() Config {
	c := Defaults()
	c.ActorBaseline.MinActiveHours, c.ActorBaseline.MinActiveDays, c.ActorBaseline.MinPeerHours = 4, 1, 8
	c.FirstSeen.LearningPeriod, c.FirstSeen.MinActiveDays = time.Hour, 1
	c.OffHours.MinHistoryEvents, c.OffHours.MinActiveDays = 50, 1
	return c
}

// BenchmarkBehaviours measures one event through every behaviour (with
// Advance, as a Partition calls it) in the steady state: known actors and
// devices, each actor making about 20 accesses an hour, histories learnt,
// nothing firing. BenchmarkBehaviour does the same for each behaviour
// alone.
func BenchmarkBehaviours(b *testing.B) {
	for _, size := range []struct{ actors, devices int }{{200, 50}, {20000, 5000}} {
		b.Run(fmt.Sprintf("actors=%d", size.actors), func(b *testing.B) {
			bs, err := New(benchConfig())
			if err != nil {
				b.Fatal(err)
			}
			benchRun(b, bs, size.actors, size.devices)
		})
	}
}

func BenchmarkBehaviour(b *testing.B) {
	all, _ := New(benchConfig())
	for i := range all {
		b.Run(all[i].Name()[len(detector.BehaviourPrefix):], func(b *testing.B) {
			bs, _ := New(benchConfig())
			benchRun(b, bs[i:i+1], 2000, 500)
		})
	}
}

func benchRun(b *testing.B, bs []detector.Behaviour, actors, devices int) {
	evs := benchEvents(actors, devices)
	// 20 accesses per actor per hour (device events on top).
	step := float64(time.Hour/time.Millisecond) / float64(20*actors) * 6 / 7
	found := 0
	emit := func(detector.Finding) { found++ }
	i := 0
	feed := func() {
		e := retime(evs[i%len(evs)], int64(float64(i)*step))
		i++
		switch e := e.(type) {
		case *event.AccessEvent:
			for _, x := range bs {
				x.Access(e, emit)
			}
			for _, x := range bs {
				x.Advance(e.OccurredAt.Time)
			}
		case *event.DeviceEvent:
			for _, x := range bs {
				x.Device(e, emit)
			}
		}
	}
	// Warm up over six hours of event time: every learning period of
	// benchConfig ends.
	for float64(i)*step < float64(6*time.Hour/time.Millisecond) {
		feed()
	}
	found = 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		feed()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if found > 0 {
		b.Errorf("%d findings in steady state", found)
	}
}
