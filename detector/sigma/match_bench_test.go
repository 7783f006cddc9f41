package sigma

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// benchEvents returns n events, about four access events to one device
// event, with varied values so that the pack's rules take different paths:
// most events match nothing, as in production.
func benchEvents(n int) []Event {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	actions := event.Actions()
	cats := event.Categories()
	kinds := event.DeviceKinds()
	base := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	out := make([]Event, 0, n)
	for i := range n {
		at := event.NewTimestamp(base.Add(time.Duration(rng.IntN(7*24*3600)) * time.Second))
		if i%5 == 4 {
			d := &event.DeviceEvent{
				EventID: "d-" + strconv.Itoa(i), OccurredAt: at, ReceivedAt: at, Source: "sdk",
				Org: pick("app-1", "app-2"), AccountID: "acct-" + strconv.Itoa(rng.IntN(500)),
				DeviceID: "dev-" + strconv.Itoa(rng.IntN(800)), Kind: kinds[rng.IntN(len(kinds))],
				Device:  event.Device{Model: "SM-G9910", OS: pick("android", "ios"), AppVersion: pick("3.2.1", "2.0.4", "1.9")},
				Signals: event.Signals{Rooted: rng.IntN(20) == 0, Emulator: rng.IntN(50) == 0, ProxyOrVPN: rng.IntN(10) == 0},
				Network: event.Network{IP: "203.0.113." + strconv.Itoa(rng.IntN(255)), Carrier: "46000"},
				Outcome: event.Outcome(pick("success", "success", "failure")),
			}
			if rng.IntN(2) == 0 {
				d.Location = &event.Location{Lat: 31.2, Lon: 121.5, AccuracyM: float64(rng.IntN(10000))}
			}
			out = append(out, Device(d))
			continue
		}
		a := &event.AccessEvent{
			EventID: "a-" + strconv.Itoa(i), OccurredAt: at, ReceivedAt: at, Source: "ehr",
			Org:    pick("hosp-1", "hosp-2", "hosp-3"),
			Actor:  event.Actor{ID: "staff-" + strconv.Itoa(rng.IntN(300)), Type: event.ActorTypes()[rng.IntN(5)], Role: pick("nurse", "physician", "billing", "Intern nurse", "clerk"), Department: pick("cardiology", "oncology", "")},
			Action: actions[rng.IntN(len(actions))],
			Subject: event.Subject{ID: "pt-" + strconv.Itoa(rng.IntN(5000)), Type: event.SubjectPatient,
				Minor: rng.IntN(15) == 0, VIP: rng.IntN(50) == 0},
			Categories:   []event.Category{cats[rng.IntN(len(cats))], cats[rng.IntN(len(cats))]},
			RecordCount:  int64(rng.IntN(3000)),
			Purpose:      pick("care", "", "monthly report", "billing follow-up"),
			Relationship: event.Relationships()[rng.IntN(3)],
			Outcome:      event.AccessOutcomes()[rng.IntN(3)],
			Client: event.Client{IP: pick("10.1.2.3", "192.168.7.9", "203.0.113.50", "2001:db8::5"),
				UserAgent: pick("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "python-requests/2.31", "EHRClient/4.2"),
				Geo:       event.Geo{Country: pick("CN", "CN", "CN", "US")}},
			SessionID: "s-" + strconv.Itoa(i),
			RequestID: "r-" + strconv.Itoa(i),
			Attrs:     map[string]string{"ward": pick("cardiology", "oncology"), "recipient": pick("x@hosp.example", "y@qq.com")},
		}
		out = append(out, Access(a))
	}
	return out
}

func benchOptions() Options {
	return Options{TimeZones: map[string]*time.Location{
		"hosp-1": time.FixedZone("UTC+8", 8*3600),
		"hosp-2": time.FixedZone("UTC+8", 8*3600),
		"app-1":  time.FixedZone("UTC-5", -5*3600),
	}}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under the race detector")
	}
	set, err := LoadDir("testdata/pack", benchOptions())
	if err != nil {
		t.Fatal(err)
	}
	evs := benchEvents(1000)
	dst := make([]*Rule, 0, len(set.Rules))
	matched := 0
	allocs := testing.AllocsPerRun(5, func() {
		matched = 0
		for _, ev := range evs {
			dst = set.Match(ev, dst[:0])
			matched += len(dst)
		}
	})
	if allocs != 0 {
		t.Errorf("Set.Match allocates: %v allocations per 1000 events", allocs)
	}
	if matched == 0 || matched > 3*len(evs) {
		t.Errorf("%d matches on %d events: the benchmark events do not exercise the pack", matched, len(evs))
	}
}

// BenchmarkPackMatch evaluates the whole test pack on a varied stream of
// events; one op is one event.
func BenchmarkPackMatch(b *testing.B) {
	set, err := LoadDir("testdata/pack", benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(4096)
	dst := make([]*Rule, 0, len(set.Rules))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = set.Match(evs[i%len(evs)], dst[:0])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(set.access)+len(set.device)), "rules")
}

// BenchmarkLoadPack measures compiling the test pack, test events included.
func BenchmarkLoadPack(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadDir("testdata/pack", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMatchConcurrent checks that one Set serves several goroutines with
// the results of a single one (run with -race).
func TestMatchConcurrent(t *testing.T) {
	set, err := LoadDir("testdata/pack", benchOptions())
	if err != nil {
		t.Fatal(err)
	}
	evs := benchEvents(400)
	want := make([]int, len(evs))
	for i, ev := range evs {
		want[i] = len(set.Match(ev, nil))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			dst := make([]*Rule, 0, 8)
			for i := range evs {
				j := (i + g*97) % len(evs)
				if dst = set.Match(evs[j], dst[:0]); len(dst) != want[j] {
					errs <- fmt.Sprintf("goroutine %d: event %d matched %d rules, alone %d", g, j, len(dst), want[j])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
