// Package backfill runs detection rules, with the behaviours and options
// of the live detector, over past events and reports the alerts they would
// have raised, telling apart the alerts already raised from the new ones.
// The past events come from one of two sources:
//
//   - Kafka retention (Run): the event topics, already raised = the ids on
//     the alerts topic; described below.
//   - The store (RunStore): ClickHouse or the embedded SQLite store, read
//     through store.EventScanner in event-time order, each event once;
//     already raised = the ids of the store's alerts table. The store keeps
//     every field of the event contract, so rules and behaviours see what
//     they see live; it cannot see events it never got (dead letters,
//     events the sink has not written yet) nor months retention dropped,
//     and it feeds all events to one detector in occurred_at order, so an
//     event the live detector dropped as too late may count. See RunStore.
//
// Run reads every access and device partition from the first record whose
// timestamp is at or after From minus the longest correlation timespan (so
// that windows open before From are rebuilt) up to the partition's end
// offset when Run started, and feeds it in offset order to a fresh
// detector.Partition. The drained alerts whose window starts in [From, To)
// are kept (the last record of each alert id). The alerts topic is read
// from its first offset up to its end offsets at start to collect the alert
// ids already raised; alert ids are deterministic (event.AlertID over rule,
// group key and window start), so an alert of an unchanged rule is found
// exactly. Run produces nothing; Emit produces the alerts a caller chooses
// (the new ones).
//
// Limits: windows of closing-mode correlations (upper bounds) that the
// watermark has not passed by the end of the partition are not decided, so
// their alerts are not reported; the record timestamps used to find the
// first offset are the broker's (produce time), not occurred_at.
package backfill

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// Config says what to backfill.
type Config struct {
	// Bus is the Kafka configuration.
	Bus bus.Config
	// Set is the compiled rule set to run.
	Set *sigma.Set
	// Options are the detector options (zero: the defaults).
	Options detector.Options
	// Behaviours, when set, returns fresh behaviour instances for one
	// partition (as runner.WithBehaviours); nil runs the rules only.
	Behaviours func() ([]detector.Behaviour, error)
	// From and To bound the window starts of the alerts reported: [From, To).
	From, To time.Time
	// Lookback is how far before From reading starts; zero means the
	// longest correlation timespan of Set.
	Lookback time.Duration
	// Topics; empty means the Vigil topics (bus.TopicAccess, ...).
	AccessTopic, DeviceTopic, AlertsTopic string
	// Progress, when set, is called after each partition is read with the
	// topic, the partition and the number of events read.
	Progress func(topic string, partition int, events int64)
}

// Status says whether a backfilled alert is already on the alerts topic.
type Status string

const (
	// New is an alert whose id is not on the alerts topic.
	New Status = "new"
	// Existing is an alert whose id is on the alerts topic.
	Existing Status = "existing"
)

// Result is one alert the rules would have raised.
type Result struct {
	Alert  event.Alert
	Status Status
}

// Summary counts what Run read and found.
type Summary struct {
	// Events is the number of records read per input topic.
	Events map[string]int64
	// BadEvents is the number of records that did not decode.
	BadEvents int64
	// ExistingIDs is the number of distinct alert ids on the alerts topic.
	ExistingIDs int
	// New and Existing count the results by status.
	New, Existing int
}

// Run backfills cfg and calls report once per alert, ordered by rule id,
// window start and alert id. It returns what it read.
func Run(ctx context.Context, cfg Config, report func(Result)) (Summary, error) {
	sum := Summary{Events: map[string]int64{}}
	if cfg.Set == nil {
		return sum, errors.New("backfill: no rule set")
	}
	if cfg.From.IsZero() || cfg.To.IsZero() || !cfg.From.Before(cfg.To) {
		return sum, fmt.Errorf("backfill: want From before To, got [%s, %s)", cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339))
	}
	cfg.AccessTopic = cmp.Or(cfg.AccessTopic, bus.TopicAccess)
	cfg.DeviceTopic = cmp.Or(cfg.DeviceTopic, bus.TopicDevice)
	cfg.AlertsTopic = cmp.Or(cfg.AlertsTopic, bus.TopicAlerts)
	lookback := lookbackOf(cfg.Set, cfg.Lookback)
	// Check the detector options and behaviours once, before any reading.
	if _, err := newDetector(cfg.Set, cfg.Options, cfg.Behaviours); err != nil {
		return sum, err
	}
	client, err := bus.NewClient(cfg.Bus)
	if err != nil {
		return sum, fmt.Errorf("backfill: %w", err)
	}
	defer client.Close()

	// End offsets of every topic first, so that all reads are bounded by
	// the state at start.
	type span struct {
		topic      string
		partitions []int
		start, end map[int]int64
	}
	var spans []*span
	for _, t := range []string{cfg.AccessTopic, cfg.DeviceTopic, cfg.AlertsTopic} {
		parts, err := bus.Partitions(ctx, cfg.Bus, t)
		if err != nil {
			return sum, fmt.Errorf("backfill: %w", err)
		}
		end, err := listOffsets(ctx, client, t, parts, func(p int) kafka.OffsetRequest { return kafka.LastOffsetOf(p) })
		if err != nil {
			return sum, fmt.Errorf("backfill: end offsets of %s: %w", t, err)
		}
		spans = append(spans, &span{topic: t, partitions: parts, end: end})
	}
	begin := cfg.From.Add(-lookback)
	for _, s := range spans[:2] {
		start, err := listOffsets(ctx, client, s.topic, s.partitions, func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, begin) })
		if err != nil {
			return sum, fmt.Errorf("backfill: offsets of %s at %s: %w", s.topic, begin.Format(time.RFC3339), err)
		}
		s.start = start
	}

	alerts := map[string]event.Alert{}
	validator := event.Validator{MaxFutureSkew: -1}
	for i, s := range spans[:2] {
		access := i == 0
		for _, p := range s.partitions {
			start, end := s.start[p], s.end[p]
			if start < 0 || start > end {
				start = end // no record at or after begin
			}
			det, err := newDetector(cfg.Set, cfg.Options, cfg.Behaviours)
			if err != nil {
				return sum, err
			}
			var out []event.Alert
			n, err := readRange(ctx, cfg.Bus, s.topic, p, start, end, func(m *kafka.Message) {
				if access {
					e, probs := validator.DecodeAccess(m.Value)
					if len(probs) > 0 {
						sum.BadEvents++
						return
					}
					det.Access(m.Offset, &e)
				} else {
					e, probs := validator.DecodeDevice(m.Value)
					if len(probs) > 0 {
						sum.BadEvents++
						return
					}
					det.Device(m.Offset, &e)
				}
				out = det.Drain(out[:0])
				for _, a := range out {
					if !a.WindowStart.Before(cfg.From) && a.WindowStart.Before(cfg.To) {
						alerts[a.AlertID] = a
					}
				}
			})
			sum.Events[s.topic] += n
			if cfg.Progress != nil {
				cfg.Progress(s.topic, p, n)
			}
			if err != nil {
				return sum, fmt.Errorf("backfill: %w", err)
			}
		}
	}

	existing := map[string]bool{}
	as := spans[2]
	for _, p := range as.partitions {
		var probe struct {
			ID string `json:"alert_id"`
		}
		n, err := readRange(ctx, cfg.Bus, as.topic, p, 0, as.end[p], func(m *kafka.Message) {
			probe.ID = ""
			if json.Unmarshal(m.Value, &probe) == nil && probe.ID != "" {
				existing[probe.ID] = true
			}
		})
		if cfg.Progress != nil {
			cfg.Progress(as.topic, p, n)
		}
		if err != nil {
			return sum, fmt.Errorf("backfill: %w", err)
		}
	}
	sum.ExistingIDs = len(existing)
	collate(alerts, existing, &sum, report)
	return sum, nil
}

// collate reports alerts by rule id, window start and alert id, each
// marked Existing when its id is in existing, and counts them in sum.
func collate(alerts map[string]event.Alert, existing map[string]bool, sum *Summary, report func(Result)) {
	res := make([]Result, 0, len(alerts))
	for id, a := range alerts {
		r := Result{Alert: a, Status: New}
		if existing[id] {
			r.Status = Existing
			sum.Existing++
		} else {
			sum.New++
		}
		res = append(res, r)
	}
	slices.SortFunc(res, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.Alert.RuleID, b.Alert.RuleID),
			a.Alert.WindowStart.Compare(b.Alert.WindowStart.Time),
			cmp.Compare(a.Alert.AlertID, b.Alert.AlertID))
	})
	for _, r := range res {
		report(r)
	}
}

// lookbackOf is how far before From reading starts: set when positive,
// else the longest correlation timespan of the rule set.
func lookbackOf(set *sigma.Set, given time.Duration) time.Duration {
	if given > 0 {
		return given
	}
	var lb time.Duration
	for _, c := range set.Correlations {
		lb = max(lb, c.Timespan)
	}
	return lb
}

// newDetector is a fresh detector with fresh behaviours, as the runner
// builds one per partition.
func newDetector(set *sigma.Set, opts detector.Options, behaviours func() ([]detector.Behaviour, error)) (*detector.Partition, error) {
	var bs []detector.Behaviour
	if behaviours != nil {
		var err error
		if bs, err = behaviours(); err != nil {
			return nil, fmt.Errorf("backfill: behaviours: %w", err)
		}
	}
	det, err := detector.New(set, opts, bs)
	if err != nil {
		return nil, fmt.Errorf("backfill: %w", err)
	}
	return det, nil
}

// listOffsets asks the offsets of req(p) for every partition of topic. A
// partition without an answer (no record at or after a time) is -1.
func listOffsets(ctx context.Context, c *bus.Client, topic string, parts []int, req func(int) kafka.OffsetRequest) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = req(p)
	}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(parts))
	for _, p := range parts {
		out[p] = -1
	}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil && !errors.Is(po.Error, kafka.OffsetOutOfRange) {
			return nil, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
		}
		if len(po.Offsets) > 0 {
			for off := range po.Offsets {
				out[po.Partition] = off
			}
		} else if po.LastOffset >= 0 {
			out[po.Partition] = po.LastOffset
		}
	}
	return out, nil
}

// readRange reads the records [start, end) of one partition and gives them
// to fn in order. It returns the number of records read.
func readRange(ctx context.Context, cfg bus.Config, topic string, partition int, start, end int64, fn func(*kafka.Message)) (int64, error) {
	if start >= end {
		return 0, nil
	}
	r, err := bus.NewPartitionReader(cfg, topic, partition, start)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return n, fmt.Errorf("read %s[%d] at offset %d of [%d, %d): %w", topic, partition, start+n, start, end, err)
		}
		if m.Offset >= end {
			return n, nil
		}
		n++
		fn(&m)
		if m.Offset+1 >= end {
			return n, nil
		}
	}
}

// Emit produces alerts to topic (empty: bus.TopicAlerts) as the detector
// does: the JSON record keyed by the group key. Callers give it the New
// results only, so that no alert already raised is produced again; a
// second backfill of the same range then finds them all Existing.
func Emit(ctx context.Context, cfg bus.Config, topic string, alerts []event.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	topic = cmp.Or(topic, bus.TopicAlerts)
	msgs := make([]kafka.Message, 0, len(alerts))
	for i := range alerts {
		v, err := json.Marshal(&alerts[i])
		if err != nil {
			return fmt.Errorf("backfill: encoding alert %s: %w", alerts[i].AlertID, err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(alerts[i].GroupKey), Value: v})
	}
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		_ = w.Close()
		return fmt.Errorf("backfill: producing %d alerts to %s: %w", len(msgs), topic, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("backfill: producing %d alerts to %s: %w", len(msgs), topic, err)
	}
	return nil
}
