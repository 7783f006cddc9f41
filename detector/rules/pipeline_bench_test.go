package rules

import (
	"context"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/event"
)

// encodedSink keeps the simulator's events as the record values the
// collector produces to Kafka, in order.
type encodedSink struct {
	values [][]byte
	access []bool
}

func (s *encodedSink) Access(_ context.Context, e *event.AccessEvent) error {
	c := simulate.CopyAccess(e)
	c.Source, c.ReceivedAt = "simulate", c.OccurredAt
	if c.Relationship == "" {
		c.Relationship = event.RelationshipUnknown
	}
	s.values, s.access = append(s.values, c.AppendJSON(nil)), append(s.access, true)
	return nil
}

func (s *encodedSink) Device(_ context.Context, e *event.DeviceEvent) error {
	c := simulate.CopyDevice(e)
	c.Source, c.ReceivedAt = "simulate", c.OccurredAt
	s.values, s.access = append(s.values, c.AppendJSON(nil)), append(s.access, false)
	return nil
}

func (s *encodedSink) Label(context.Context, *simulate.Label) error { return nil }
func (s *encodedSink) Flush(context.Context) error                  { return nil }

// encodedTraffic returns an hour of simulated traffic at rate 20 (four
// organisations, two incidents of every kind per hour) encoded as on the
// bus, and the shipped pack loaded with the simulator's time zones.
func encodedTraffic(b *testing.B) (*encodedSink, *sigma.Set) {
	b.Helper()
	sim, err := simulate.New(simulate.Config{Seed: 1, Rate: 20, Duration: time.Hour, IncidentsPerHour: 2})
	if err != nil {
		b.Fatal(err)
	}
	s := &encodedSink{}
	if err := sim.Run(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	set, err := loadPack(sigma.Options{TimeZones: sim.TimeZones()})
	if err != nil {
		b.Fatal(err)
	}
	return s, set
}

// BenchmarkDecodeVsPack is the detector's figure against its floor, in
// one run over the same encoded events: "decode" is the project's event
// decoder alone (event.DecodeAccess / DecodeDevice, what every consumer
// pays), "pack" is decoding plus one detector.Partition with the shipped
// rules and correlations and every built-in behaviour at its defaults.
// Run it pinned to one core (bench/detector.sh) and read the ratio.
func BenchmarkDecodeVsPack(b *testing.B) {
	s, set := encodedTraffic(b)
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var bad int
		i := 0
		for b.Loop() {
			k := i % len(s.values)
			if s.access[k] {
				if _, ps := event.DecodeAccess(s.values[k]); len(ps) > 0 {
					bad++
				}
			} else if _, ps := event.DecodeDevice(s.values[k]); len(ps) > 0 {
				bad++
			}
			i++
		}
		if bad > 0 {
			b.Fatalf("%d of %d events did not decode", bad, b.N)
		}
		report(b)
	})
	b.Run("pack", func(b *testing.B) {
		b.ReportAllocs()
		var p *detector.Partition
		var buf []event.Alert
		alerts := 0
		i := 0
		for b.Loop() {
			k := i % len(s.values)
			if k == 0 {
				// A fresh partition each pass: event time restarts.
				bs, err := behave.New(behave.Defaults())
				if err != nil {
					b.Fatal(err)
				}
				if p, err = detector.New(set, detector.Options{}, bs); err != nil {
					b.Fatal(err)
				}
			}
			if s.access[k] {
				ev, _ := event.DecodeAccess(s.values[k])
				p.Access(int64(k+1), &ev)
			} else {
				ev, _ := event.DecodeDevice(s.values[k])
				p.Device(int64(k+1), &ev)
			}
			if k%1024 == 1023 {
				buf = p.Drain(buf[:0])
				alerts += len(buf)
			}
			i++
		}
		if b.N >= len(s.values) && alerts == 0 {
			b.Fatalf("no alert records over %d events", b.N)
		}
		report(b)
	})
}

// BenchmarkActorMemory measures the heap the full pack (rules,
// correlations, every behaviour) keeps for 100,000 distinct active actors,
// each with four events (reads of their own patients, a login, an
// export) over an hour, all in one partition. "raised" lifts every
// behaviour's MaxActors / MaxPeerGroups above 100,000 so
// that every actor is kept; "defaults" keeps the shipped limits, whose
// bound must hold ("defaults-200k-actors": twice the actors, the
// behaviours' share must not grow); "rules-only" has no behaviours (the rules' and
// correlations' share). Reported: bytes per actor and per 100k actors.
func BenchmarkActorMemory(b *testing.B) {
	set, err := loadPack(sigma.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const per = 4
	for _, c := range []struct {
		name   string
		actors int
		limit  int
	}{
		{"raised", 100_000, 400_000},
		{"defaults", 100_000, 0},
		{"defaults-200k-actors", 200_000, 0},
		{"rules-only", 100_000, -1},
	} {
		actors := c.actors
		evs := actorEvents(actors, per)
		b.Run(c.name, func(b *testing.B) {
			cfg := behave.Defaults()
			if c.limit > 0 {
				raiseLimits(reflect.ValueOf(&cfg).Elem(), c.limit)
			}
			var perActor float64
			for b.Loop() {
				before := heapInuse()
				var bs []detector.Behaviour
				if c.limit >= 0 {
					if bs, err = behave.New(cfg); err != nil {
						b.Fatal(err)
					}
				}
				p, err := detector.New(set, detector.Options{}, bs)
				if err != nil {
					b.Fatal(err)
				}
				var buf []event.Alert
				for i := range evs {
					p.Access(int64(i+1), &evs[i])
					if i%1024 == 1023 {
						buf = p.Drain(buf[:0])
					}
				}
				_ = p.Drain(buf[:0])
				after := heapInuse()
				runtime.KeepAlive(p)
				perActor = float64(int64(after)-int64(before)) / float64(actors)
			}
			b.ReportMetric(perActor, "B/actor")
			b.ReportMetric(perActor*100_000/(1<<20), "MiB/100k-actors")
			b.ReportMetric(perActor*float64(actors)/(1<<20), "MiB")
		})
	}
}

// actorEvents returns per events for each of n actors, interleaved in time
// order over an hour, in one organisation.
func actorEvents(n, per int) []event.AccessEvent {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	step := time.Hour / time.Duration(n*per)
	out := make([]event.AccessEvent, 0, n*per)
	for j := range per {
		for a := range n {
			i := j*n + a
			at := event.NewTimestamp(t0.Add(time.Duration(i) * step))
			e := event.AccessEvent{
				EventID: "m-" + strconv.Itoa(i), OccurredAt: at, ReceivedAt: at, Source: "ehr", Org: "hosp-1",
				Actor: event.Actor{ID: "staff-" + strconv.Itoa(a), Type: event.ActorStaff, Role: "nurse",
					Department: "ward-" + strconv.Itoa(a%50)},
				Action: event.ActionRead,
				Subject: event.Subject{ID: "pt-" + strconv.Itoa(a) + "-" + strconv.Itoa(j%2),
					Type: event.SubjectPatient},
				Categories:   []event.Category{event.CategoryHealth},
				RecordCount:  1,
				Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
				Client: event.Client{IP: "10.1." + strconv.Itoa(a%250) + "." + strconv.Itoa(a%200),
					Geo: event.Geo{Country: "CN"}},
			}
			switch j {
			case 0:
				e.Action, e.Subject, e.Categories = event.ActionLogin, event.Subject{}, nil
			case per - 1:
				e.Action, e.RecordCount = event.ActionExport, 5
			}
			out = append(out, e)
		}
	}
	return out
}

// raiseLimits sets every int field named MaxActors or
// MaxPeerGroups under v (a behave.Config) to n: the state bounds.
func raiseLimits(v reflect.Value, n int) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			raiseLimits(f, n)
		case f.Kind() == reflect.Int && f.CanSet():
			switch v.Type().Field(i).Name {
			case "MaxActors", "MaxPeerGroups":
				f.SetInt(int64(n))
			}
		}
	}
}

// heapInuse returns the heap in use after two collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
