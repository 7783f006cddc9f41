package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// startBroker starts an in-memory embedded broker for one test.
func startBroker(t testing.TB) bus.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", Topics: []bus.TopicSpec{}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e.Config()
}

func TestLifecycle(t *testing.T) {
	set, err := sigma.LoadDir("testdata", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	busCfg := bus.Defaults()
	busCfg.Brokers = []string{"127.0.0.1:1"}

	if _, err := New(Config{}, busCfg, nil); err == nil {
		t.Error("New without rules: no error")
	}
	if _, err := New(Config{MaxBatch: -1}, busCfg, set); err == nil || !strings.Contains(err.Error(), "detect.max_batch") {
		t.Errorf("New with a bad config: %v", err)
	}
	if _, err := New(Config{}, bus.Config{}, set); err == nil || !strings.Contains(err.Error(), "bus.brokers") {
		t.Errorf("New without brokers: %v", err)
	}
	bad := func() ([]detector.Behaviour, error) { return nil, errors.New("no behaviours today") }
	if _, err := New(Config{}, busCfg, set, WithBehaviours(bad)); err == nil || !strings.Contains(err.Error(), "no behaviours today") {
		t.Errorf("New with failing behaviours: %v", err)
	}

	r, err := New(Config{}, busCfg, set)
	if err != nil {
		t.Fatal(err)
	}
	// Shutdown without Run, twice; then Run refuses.
	for range 2 {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown without run: %v", err)
		}
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("run after shutdown: %v, want ErrClosed", err)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("ready: %v", err)
	}
}

// TestEventsInAlertsOut: events in, alerts out, with the ids and final
// states of an uninterrupted detector run, keyed by group key.
func TestEventsInAlertsOut(t *testing.T) { testEventsInAlertsOut(t, startBroker(t)) }

func testEventsInAlertsOut(t *testing.T, busCfg bus.Config) {
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := genStream("io", 0, 2000)
	e.produce(ctx, s)
	rn := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	rn.stop(t)

	got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	want := e.reference(ctx)
	sameAlerts(t, got, want)
	// Ids are deterministic: the first break-glass, at step 0.
	bg := event.AlertID("t-break-glass", "hosp-1/staff-00", t0)
	if _, ok := got.final[bg]; !ok {
		t.Errorf("alert %s (t-break-glass hosp-1/staff-00 at %s) missing; have %v", bg, t0, ruleGroups(got.final))
	}
	for _, rg := range []struct{ rule, group string }{
		{"t-many-patients", "hosp-1/staff-03"}, {"t-export-burst", "hosp-1/staff-07"},
		{"t-few-exports", "hosp-1/staff-07"}, {"t-emulator", "app-1/dev-0"},
	} {
		if !hasAlert(got.final, rg.rule, rg.group) {
			t.Errorf("no %s alert about %s", rg.rule, rg.group)
		}
	}
	if n, want := rn.counter("vigil_detector_events_total"), float64(len(s.access)+len(s.device)); n != want {
		t.Errorf("vigil_detector_events_total %v, want %v", n, want)
	}
	if n := rn.counter("vigil_detector_alerts_produced_total"); n != float64(got.records) {
		t.Errorf("vigil_detector_alerts_produced_total %v, the topic holds %d records", n, got.records)
	}
	if n := rn.counter("vigil_detector_restores_total", "source", "empty"); n != 6 {
		t.Errorf("restores from empty: %v, want 6 (a new group)", n)
	}
	lint(t, rn.reg)
}

// TestRestart: a runner stopped after the first half of the stream and a
// new one on the same group for the second half give the alerts of an
// uninterrupted run, including the export burst that needs events of
// both halves.
func TestRestart(t *testing.T) { testRestart(t, startBroker(t)) }

func testRestart(t *testing.T, busCfg bus.Config) {
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.produce(ctx, genStream("rs", 0, 1000))
	a := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	a.stop(t)
	first := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	if hasAlert(first.final, "t-export-burst", "hosp-1/staff-07") {
		t.Fatal("the export burst fired on the first half alone: the test proves nothing")
	}

	e.produce(ctx, genStream("rs", 1000, 2000))
	b := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	b.stop(t)

	got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	sameAlerts(t, got, e.reference(ctx))
	if !hasAlert(got.final, "t-export-burst", "hosp-1/staff-07") {
		t.Error("the export burst spanning the restart did not fire")
	}
	if n := b.counter("vigil_detector_restores_total", "source", "snapshot"); n != 6 {
		t.Errorf("second runner restored %v partitions from snapshots, want 6", n)
	}
	if n := b.counter("vigil_detector_replayed_events_total"); n != 0 {
		t.Errorf("second runner replayed %v events after a graceful stop, want 0", n)
	}
}

// TestCrash: a runner killed mid-stream (no last produce, snapshot or
// commit) and a new one on the same group give the alerts of an
// uninterrupted run, and raise no alert with an id of their own. With
// frequent commits the new runner restores the snapshots and replays
// muted up to the committed offsets; with commits only at snapshots it
// processes the uncommitted events again, live, re-emitting the same ids.
func TestCrash(t *testing.T) { testCrash(t, startBroker) }

func testCrash(t *testing.T, broker func(testing.TB) bus.Config) {
	for _, tc := range []struct {
		name               string
		commit, snapEvery  time.Duration
		snapEvents         int
		replayed, reissued bool
	}{
		{name: "replay", commit: 20 * time.Millisecond, snapEvery: 300 * time.Millisecond, snapEvents: 150, replayed: true},
		{name: "reprocess", commit: time.Hour, snapEvery: time.Hour, snapEvents: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, broker(t))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cfg := e.cfg
			cfg.CommitInterval, cfg.SnapshotInterval, cfg.SnapshotEvents = tc.commit, tc.snapEvery, tc.snapEvents
			// The stream arrives in slices while the first runner works;
			// it is killed after the sixth, whatever it is doing.
			slice := func(i int) { e.produce(ctx, genStream("cr", i*200, (i+1)*200)) }
			a := e.start(&cfg)
			for i := range 6 {
				slice(i)
				time.Sleep(30 * time.Millisecond)
			}
			a.crash(t)
			mid, total := e.progress(ctx, e.cfg.Group)
			t.Logf("killed with %d of %d records committed, %v fed", mid, total, a.counter("vigil_detector_events_total"))
			if a.counter("vigil_detector_snapshots_total", "result", "ok") == 0 {
				t.Error("the first runner wrote no snapshot before it was killed: the test proves little")
			}

			b := e.start(nil) // commits often, so the test sees the end
			for i := 6; i < 10; i++ {
				slice(i)
			}
			e.waitProgress(e.cfg.Group, 1, 60*time.Second)
			b.stop(t)

			got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
			sameAlerts(t, got, e.reference(ctx))
			if !hasAlert(got.final, "t-export-burst", "hosp-1/staff-07") {
				t.Error("the export burst spanning the crash did not fire")
			}
			if n := b.counter("vigil_detector_restores_total", "source", "snapshot"); n < 1 {
				t.Errorf("second runner restored %v partitions from snapshots", n)
			}
			replayed, live := b.counter("vigil_detector_replayed_events_total"), b.counter("vigil_detector_events_total")
			t.Logf("second runner: %v events replayed muted, %v live", replayed, live)
			if tc.replayed && replayed == 0 {
				t.Error("nothing was replayed: the test proves little")
			}
			if !tc.replayed && live+replayed <= float64(total-mid) {
				t.Errorf("second runner fed %v events, %d were not committed: nothing was processed again", live+replayed, total-mid)
			}
		})
	}
}

// TestRebalance: a second runner joining the group mid-stream takes half
// the partitions from the first, restored from their snapshots; the
// alerts are those of an uninterrupted run.
func TestRebalance(t *testing.T) { testRebalance(t, startBroker(t)) }

func testRebalance(t *testing.T, busCfg bus.Config) {
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.produce(ctx, genStream("rb", 0, 1000))
	a := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	b := e.start(nil)
	// Both members hold partitions once the rebalance is done.
	deadline := time.Now().Add(60 * time.Second)
	for b.counter("vigil_detector_partitions") == 0 || a.counter("vigil_detector_partitions") == 6 {
		if time.Now().After(deadline) {
			t.Fatalf("no rebalance: a holds %v partitions, b %v", a.counter("vigil_detector_partitions"), b.counter("vigil_detector_partitions"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.produce(ctx, genStream("rb", 1000, 2000))
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	a.stop(t)
	b.stop(t)

	got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	sameAlerts(t, got, e.reference(ctx))
	if !hasAlert(got.final, "t-export-burst", "hosp-1/staff-07") {
		t.Error("the export burst spanning the rebalance did not fire")
	}
	t.Logf("a: restores snapshot=%v memory=%v; b: snapshot=%v empty=%v",
		a.counter("vigil_detector_restores_total", "source", "snapshot"), a.counter("vigil_detector_restores_total", "source", "memory"),
		b.counter("vigil_detector_restores_total", "source", "snapshot"), b.counter("vigil_detector_restores_total", "source", "empty"))
}

// TestSuppressedLogged: findings an exception suppresses raise no alert;
// each is logged, with the exception's reason and author, and counted.
func TestSuppressedLogged(t *testing.T) {
	e := newEnv(t, startBroker(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.produce(ctx, genStream("sp", 0, 1000))
	e.cfg.Options.Exceptions = []detector.Exception{{Rule: "t-break-*", Actors: []string{"staff-00"},
		Reason: "fire drill", Author: "security-office", Expires: t0.Add(24 * time.Hour)}}
	var logs syncBuffer
	reg := prometheus.NewPedanticRegistry()
	r, err := New(e.cfg, e.bus, e.set, WithRegisterer(reg), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	rn := &running{r: r, reg: reg, errc: make(chan error, 1)}
	go func() { rn.errc <- r.Run(context.Background()) }()
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	rn.stop(t)

	got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	if hasAlert(got.final, "t-break-glass", "hosp-1/staff-00") {
		t.Error("a suppressed break-glass of staff-00 raised an alert")
	}
	if !hasAlert(got.final, "t-break-glass", "hosp-1/staff-17") {
		t.Error("the exception suppressed another actor's break-glass")
	}
	n := strings.Count(logs.String(), `"msg":"finding suppressed by an exception"`)
	if n == 0 || !strings.Contains(logs.String(), `"reason":"fire drill","author":"security-office"`) {
		t.Errorf("%d suppressed findings logged:\n%s", n, logs.String())
	}
	if c := rn.counter("vigil_detector_suppressed_findings_total"); c == 0 {
		t.Error("vigil_detector_suppressed_findings_total is 0")
	}
	t.Logf("%d log lines for %v suppressed findings", n, rn.counter("vigil_detector_suppressed_findings_total"))
}

// syncBuffer is a bytes.Buffer safe for a logger writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
