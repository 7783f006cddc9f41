package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild() // never returns
	}
	goleak.VerifyTestMain(m)
}

var nameSeq atomic.Int64

// uniqueName returns prefix.<test name>.<time>.<seq>, valid as a topic or
// group name, so runs against a long-lived broker never collide.
func uniqueName(t testing.TB, prefix string) string {
	clean := regexp.MustCompile(`[^a-zA-Z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("%s.%s.%d.%d", prefix, clean, time.Now().UnixNano(), nameSeq.Add(1))
}

// t0 is when every generated stream starts, in event time.
var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// stream is a generated sequence of events in time order.
type stream struct {
	access []event.AccessEvent
	device []event.DeviceEvent
}

// genStream returns the events of steps from to to (exclusive) of the test
// stream: every 2 s an access event by one of 20 actors (reading two
// patients of their own), plus a device login every fifth step. Actor 3
// reads a new patient each time (t-many-patients), actor 7 exports every
// fourth turn (t-export-burst fires at its 20th export, after step 1800:
// a stream split at step 1000 needs both halves), every 97th step is a
// break-glass and every 13th device login comes from an emulator.
func genStream(tag string, from, to int) stream {
	var s stream
	for i := from; i < to; i++ {
		at := event.NewTimestamp(t0.Add(time.Duration(i) * 2 * time.Second))
		a := i % 20
		e := event.AccessEvent{
			EventID: fmt.Sprintf("%s-a-%d", tag, i), OccurredAt: at, ReceivedAt: at, Source: "ehr", Org: "hosp-1",
			Actor:  event.Actor{ID: fmt.Sprintf("staff-%02d", a), Type: event.ActorStaff, Role: "nurse"},
			Action: event.ActionRead, Subject: event.Subject{ID: fmt.Sprintf("pt-%d-%d", a, i%2), Type: event.SubjectPatient},
			Categories:   []event.Category{event.CategoryHealth},
			Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
		}
		switch {
		case i%97 == 0:
			e.Action = event.ActionBreakGlass
		case a == 3:
			e.Subject.ID = fmt.Sprintf("pt-x-%d", i)
		case a == 7 && (i/20)%4 == 0:
			e.Action, e.RecordCount = event.ActionExport, 10
		}
		s.access = append(s.access, e)
		if i%5 == 0 {
			d := event.DeviceEvent{
				EventID: fmt.Sprintf("%s-d-%d", tag, i), OccurredAt: at, ReceivedAt: at, Source: "sdk", Org: "app-1",
				AccountID: fmt.Sprintf("acct-%d", i%9), DeviceID: fmt.Sprintf("dev-%d", i%9),
				Kind: event.KindLogin, Outcome: event.OutcomeSuccess,
			}
			d.Signals.Emulator = i%13 == 0
			s.device = append(s.device, d)
		}
	}
	return s
}

// env is one test's broker, topics and rules.
type env struct {
	t    testing.TB
	bus  bus.Config
	cfg  Config
	set  *sigma.Set
	opts []Option // given to every runner start builds
}

// newEnv creates fresh topics on the broker of busCfg: access (4
// partitions), device (2), alerts (3), state (2).
func newEnv(t testing.TB, busCfg bus.Config) *env {
	t.Helper()
	set, err := sigma.LoadDir("testdata", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pre := uniqueName(t, "t")
	cfg := Config{
		Group:            uniqueName(t, "g"),
		AccessTopic:      pre + "." + bus.TopicAccess,
		DeviceTopic:      pre + "." + bus.TopicDevice,
		AlertsTopic:      pre + "." + bus.TopicAlerts,
		StateTopic:       pre + "." + bus.TopicDetectorState,
		SnapshotEvents:   150,
		SnapshotInterval: 300 * time.Millisecond,
		CommitInterval:   20 * time.Millisecond,
		MaxBatch:         64,
		RestoreTimeout:   20 * time.Second,
		WriteTimeout:     10 * time.Second,
	}
	busCfg.Reader.HeartbeatInterval = 200 * time.Millisecond
	busCfg.Reader.SessionTimeout = 6 * time.Second
	busCfg.Reader.RebalanceTimeout = 15 * time.Second
	busCfg.Reader.MaxWait = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	state, _ := bus.LookupTopic(bus.TopicDetectorState)
	if err := bus.EnsureTopics(ctx, busCfg,
		bus.TopicSpec{Name: cfg.AccessTopic, Partitions: 4},
		bus.TopicSpec{Name: cfg.DeviceTopic, Partitions: 2},
		bus.TopicSpec{Name: cfg.AlertsTopic, Partitions: 3},
		bus.TopicSpec{Name: cfg.StateTopic, Partitions: 2, Configs: state.Configs},
	); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, bus: busCfg, cfg: cfg, set: set}
}

// newBehaviours returns the behaviours the runners of e use.
func (e *env) newBehaviours() []detector.Behaviour {
	e.t.Helper()
	r, err := New(e.cfg, e.bus, e.set, e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	bs, err := r.behaviours()
	if err != nil {
		e.t.Fatal(err)
	}
	return bs
}

// produce writes s to the event topics, keyed as the collector keys.
func (e *env) produce(ctx context.Context, s stream) {
	e.t.Helper()
	write := func(topic string, msgs []kafka.Message) {
		w, err := bus.NewWriter(e.bus, topic)
		if err != nil {
			e.t.Fatal(err)
		}
		defer w.Close()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			e.t.Fatal(err)
		}
	}
	var am, dm []kafka.Message
	for i := range s.access {
		am = append(am, kafka.Message{Key: s.access[i].Key(), Value: s.access[i].AppendJSON(nil)})
	}
	for i := range s.device {
		dm = append(dm, kafka.Message{Key: s.device[i].Key(), Value: s.device[i].AppendJSON(nil)})
	}
	write(e.cfg.AccessTopic, am)
	write(e.cfg.DeviceTopic, dm)
}

// running is a Runner whose Run is running.
type running struct {
	r    *Runner
	reg  *prometheus.Registry
	errc chan error
}

// start builds a runner of e with cfg (zero: e.cfg) and runs it.
func (e *env) start(cfg *Config) *running {
	e.t.Helper()
	c := e.cfg
	if cfg != nil {
		c = *cfg
	}
	reg := prometheus.NewPedanticRegistry()
	opts := append([]Option{WithRegisterer(reg), WithLogger(testLogger(e.t))}, e.opts...)
	r, err := New(c, e.bus, e.set, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	rn := &running{r: r, reg: reg, errc: make(chan error, 1)}
	go func() { rn.errc <- r.Run(context.Background()) }()
	return rn
}

// stop shuts the runner down gracefully and checks Run's result.
func (rn *running) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rn.r.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-rn.errc; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// crash stops the runner as a crash would (see Runner.kill).
func (rn *running) crash(t testing.TB) {
	t.Helper()
	rn.r.kill()
	select {
	case err := <-rn.errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("killed runner did not return")
	}
}

func (rn *running) counter(name string, labels ...string) float64 {
	mfs, err := rn.reg.Gather()
	if err != nil {
		panic(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("VIGIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// ends returns the end offset (high watermark) of every partition of topic.
func ends(ctx context.Context, t testing.TB, cfg bus.Config, topic string) map[int]int64 {
	t.Helper()
	es, err := bus.Ends(ctx, cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]int64, len(es))
	for p, e := range es {
		out[p] = e[1]
	}
	return out
}

// progress returns how many records of the event topics group has
// committed, and how many there are.
func (e *env) progress(ctx context.Context, group string) (committed, total int64) {
	e.t.Helper()
	c, err := bus.NewClient(e.bus)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	for _, topic := range []string{e.cfg.AccessTopic, e.cfg.DeviceTopic} {
		end := ends(ctx, e.t, e.bus, topic)
		parts := slices.Sorted(maps.Keys(end))
		resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, p := range resp.Topics[topic] {
			if p.CommittedOffset > 0 {
				committed += p.CommittedOffset
			}
		}
		for _, n := range end {
			total += n
		}
	}
	return committed, total
}

// waitProgress waits until group committed at least frac of the event
// records (1: all of them), or fails after timeout.
func (e *env) waitProgress(group string, frac float64, timeout time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	for {
		c, n := e.progress(ctx, group)
		if n > 0 && float64(c) >= frac*float64(n) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s committed %d of %d records after %v", group, c, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alertLog is what the alerts topic holds: every record, and the last
// record of each alert id (its final state).
type alertLog struct {
	records int
	perID   map[string]int
	final   map[string]event.Alert
}

// readAlerts reads the whole alerts topic.
func readAlerts(ctx context.Context, t testing.TB, cfg bus.Config, topic string) alertLog {
	t.Helper()
	log := alertLog{perID: map[string]int{}, final: map[string]event.Alert{}}
	err := bus.Scan(ctx, cfg, topic, func(m *kafka.Message) error {
		var a event.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			return fmt.Errorf("alert record %s[%d]@%d: %w", topic, m.Partition, m.Offset, err)
		}
		if string(m.Key) != a.GroupKey {
			t.Errorf("alert %s keyed %q, want its group key %q", a.AlertID, m.Key, a.GroupKey)
		}
		log.records++
		log.perID[a.AlertID]++
		log.final[a.AlertID] = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// reference runs the detector over the event topics as they are, one
// Partition per partition fed in offset order, without Kafka in between:
// what an uninterrupted run produces. It returns the final state of every
// alert.
func (e *env) reference(ctx context.Context) map[string]event.Alert {
	e.t.Helper()
	out := map[string]event.Alert{}
	for _, topic := range []string{e.cfg.AccessTopic, e.cfg.DeviceTopic} {
		es, err := bus.Ends(ctx, e.bus, topic)
		if err != nil {
			e.t.Fatal(err)
		}
		for part, span := range es {
			p, err := detector.New(e.set, e.cfg.Options, e.newBehaviours())
			if err != nil {
				e.t.Fatal(err)
			}
			err = bus.ScanPartition(ctx, e.bus, topic, part, span[0], span[1], func(m *kafka.Message) error {
				if topic == e.cfg.AccessTopic {
					ev, probs := event.DecodeAccess(m.Value)
					if len(probs) > 0 {
						return fmt.Errorf("reference: %v", probs)
					}
					p.Access(m.Offset, &ev)
				} else {
					ev, probs := event.DecodeDevice(m.Value)
					if len(probs) > 0 {
						return fmt.Errorf("reference: %v", probs)
					}
					p.Device(m.Offset, &ev)
				}
				return nil
			})
			if err != nil {
				e.t.Fatal(err)
			}
			for _, a := range p.Drain(nil) {
				out[a.AlertID] = a
			}
		}
	}
	return out
}

// sameAlerts fails t unless got holds exactly the alerts of want, in the
// same final state, and every id got ever produced is one of them.
func sameAlerts(t testing.TB, got alertLog, want map[string]event.Alert) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the reference run raised no alert: the test proves nothing")
	}
	for id, w := range want {
		g, ok := got.final[id]
		switch {
		case !ok:
			t.Errorf("alert %s (%s %s) missing", id, w.RuleID, w.GroupKey)
		case !reflect.DeepEqual(g, w):
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			t.Errorf("alert %s final state differs:\n got %s\nwant %s", id, gj, wj)
		}
	}
	for id, g := range got.final {
		if _, ok := want[id]; !ok {
			t.Errorf("alert %s (%s %s, count %d) was raised but an uninterrupted run has no such id", id, g.RuleID, g.GroupKey, g.Count)
		}
	}
	byRule := map[string]int{}
	for _, a := range want {
		byRule[a.RuleID]++
	}
	t.Logf("%d alerts (%v), %d records on the alerts topic", len(want), byRule, got.records)
}

// ruleGroups returns "rule group" of every alert, for messages.
func ruleGroups(m map[string]event.Alert) []string {
	var out []string
	for _, a := range m {
		out = append(out, a.RuleID+" "+a.GroupKey)
	}
	slices.Sort(out)
	return out
}

// hasAlert reports whether m holds an alert of rule about group.
func hasAlert(m map[string]event.Alert, rule, group string) bool {
	for _, a := range m {
		if a.RuleID == rule && a.GroupKey == group {
			return true
		}
	}
	return false
}

// lint checks the metric names and help of reg.
func lint(t testing.TB, reg *prometheus.Registry) {
	t.Helper()
	probs, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}
