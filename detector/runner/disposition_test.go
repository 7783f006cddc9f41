package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

func TestDispStore(t *testing.T) {
	s := newDispStore(3)
	fp := disp{status: event.AlertClosedFalsePositive, reason: "drill", by: "analyst-1"}
	dup := disp{status: event.AlertClosedDuplicate, reason: "same as a2", by: "analyst-2"}
	steps := []struct {
		id          string
		d           disp
		changed     bool
		evicted     int
		wantIDs     []string
		description string
	}{
		{"a1", fp, true, 0, []string{"a1"}, "new"},
		{"a1", fp, false, 0, []string{"a1"}, "the same decision again (our own echo)"},
		{"a2", fp, true, 0, []string{"a1", "a2"}, "new"},
		{"a3", fp, true, 0, []string{"a1", "a2", "a3"}, "new, at the limit"},
		{"a1", dup, true, 0, []string{"a1", "a2", "a3"}, "a changed decision moves a1 last"},
		{"a4", fp, true, 1, []string{"a1", "a3", "a4"}, "past the limit: the least recently decided (a2) goes"},
		{"a5", fp, true, 1, []string{"a1", "a4", "a5"}, "then a3"},
	}
	for i, st := range steps {
		changed, evicted := s.put(st.id, st.d)
		if changed != st.changed || evicted != st.evicted {
			t.Errorf("step %d (%s): put(%s) = %v, %d; want %v, %d", i, st.description, st.id, changed, evicted, st.changed, st.evicted)
		}
		var ids []string
		for _, it := range s.all() {
			ids = append(ids, it.id)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, st.wantIDs) {
			t.Errorf("step %d (%s): kept %v, want %v", i, st.description, ids, st.wantIDs)
		}
	}
	if d, ok := s.get("a1"); !ok || d != dup {
		t.Errorf("get(a1) = %+v, %v; want the latest decision", d, ok)
	}
	got := s.lookup(nil, []string{"a5", "a2", "a4"})
	if len(got) != 2 || got[0].id != "a5" || got[1].id != "a4" {
		t.Errorf("lookup = %+v, want a5 and a4", got)
	}
	// Many changes of one decision do not grow the queue without bound.
	for i := range 1000 {
		s.put("a1", disp{status: event.AlertClosedAuthorized, reason: fmt.Sprint(i), by: "x"})
	}
	if n := len(s.queue); n > 2*s.limit+64 {
		t.Errorf("queue holds %d refs for %d decisions", n, s.len())
	}
}

func TestDispInbox(t *testing.T) {
	b := newDispInbox()
	b.push("a1", 2)
	b.push("a2", 2)
	select {
	case <-b.ch:
	default:
		t.Fatal("push did not signal")
	}
	if ids, every := b.take(); !slices.Equal(ids, []string{"a1", "a2"}) || every {
		t.Errorf("take = %v, %v", ids, every)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		b.push(id, 2)
	}
	if ids, every := b.take(); ids != nil || !every {
		t.Errorf("take past the limit = %v, %v; want everything", ids, every)
	}
	if ids, every := b.take(); ids != nil || every {
		t.Errorf("take of an empty inbox = %v, %v", ids, every)
	}
}

// publishDecision writes a as an analyst's tool does: the alert's full
// record with a new status, keyed by its group key, without the
// detector's origin header.
func publishDecision(ctx context.Context, t testing.TB, e *env, a event.Alert) {
	t.Helper()
	w, err := bus.NewWriter(e.bus, e.cfg.AlertsTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	v, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(a.GroupKey), Value: v}); err != nil {
		t.Fatal(err)
	}
}

// waitAlert waits until the latest record of alert id satisfies ok, and
// returns it.
func waitAlert(ctx context.Context, t testing.TB, e *env, id, what string, ok func(event.Alert) bool) event.Alert {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
		a, found := got.final[id]
		if found && ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(a)
			t.Fatalf("alert %s: no record with %s after 30s; latest %s", id, what, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func findAlert(t testing.TB, m map[string]event.Alert, rule, group string) event.Alert {
	t.Helper()
	for _, a := range m {
		if a.RuleID == rule && a.GroupKey == group {
			return a
		}
	}
	t.Fatalf("no %s alert about %s; have %v", rule, group, ruleGroups(m))
	return event.Alert{}
}

// TestDispositions: an analyst's decision published on the alerts topic
// (a) makes the runner produce the alert again with that status, reason
// and author; (b) later events that fold into the alert keep it; (c) it
// still holds after a restart, and (d) when a new group raises the alert
// again from scratch, its records carry the decision. A decision without
// a reason is skipped and counted.
func TestDispositions(t *testing.T) { testDispositions(t, startBroker(t)) }

func testDispositions(t *testing.T, busCfg bus.Config) {
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e.produce(ctx, genStream("dp", 0, 800))
	a := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)

	first := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	many := findAlert(t, first.final, "t-many-patients", "hosp-1/staff-03")
	if many.Status != event.AlertOpen {
		t.Fatalf("alert %s is %s before any decision", many.AlertID, many.Status)
	}
	// (a) Closed as a false positive.
	closed := many
	closed.Status, closed.StatusReason, closed.StatusBy = event.AlertClosedFalsePositive, "ward rounds: staff-03 reads every patient", "analyst-1"
	publishDecision(ctx, t, e, closed)
	// A decision without a reason is not one.
	other := findAlert(t, first.final, "t-emulator", "app-1/dev-0")
	bad := other
	bad.Status, bad.StatusBy = event.AlertClosedAuthorized, "analyst-1"
	publishDecision(ctx, t, e, bad)

	isClosed := func(x event.Alert) bool {
		return x.Status == closed.Status && x.StatusReason == closed.StatusReason && x.StatusBy == closed.StatusBy
	}
	echoed := waitAlert(ctx, t, e, many.AlertID, "the decision produced by the runner", func(x event.Alert) bool {
		return isClosed(x) && readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic).perID[many.AlertID] >= first.perID[many.AlertID]+2
	})
	if echoed.Count != many.Count {
		t.Errorf("the runner's record after the decision counts %d, want %d", echoed.Count, many.Count)
	}
	if n := a.counter("vigil_detector_dispositions_read_total"); n != 1 {
		t.Errorf("vigil_detector_dispositions_read_total %v, want 1 (the runner's own records are not decisions)", n)
	}
	if n := a.counter("vigil_detector_invalid_dispositions_total"); n != 1 {
		t.Errorf("vigil_detector_invalid_dispositions_total %v, want 1 (the decision without a reason)", n)
	}
	if n := a.counter("vigil_detector_dispositions_applied_total"); n != 1 {
		t.Errorf("vigil_detector_dispositions_applied_total %v, want 1", n)
	}
	if n := a.counter("vigil_detector_dispositions"); n != 1 {
		t.Errorf("vigil_detector_dispositions %v, want 1", n)
	}

	// (b) More reads by staff-03 fold into the alert: it stays closed.
	e.produce(ctx, genStream("dp", 800, 1400))
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	grown := waitAlert(ctx, t, e, many.AlertID, "more events", func(x event.Alert) bool { return x.Count > many.Count })
	if !isClosed(grown) {
		t.Errorf("after more events the alert is %s (%q by %q), want the decision kept", grown.Status, grown.StatusReason, grown.StatusBy)
	}
	lint(t, a.reg)
	a.stop(t)
	// The emulator alert was updated after the bad decision: the runner
	// produced it open, as it was.
	if got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic); got.perID[other.AlertID] <= first.perID[other.AlertID]+1 {
		t.Errorf("alert %s had no record after the bad decision: the test proves little", other.AlertID)
	} else if st := got.final[other.AlertID].Status; st != event.AlertOpen {
		t.Errorf("alert %s is %s after a decision without a reason, want open", other.AlertID, st)
	}

	// (c) A new runner in the same group: still closed as more events
	// fold in.
	e.produce(ctx, genStream("dp", 1400, 2000))
	b := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	after := waitAlert(ctx, t, e, many.AlertID, "the events after the restart", func(x event.Alert) bool { return x.Count > grown.Count })
	if !isClosed(after) {
		t.Errorf("after the restart the alert is %s (%q by %q), want the decision kept", after.Status, after.StatusReason, after.StatusBy)
	}
	if n := b.counter("vigil_detector_dispositions"); n != 1 {
		t.Errorf("restarted runner keeps %v decisions, want 1 (read again from the alerts topic)", n)
	}
	b.stop(t)

	// (d) A new group raises every alert again from the first event; the
	// records of the decided alert carry the decision.
	cfg := e.cfg
	cfg.Group = uniqueName(t, "g2")
	c := e.start(&cfg)
	e.waitProgress(cfg.Group, 1, 60*time.Second)
	c.stop(t)
	final := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic).final[many.AlertID]
	if !isClosed(final) || final.Count != after.Count {
		t.Errorf("raised again by a new group: %s (%q by %q) count %d; want the decision and count %d",
			final.Status, final.StatusReason, final.StatusBy, final.Count, after.Count)
	}
}
