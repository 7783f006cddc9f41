package notifier

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/deadline"
)

// TestRunOnEmbeddedBroker: alert records on the embedded broker become
// incidents, an undecodable record is skipped, approved notices go out
// without an explicit Dispatch, and an obligation past half its time is
// escalated once.
func TestRunOnEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	w, err := bus.NewWriter(e.Config(), bus.TopicAlerts)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for _, a := range []event.Alert{alert("al1", "act1", t0), alert("al2", "act1", t0.Add(time.Minute)), alert("al3", "act2", t0)} {
		v, _ := json.Marshal(a)
		msgs = append(msgs, kafka.Message{Key: []byte(a.GroupKey), Value: v})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("junk"), Value: []byte("not json")})
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	r := newRig(t, nil)
	var mu sync.Mutex
	var escalations []deadline.Escalation
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- r.svc.Run(runCtx, r.disp, RunConfig{Bus: e.Config(), DispatchEvery: 20 * time.Millisecond, EscalateEvery: 20 * time.Millisecond,
			Escalate: func(_ context.Context, e deadline.Escalation) error {
				mu.Lock()
				escalations = append(escalations, e)
				mu.Unlock()
				return nil
			}})
	}()
	waitFor(t, ctx, "two incidents from three alerts", func() bool {
		inc, _ := r.svc.Book().Find("inc-act1")
		return len(r.svc.Book().List()) == 2 && len(inc.AlertIDs) == 2
	})

	// Confirm, fill in, approve: the running dispatcher sends. The clock
	// is 3 h after awareness: the CAC report (4 h) is past 50 %.
	r.setNow(t0.Add(3 * time.Hour))
	if _, err := r.svc.Transition(ctx, "inc-act1", event.IncidentConfirmed, "confirmed", t0, analyst); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.SetFields(ctx, "inc-act1", map[string]string{"facts": "f", "cause": "c"}, dpo); err != nil {
		t.Fatal(err)
	}
	if _, err := r.disp.Approve(ctx, "inc-act1", "pipl.individual", dpo); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the approved notices sent", func() bool {
		inc, _ := r.svc.Book().Find("inc-act1")
		o := findObligation(&inc, "pipl.individual")
		return o != nil && o.Status == event.ObligationDone
	})
	waitFor(t, ctx, "the CAC report escalated", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range escalations {
			if e.Obligation.ID == "inc-act1/cac.initial" && e.Threshold == 0.5 {
				return true
			}
		}
		return false
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	n := 0
	for _, e := range escalations {
		if e.Obligation.ID == "inc-act1/cac.initial" {
			n++
		}
	}
	mu.Unlock()
	if n != 1 {
		t.Fatalf("the CAC report escalated %d times at one threshold, want once", n)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
