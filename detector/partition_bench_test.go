package detector

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

// benchInputs returns n events of a busy partition, in time order about
// 2 ms apart: four access events to one device event, 20000 staff reading
// among 200000 patients, occasional failed logins, exports and risky
// devices, so that the pack's correlations keep many groups and most
// events match a feeder rule but raise nothing.
func benchInputs(n int) []in {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	out := make([]in, 0, n)
	for i := range n {
		at := event.NewTimestamp(t0.Add(time.Duration(i) * 2 * time.Millisecond))
		if i%5 == 4 {
			d := &event.DeviceEvent{
				EventID: "d-" + strconv.Itoa(i), OccurredAt: at, ReceivedAt: at, Source: "sdk",
				Org: "app-1", AccountID: "acct-" + strconv.Itoa(rng.IntN(50000)),
				DeviceID: "dev-" + strconv.Itoa(rng.IntN(60000)),
				Kind:     []event.DeviceKind{event.KindLogin, event.KindLogin, event.KindPayment, event.KindFaceVerify, event.KindPasswordReset}[rng.IntN(5)],
				Device:   event.Device{Model: "SM-G9910", OS: pick("android", "ios"), AppVersion: pick("3.2.1", "3.3.0")},
				Signals:  event.Signals{Rooted: rng.IntN(200) == 0, ProxyOrVPN: rng.IntN(20) == 0},
				Network:  event.Network{IP: "203.0.113." + strconv.Itoa(rng.IntN(255)), Carrier: "46000"},
				Outcome:  event.OutcomeSuccess,
			}
			out = append(out, in{d: d})
			continue
		}
		action := event.ActionRead
		outcome := event.OutcomeSuccess
		switch r := rng.IntN(100); {
		case r < 5:
			action = event.ActionLogin
			if rng.IntN(4) == 0 {
				outcome = event.OutcomeDenied
			}
		case r < 7:
			action = event.ActionExport
		case r < 20:
			action = event.ActionSearch
		}
		a := &event.AccessEvent{
			EventID: "a-" + strconv.Itoa(i), OccurredAt: at, ReceivedAt: at, Source: "ehr",
			Org:    "hosp-1",
			Actor:  event.Actor{ID: "staff-" + strconv.Itoa(rng.IntN(20000)), Type: event.ActorDoctor, Role: pick("nurse", "physician"), Department: "cardiology"},
			Action: action,
			Subject: event.Subject{ID: "pt-" + strconv.Itoa(rng.IntN(200000)), Type: event.SubjectPatient,
				Minor: rng.IntN(500) == 0},
			Categories:   []event.Category{event.CategoryHealth},
			RecordCount:  int64(1 + rng.IntN(50)),
			Purpose:      "care",
			Relationship: event.RelationshipTrue,
			Outcome:      outcome,
			Client:       event.Client{IP: "10.1.2.3", UserAgent: "EHRClient/4.2", Geo: event.Geo{Country: "CN"}},
			SessionID:    "s-1",
		}
		if action == event.ActionLogin {
			a.Subject, a.Categories = event.Subject{}, nil
		}
		out = append(out, in{a: a})
	}
	return out
}

// BenchmarkPartition measures events per second through a Partition
// with the representative rule pack of package sigma (31 rules and
// correlations): matching, correlation windows, alert folding, in the
// steady state (the events repeat, shifted later in time each round).
func BenchmarkPartition(b *testing.B) {
	set, err := sigma.LoadDir("sigma/testdata/pack", sigma.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1 << 16
	seq := benchInputs(n)
	p, err := New(set, Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	round := time.Duration(n) * 2 * time.Millisecond
	var out []event.Alert
	feedRound := func(r int, off int64) int64 {
		shift := time.Duration(r) * round
		for _, x := range seq {
			if x.a != nil {
				x.a.OccurredAt = event.NewTimestamp(t0.Add(shift + time.Duration(off%n)*2*time.Millisecond))
				p.Access(off, x.a)
			} else {
				x.d.OccurredAt = event.NewTimestamp(t0.Add(shift + time.Duration(off%n)*2*time.Millisecond))
				p.Device(off, x.d)
			}
			off++
			if off%1024 == 0 {
				out = p.Drain(out[:0])
			}
		}
		return off
	}
	// Warm up: two rounds fill the windows and the groups.
	off := feedRound(0, 0)
	off = feedRound(1, off)
	b.ReportAllocs()
	b.ResetTimer()
	r := 2
	i := 0
	for b.Loop() {
		x := seq[i]
		shift := time.Duration(r)*round + time.Duration(i)*2*time.Millisecond
		if x.a != nil {
			x.a.OccurredAt = event.NewTimestamp(t0.Add(shift))
			p.Access(off, x.a)
		} else {
			x.d.OccurredAt = event.NewTimestamp(t0.Add(shift))
			p.Device(off, x.d)
		}
		off++
		if off%1024 == 0 {
			out = p.Drain(out[:0])
		}
		if i++; i == n {
			i, r = 0, r+1
		}
	}
	b.StopTimer()
	s := p.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.Logf("stats after %d events: %+v", s.Events, s)
}

// BenchmarkPartitionMatchOnly is the reference of BenchmarkPartition:
// sigma.Set.Match alone on the same events, so that the runtime's own
// cost reads as the difference.
func BenchmarkPartitionMatchOnly(b *testing.B) {
	set, err := sigma.LoadDir("sigma/testdata/pack", sigma.Options{})
	if err != nil {
		b.Fatal(err)
	}
	seq := benchInputs(1 << 16)
	buf := make([]*sigma.Rule, 0, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x := seq[i]
		if x.a != nil {
			buf = set.Match(sigma.Access(x.a), buf[:0])
		} else {
			buf = set.Match(sigma.Device(x.d), buf[:0])
		}
		if i++; i == len(seq) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
