package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
)

// StoreConfig says what to backfill from the store (ClickHouse or the
// SQLite store of `vigil up`) instead of Kafka.
type StoreConfig struct {
	// Store holds the events and the alerts already raised.
	Store store.EventScanner
	// Set, Options, Behaviours, From, To and Lookback are as in Config.
	Set        *sigma.Set
	Options    detector.Options
	Behaviours func() ([]detector.Behaviour, error)
	From, To   time.Time
	Lookback   time.Duration
	// Org, when not empty, backfills one tenant only.
	Org string
	// Progress, when set, is called every ProgressEvery events and at the
	// end with the number of events read so far.
	Progress func(events int64)
}

// ProgressEvery is how often RunStore reports progress, in events.
const ProgressEvery = 100_000

// RunStore backfills from the store: every stored access and device event
// with occurred_at in [From - lookback, To + lookback) is fed (a window
// that starts before To may take events up to a timespan later), in event-time
// order (occurred_at, then event_id; each event once), to one fresh
// detector with fresh behaviours, as `vigil detect` builds them; the
// drained alerts whose window starts in [From, To) are kept (the last
// record of each id) and reported as Run does. Alerts already raised are
// the ids of the store's alerts table with a window start in [From, To).
//
// What it sees is what the store keeps: every field of the event contract
// at millisecond precision, but not events the sink dead-lettered or has
// not written yet, nor events of months retention dropped. Events are read
// in event-time order across all partitions, so a late event the live
// detector dropped (beyond options.lateness) may count here; and windows
// of closing-mode correlations still open at To are not decided, as in Run.
//
// Summary.Events counts events by kind ("access", "device").
func RunStore(ctx context.Context, cfg StoreConfig, report func(Result)) (Summary, error) {
	sum := Summary{Events: map[string]int64{}}
	if cfg.Set == nil {
		return sum, errors.New("backfill: no rule set")
	}
	if cfg.Store == nil {
		return sum, errors.New("backfill: no store")
	}
	if cfg.From.IsZero() || cfg.To.IsZero() || !cfg.From.Before(cfg.To) {
		return sum, fmt.Errorf("backfill: want From before To, got [%s, %s)", cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339))
	}
	det, err := newDetector(cfg.Set, cfg.Options, cfg.Behaviours)
	if err != nil {
		return sum, err
	}
	lookback := lookbackOf(cfg.Set, cfg.Lookback)
	begin, end := cfg.From.Add(-lookback), cfg.To.Add(lookback)
	alerts := map[string]event.Alert{}
	var (
		out []event.Alert
		seq int64
	)
	q := store.ScanQuery{TimeRange: store.TimeRange{From: begin, To: end}, Org: cfg.Org}
	err = cfg.Store.ScanEvents(ctx, q, func(e *store.StoredEvent) error {
		// The detector wants increasing offsets: the position in the scan.
		if e.Access != nil {
			det.Access(seq, e.Access)
		} else {
			det.Device(seq, e.Device)
		}
		seq++
		sum.Events[e.Kind()]++
		out = det.Drain(out[:0])
		for _, a := range out {
			if !a.WindowStart.Before(cfg.From) && a.WindowStart.Before(cfg.To) {
				alerts[a.AlertID] = a
			}
		}
		if cfg.Progress != nil && seq%ProgressEvery == 0 {
			cfg.Progress(seq)
		}
		return nil
	})
	if cfg.Progress != nil {
		cfg.Progress(seq)
	}
	if err != nil {
		return sum, fmt.Errorf("backfill: reading events of [%s, %s) from the store: %w",
			begin.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano), err)
	}
	existing := map[string]bool{}
	err = cfg.Store.AlertIDs(ctx, store.TimeRange{From: cfg.From, To: cfg.To}, func(id string) error {
		existing[id] = true
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("backfill: reading the alerts raised in [%s, %s) from the store: %w",
			cfg.From.UTC().Format(time.RFC3339Nano), cfg.To.UTC().Format(time.RFC3339Nano), err)
	}
	sum.ExistingIDs = len(existing)
	collate(alerts, existing, &sum, report)
	return sum, nil
}
