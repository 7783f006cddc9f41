//go:build integration

package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// These tests run against the real Kafka 4.x broker that
// scripts/services.sh starts; see internal/testenv.

func kafkaConfig(t testing.TB) bus.Config {
	t.Helper()
	c := bus.Defaults()
	c.Brokers = []string{testenv.Kafka(t)}
	return c
}

// The tests of runner_test.go, on the real broker.

func TestKafkaEventsInAlertsOut(t *testing.T) { testEventsInAlertsOut(t, kafkaConfig(t)) }
func TestKafkaRestart(t *testing.T)           { testRestart(t, kafkaConfig(t)) }
func TestKafkaCrash(t *testing.T)             { testCrash(t, kafkaConfig) }
func TestKafkaRebalance(t *testing.T)         { testRebalance(t, kafkaConfig(t)) }
func TestKafkaRestoreWithoutPointer(t *testing.T) {
	testRestoreWithoutPointer(t, kafkaConfig(t))
}
func TestKafkaRestoreBadSnapshot(t *testing.T) { testRestoreBadSnapshot(t, kafkaConfig(t)) }

// memSink keeps the simulator's events as the records the collector
// would produce, in order.
type memSink struct {
	access, device []kafka.Message
	labels         int
}

func (m *memSink) Access(_ context.Context, e *event.AccessEvent) error {
	c := simulate.CopyAccess(e)
	c.Source, c.ReceivedAt = "simulate", c.OccurredAt
	if c.Relationship == "" {
		c.Relationship = event.RelationshipUnknown
	}
	m.access = append(m.access, kafka.Message{Key: c.Key(), Value: c.AppendJSON(nil)})
	return nil
}

func (m *memSink) Device(_ context.Context, e *event.DeviceEvent) error {
	c := simulate.CopyDevice(e)
	c.Source, c.ReceivedAt = "simulate", c.OccurredAt
	m.device = append(m.device, kafka.Message{Key: c.Key(), Value: c.AppendJSON(nil)})
	return nil
}

func (m *memSink) Label(context.Context, *simulate.Label) error { m.labels++; return nil }
func (m *memSink) Flush(context.Context) error                  { return nil }

// simulated generates a labelled stream: hours of four hospitals' traffic
// with incidents of every kind.
func simulated(t testing.TB, hours int) (*memSink, map[string]string) {
	t.Helper()
	sim, err := simulate.New(simulate.Config{Seed: 42, Rate: 20, Duration: time.Duration(hours) * time.Hour,
		IncidentsPerHour: 2, FirstIncidentsAfter: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var s memSink
	if err := sim.Run(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	zones := map[string]string{}
	for _, o := range sim.Orgs() {
		zones[o.ID] = o.TimeZone
	}
	return &s, zones
}

// packEnv is an env over the real broker with the shipped rules, the
// simulator's time zones and the built-in behaviours.
func packEnv(t *testing.T, zones map[string]string) (*env, childSpec) {
	t.Helper()
	e := newEnv(t, kafkaConfig(t))
	rules, err := filepath.Abs("../rules") // the shipped pack
	if err != nil {
		t.Fatal(err)
	}
	spec := childSpec{Brokers: e.bus.Brokers, Rules: rules, TimeZones: zones, Behaviours: true,
		Heartbeat: e.bus.Reader.HeartbeatInterval, Session: e.bus.Reader.SessionTimeout}
	set, opts, err := spec.load()
	if err != nil {
		t.Fatal(err)
	}
	e.set, e.opts = set, opts
	e.cfg.SnapshotEvents = 20000
	e.cfg.SnapshotInterval = time.Second
	e.cfg.CommitInterval = 100 * time.Millisecond
	e.cfg.MaxBatch = 5000
	return e, spec
}

// withOutputs returns cfg with its own group, alerts and state topics,
// created on the broker.
func (e *env) withOutputs(tag string) Config {
	e.t.Helper()
	c := e.cfg
	c.Group = uniqueName(e.t, "g-"+tag)
	c.AlertsTopic = uniqueName(e.t, "t-"+tag) + "." + bus.TopicAlerts
	c.StateTopic = uniqueName(e.t, "t-"+tag) + "." + bus.TopicDetectorState
	state, _ := bus.LookupTopic(bus.TopicDetectorState)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, e.bus, bus.TopicSpec{Name: c.AlertsTopic, Partitions: 3},
		bus.TopicSpec{Name: c.StateTopic, Partitions: 2, Configs: state.Configs}); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// produceSlice writes records [from, to) of each stream, scaled to n
// slices.
func (e *env) produceSlice(ctx context.Context, s *memSink, i, n int) {
	e.t.Helper()
	part := func(msgs []kafka.Message) []kafka.Message {
		return msgs[len(msgs)*i/n : len(msgs)*(i+1)/n]
	}
	for _, x := range []struct {
		topic string
		msgs  []kafka.Message
	}{{e.cfg.AccessTopic, part(s.access)}, {e.cfg.DeviceTopic, part(s.device)}} {
		w, err := bus.NewWriter(e.bus, x.topic)
		if err != nil {
			e.t.Fatal(err)
		}
		err = w.WriteMessages(ctx, x.msgs...)
		w.Close()
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// child is a runner in a child process.
type child struct {
	cmd  *exec.Cmd
	dead bool
}

func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() { c.kill() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "RUNNING" {
		t.Fatalf("child: %q %v", line, err)
	}
	return c
}

// kill sends SIGKILL: no shutdown, no last produce, snapshot or commit.
func (c *child) kill() {
	if c.dead {
		return
	}
	c.dead = true
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// TestKafkaKillOneOfTwo runs two runner instances in one group on the
// real broker over a labelled simulated stream arriving in slices, kills
// one with SIGKILL mid-run, and lets the other take over. The alerts (ids
// and final states, counts included) equal those of a single instance
// over the same events.
func TestKafkaKillOneOfTwo(t *testing.T) {
	s, zones := simulated(t, 3)
	total := len(s.access) + len(s.device)
	t.Logf("simulated %d access and %d device events, %d labelled incidents", len(s.access), len(s.device), s.labels)
	e, spec := packEnv(t, zones)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Two instances: X in a child process, Y here.
	two := e.withOutputs("two")
	spec.Config = two
	x := startChild(t, spec)
	y := e.start(&two)
	deadline := time.Now().Add(60 * time.Second)
	for n := y.counter("vigil_detector_partitions"); n == 0 || n == 6; n = y.counter("vigil_detector_partitions") {
		if time.Now().After(deadline) {
			t.Fatalf("the partitions were not split: y holds %v", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("y holds %v of 6 partitions", y.counter("vigil_detector_partitions"))
	const slices = 10
	for i := range slices {
		e.produceSlice(ctx, s, i, slices)
		if i == 5 {
			// x is busy with the slice just written.
			time.Sleep(100 * time.Millisecond)
			x.kill()
			committed, _ := e.progress(ctx, two.Group)
			t.Logf("x killed with SIGKILL after slice %d, %d records committed by the group", i, committed)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.waitProgress(two.Group, 1, 3*time.Minute)
	y.stop(t)
	got := readAlerts(ctx, t, e.bus, two.AlertsTopic)
	t.Logf("y: %v events live, %v replayed, restores snapshot=%v memory=%v empty=%v",
		y.counter("vigil_detector_events_total"), y.counter("vigil_detector_replayed_events_total"),
		y.counter("vigil_detector_restores_total", "source", "snapshot"), y.counter("vigil_detector_restores_total", "source", "memory"),
		y.counter("vigil_detector_restores_total", "source", "empty"))
	if y.counter("vigil_detector_restores_total", "source", "snapshot") == 0 {
		t.Error("y never restored a partition from a snapshot: the test proves little")
	}

	// One instance over the same events.
	one := e.withOutputs("one")
	start := time.Now()
	r := e.start(&one)
	e.waitProgress(one.Group, 1, 3*time.Minute)
	took := time.Since(start)
	r.stop(t)
	t.Logf("single instance: %d events in %v (%.0f events/s, group join included)", total, took.Round(time.Millisecond), float64(total)/took.Seconds())
	want := readAlerts(ctx, t, e.bus, one.AlertsTopic)
	sameAlerts(t, got, want.final)
	if len(got.final) != len(want.final) {
		t.Errorf("%d alerts with a kill, %d without", len(got.final), len(want.final))
	}
	// And both equal the detector fed directly.
	direct := e.reference(ctx)
	if !maps.EqualFunc(direct, want.final, func(a, b event.Alert) bool { return a.AlertID == b.AlertID && a.Count == b.Count }) {
		t.Errorf("the single instance's alerts differ from the detector fed directly (%d vs %d)", len(want.final), len(direct))
	}
}

// TestKafkaThroughput measures the runner over the real broker against
// the detector fed directly in one goroutine (decoding included), in the
// same run: events per second and their ratio. One instance, default
// snapshot and commit settings, the pack's rules and every behaviour.
func TestKafkaThroughput(t *testing.T) {
	s, zones := simulated(t, 3)
	total := len(s.access) + len(s.device)
	e, _ := packEnv(t, zones)
	d := Defaults()
	e.cfg.SnapshotEvents, e.cfg.SnapshotInterval, e.cfg.CommitInterval, e.cfg.MaxBatch = d.SnapshotEvents, d.SnapshotInterval, d.CommitInterval, d.MaxBatch
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e.produceSlice(ctx, s, 0, 1)

	// The detector alone: one Partition per topic, decoding included.
	cpu0 := cpuTime(t)
	start := time.Now()
	var records int
	for _, x := range []struct {
		msgs   []kafka.Message
		access bool
	}{{s.access, true}, {s.device, false}} {
		p, err := detector.New(e.set, e.cfg.Options, e.newBehaviours())
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.msgs {
			if x.access {
				ev, _ := validator.DecodeAccess(x.msgs[i].Value)
				p.Access(int64(i), &ev)
			} else {
				ev, _ := validator.DecodeDevice(x.msgs[i].Value)
				p.Device(int64(i), &ev)
			}
			if i%5000 == 4999 {
				records += len(p.Drain(nil))
			}
		}
		records += len(p.Drain(nil))
	}
	direct, directCPU := time.Since(start), cpuTime(t)-cpu0

	one := e.withOutputs("one")
	r := e.start(&one)
	for r.counter("vigil_detector_partitions") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if f := os.Getenv("VIGIL_TEST_CPUPROFILE"); f != "" {
		pf, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
	}
	cpu0 = cpuTime(t)
	start = time.Now()
	e.waitProgress(one.Group, 1, 4*time.Minute)
	viaKafka, viaKafkaCPU := time.Since(start), cpuTime(t)-cpu0
	pprof.StopCPUProfile()
	r.stop(t)
	t.Logf("%d events (%d alerts records from the detector alone, %v produced by the runner)", total, records, r.counter("vigil_detector_alerts_produced_total"))
	t.Logf("detector alone, one goroutine: %v, %.0f events/s; %v CPU, %.0f events per CPU-second",
		direct.Round(time.Millisecond), float64(total)/direct.Seconds(), directCPU.Round(time.Millisecond), float64(total)/directCPU.Seconds())
	t.Logf("runner via Kafka (after the group join, to the last commit): %v, %.0f events/s; %v CPU, %.0f events per CPU-second (%.2f× the detector alone)",
		viaKafka.Round(time.Millisecond), float64(total)/viaKafka.Seconds(), viaKafkaCPU.Round(time.Millisecond),
		float64(total)/viaKafkaCPU.Seconds(), directCPU.Seconds()/viaKafkaCPU.Seconds())
}

// cpuTime returns the CPU time (user and system) the test process used so
// far: the throughput per CPU-second does not depend on what else runs on
// the machine.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
