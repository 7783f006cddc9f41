package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

var t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

func startBus(t *testing.T) bus.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", Partitions: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cfg := e.Config()
	cfg.Reader.MaxWait = 100 * time.Millisecond
	return cfg
}

func access(id string, at time.Time, actor, subject string, action event.Action) event.AccessEvent {
	ts := event.NewTimestamp(at)
	return event.AccessEvent{
		EventID: id, OccurredAt: ts, ReceivedAt: ts, Source: "ehr", Org: "hosp-1",
		Actor:  event.Actor{ID: actor, Type: event.ActorStaff, Role: "nurse"},
		Action: action, Subject: event.Subject{ID: subject, Type: event.SubjectPatient},
		Categories:   []event.Category{event.CategoryHealth},
		Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
	}
}

// fixture: a break-glass by staff-0i at t0+i min (i in 0..9), and staff-x
// reading a new patient every minute from t0+3m to t0+7m (the
// many-patients correlation fires with window start t0+3m). Record
// timestamps are the event times.
func produceFixture(t *testing.T, cfg bus.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var evs []event.AccessEvent
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		evs = append(evs, access(fmt.Sprintf("bg-%d", i), at, fmt.Sprintf("staff-%02d", i), "pt-1", event.ActionBreakGlass))
		if i >= 3 && i < 8 {
			evs = append(evs, access(fmt.Sprintf("rd-%d", i), at.Add(time.Second), "staff-x", fmt.Sprintf("pt-%d", i), event.ActionRead))
		}
	}
	var msgs []kafka.Message
	for i := range evs {
		msgs = append(msgs, kafka.Message{Key: evs[i].Key(), Value: evs[i].AppendJSON(nil), Time: evs[i].OccurredAt.Time})
	}
	write(ctx, t, cfg, bus.TopicAccess, msgs)
	// A device event that no rule matches, and one record that does not
	// decode.
	write(ctx, t, cfg, bus.TopicDevice, []kafka.Message{{Key: []byte("k"), Value: []byte(`{"nope":1}`), Time: t0}})
}

func write(ctx context.Context, t *testing.T, cfg bus.Config, topic string, msgs []kafka.Message) {
	t.Helper()
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func bgID(i int) string {
	return event.AlertID("t-break-glass", fmt.Sprintf("hosp-1/staff-%02d", i), t0.Add(time.Duration(i)*time.Minute))
}

func loadSet(t *testing.T) *sigma.Set {
	t.Helper()
	set, err := sigma.LoadDir("testdata", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func run(t *testing.T, cfg Config) ([]Result, Summary) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res []Result
	sum, err := Run(ctx, cfg, func(r Result) { res = append(res, r) })
	if err != nil {
		t.Fatal(err)
	}
	return res, sum
}

func ids(res []Result, st Status) []string {
	var out []string
	for _, r := range res {
		if r.Status == st {
			out = append(out, r.Alert.AlertID)
		}
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestNewAndExisting(t *testing.T) {
	cfg := startBus(t)
	produceFixture(t, cfg)
	// Alerts already raised: break-glass 3 and 5, one alert id of no
	// backfilled alert, and a record that is not JSON.
	ctx := context.Background()
	var msgs []kafka.Message
	for _, i := range []int{3, 5} {
		a := event.Alert{AlertID: bgID(i), RuleID: "t-break-glass", GroupKey: fmt.Sprintf("hosp-1/staff-%02d", i)}
		v, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(a.GroupKey), Value: v})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("x"), Value: []byte(`{"alert_id":"other"}`)}, kafka.Message{Key: []byte("y"), Value: []byte("garbage")})
	write(ctx, t, cfg, bus.TopicAlerts, msgs)

	var progress []string
	res, sum := run(t, Config{Bus: cfg, Set: loadSet(t), From: t0.Add(3 * time.Minute), To: t0.Add(7 * time.Minute),
		Progress: func(topic string, p int, n int64) { progress = append(progress, fmt.Sprintf("%s[%d]=%d", topic, p, n)) }})

	corr := event.AlertID("t-many-patients", "hosp-1/staff-x", t0.Add(3*time.Minute+time.Second))
	if got, want := ids(res, Existing), sorted(bgID(3), bgID(5)); !slices.Equal(got, want) {
		t.Errorf("existing = %v, want %v", got, want)
	}
	if got, want := ids(res, New), sorted(bgID(4), bgID(6), corr); !slices.Equal(got, want) {
		t.Errorf("new = %v, want %v", got, want)
	}
	if sum.New != 3 || sum.Existing != 2 || sum.ExistingIDs != 3 {
		t.Errorf("summary = %+v", sum)
	}
	if sum.Events[bus.TopicAccess] != 15 || sum.Events[bus.TopicDevice] != 1 || sum.BadEvents != 1 {
		t.Errorf("events = %v, bad %d", sum.Events, sum.BadEvents)
	}
	// Ordered by rule, window start.
	var order []string
	for _, r := range res {
		order = append(order, r.Alert.AlertID)
	}
	if want := []string{bgID(3), bgID(4), bgID(5), bgID(6), corr}; !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
	if len(progress) != 6 { // 2 partitions of each of 3 topics
		t.Errorf("progress = %v", progress)
	}

	// Emitting the new ones makes a second run find them all.
	var fresh []event.Alert
	for _, r := range res {
		if r.Status == New {
			fresh = append(fresh, r.Alert)
		}
	}
	if err := Emit(ctx, cfg, "", fresh); err != nil {
		t.Fatal(err)
	}
	res2, sum2 := run(t, Config{Bus: cfg, Set: loadSet(t), From: t0.Add(3 * time.Minute), To: t0.Add(7 * time.Minute)})
	if got, want := ids(res2, Existing), sorted(bgID(3), bgID(4), bgID(5), bgID(6), corr); !slices.Equal(got, want) || sum2.New != 0 || sum2.ExistingIDs != 6 {
		t.Errorf("after emit: existing = %v, want %v; summary %+v", got, want, sum2)
	}
}

func TestTimeRangeAndLookback(t *testing.T) {
	cfg := startBus(t)
	produceFixture(t, cfg)
	set := loadSet(t)

	// Only the break-glass rule's window: [t0+8m, t0+1h).
	res, sum := run(t, Config{Bus: cfg, Set: set, From: t0.Add(8 * time.Minute), To: t0.Add(time.Hour)})
	if got, want := ids(res, New), sorted(bgID(8), bgID(9)); !slices.Equal(got, want) || len(ids(res, Existing)) != 0 {
		t.Errorf("new = %v, want %v (all: %v)", got, want, res)
	}
	if sum.Events[bus.TopicAccess] != 15 { // the 10m lookback reaches t0
		t.Errorf("access events read = %d, want 15", sum.Events[bus.TopicAccess])
	}

	// A 1-minute lookback starts reading at t0+7m: break-glass 7, 8, 9
	// and read 7.
	_, sum = run(t, Config{Bus: cfg, Set: set, From: t0.Add(8 * time.Minute), To: t0.Add(time.Hour), Lookback: time.Minute})
	if sum.Events[bus.TopicAccess] != 4 {
		t.Errorf("access events read with 1m lookback = %d, want 4", sum.Events[bus.TopicAccess])
	}

	// Past the end of everything: nothing read, nothing found.
	res, sum = run(t, Config{Bus: cfg, Set: set, From: t0.Add(24 * time.Hour), To: t0.Add(25 * time.Hour), Lookback: time.Minute})
	if len(res) != 0 || sum.Events[bus.TopicAccess] != 0 {
		t.Errorf("future range: %d results, %v events", len(res), sum.Events)
	}
}

func TestEmptyTopicsAndErrors(t *testing.T) {
	cfg := startBus(t)
	set := loadSet(t)
	res, sum := run(t, Config{Bus: cfg, Set: set, From: t0, To: t0.Add(time.Hour)})
	if len(res) != 0 || sum.Events[bus.TopicAccess] != 0 {
		t.Errorf("empty topics: %v %v", res, sum)
	}
	ctx := context.Background()
	_, err := Run(ctx, Config{Bus: cfg, Set: set, From: t0, To: t0.Add(time.Hour), AlertsTopic: "no.such.topic"}, func(Result) {})
	if err == nil || !strings.Contains(err.Error(), "no.such.topic") {
		t.Errorf("unknown topic: err = %v", err)
	}
	if _, err := Run(ctx, Config{Bus: cfg, Set: set, From: t0, To: t0}, func(Result) {}); err == nil {
		t.Error("empty range: no error")
	}
	if _, err := Run(ctx, Config{Bus: cfg, From: t0, To: t0.Add(time.Hour)}, func(Result) {}); err == nil {
		t.Error("no set: no error")
	}
}
