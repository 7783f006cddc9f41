package notifier

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/deadline"
)

// RunConfig tunes Run.
type RunConfig struct {
	// Bus is the Kafka cluster; Group the consumer group on the alerts
	// topic (empty: vigil-notify); AlertsTopic empty means
	// bus.TopicAlerts.
	Bus         bus.Config
	Group       string
	AlertsTopic string
	// DispatchEvery is how often approved notices are sent (zero: 2 s);
	// EscalateEvery how often the clocks are checked (zero: 30 s).
	DispatchEvery time.Duration
	EscalateEvery time.Duration
	// Escalate tells the security team's channel that an obligation
	// crossed 50 %, 90 % or 100 % of its time. Nil: logged only.
	Escalate func(ctx context.Context, e deadline.Escalation) error
}

// Run consumes alerts into incidents, sends approved notices and watches
// the clocks until ctx ends. It first finishes what a crash interrupted
// (Reconcile). An alert record that does not decode is logged and
// skipped (the sink dead-letters it); an error of the book or ledger ends
// Run.
func (s *Service) Run(ctx context.Context, d *Dispatcher, rc RunConfig) error {
	if err := d.Reconcile(ctx); err != nil {
		return fmt.Errorf("notifier: finishing interrupted approvals: %w", err)
	}
	r, err := bus.NewGroupReader(rc.Bus, cmp.Or(rc.Group, "vigil-notify"), cmp.Or(rc.AlertsTopic, bus.TopicAlerts), bus.WithLogger(s.log))
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					errc <- fmt.Errorf("notifier: reading alerts: %w", err)
				}
				return
			}
			var a event.Alert
			if err := json.Unmarshal(m.Value, &a); err != nil || a.AlertID == "" {
				s.log.Warn("alert record skipped: not an alert", "partition", m.Partition, "offset", m.Offset, "error", err)
			} else if _, _, err := s.OnAlert(ctx, a); err != nil {
				if ctx.Err() == nil {
					errc <- err
				}
				return
			}
			if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("notifier: committing alerts: %w", err)
				return
			}
		}
	})
	wg.Go(func() {
		t := time.NewTicker(cmp.Or(rc.DispatchEvery, 2*time.Second))
		defer t.Stop()
		for {
			st, err := d.Dispatch(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("notifier: dispatch: %w", err)
				return
			}
			if st.Sent+st.Failed+st.Done > 0 {
				s.log.Info("notices dispatched", "sent", st.Sent, "failed", st.Failed, "retrying", st.Retrying, "obligations_done", st.Done)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	wg.Go(func() {
		esc := deadline.NewEscalator()
		t := time.NewTicker(cmp.Or(rc.EscalateEvery, 30*time.Second))
		defer t.Stop()
		for {
			for _, e := range esc.Check(s.DeadlineObligations(), s.now()) {
				s.log.Warn("obligation deadline escalation", "obligation", e.Obligation.ID, "regime", e.Obligation.Regime,
					"kind", e.Obligation.Kind, "threshold", e.Threshold, "left", e.Left.Round(time.Second).String())
				if rc.Escalate != nil {
					if err := rc.Escalate(ctx, e); err != nil && ctx.Err() == nil {
						s.log.Error("escalation not delivered", "obligation", e.Obligation.ID, "error", err)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	wg.Wait()
	return runErr
}
