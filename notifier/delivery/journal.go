package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// Journal makes notice states durable. Append returns only when every
// record is durable; Replay gives every record appended so far, the records
// of one notice in the order they were appended.
type Journal interface {
	Append(ctx context.Context, ns ...event.Notice) error
	Replay(ctx context.Context, fn func(event.Notice) error) error
}

// KafkaJournal keeps notice records on a topic, keyed by notice id.
type KafkaJournal struct {
	cfg   bus.Config
	topic string
	w     *bus.Writer
}

// NewKafkaJournal returns a journal on topic (empty: bus.TopicNotices) of
// the brokers of cfg. Close it when done.
func NewKafkaJournal(cfg bus.Config, topic string) (*KafkaJournal, error) {
	topic = cmp.Or(topic, bus.TopicNotices)
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		return nil, fmt.Errorf("notice journal: %w", err)
	}
	return &KafkaJournal{cfg: cfg, topic: topic, w: w}, nil
}

// Append implements Journal.
func (j *KafkaJournal) Append(ctx context.Context, ns ...event.Notice) error {
	if len(ns) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(ns))
	for i := range ns {
		v, err := json.Marshal(&ns[i])
		if err != nil {
			return fmt.Errorf("notice journal: encoding notice %s: %w", ns[i].NoticeID, err)
		}
		msgs[i] = kafka.Message{Key: []byte(ns[i].NoticeID), Value: v}
	}
	if err := j.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("notice journal: recording %d notice states: %w", len(ns), err)
	}
	return nil
}

// Replay implements Journal. A record that is not a notice (another
// writer's mistake) is an error naming its partition and offset: the
// ledger would otherwise forget a notice's state.
func (j *KafkaJournal) Replay(ctx context.Context, fn func(event.Notice) error) error {
	return bus.Scan(ctx, j.cfg, j.topic, func(m *kafka.Message) error {
		var n event.Notice
		if err := json.Unmarshal(m.Value, &n); err != nil {
			return fmt.Errorf("notice journal: record %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		if n.NoticeID == "" || n.NoticeID != string(m.Key) {
			return fmt.Errorf("notice journal: record %s[%d]@%d: notice id %q does not match its key %q",
				m.Topic, m.Partition, m.Offset, n.NoticeID, m.Key)
		}
		return fn(n)
	})
}

// Close closes the journal's writer.
func (j *KafkaJournal) Close() error { return j.w.Close() }

// MemoryJournal keeps records in memory. Fail, when set, makes Append fail
// before the records are kept (to test failures).
type MemoryJournal struct {
	mu      sync.Mutex
	records []event.Notice
	Fail    func(n event.Notice) error
}

// Append implements Journal.
func (j *MemoryJournal) Append(_ context.Context, ns ...event.Notice) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Fail != nil {
		for _, n := range ns {
			if err := j.Fail(n); err != nil {
				return err
			}
		}
	}
	j.records = append(j.records, ns...)
	return nil
}

// Replay implements Journal.
func (j *MemoryJournal) Replay(_ context.Context, fn func(event.Notice) error) error {
	j.mu.Lock()
	recs := slices.Clone(j.records)
	j.mu.Unlock()
	for _, n := range recs {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// Records returns a copy of every record appended.
func (j *MemoryJournal) Records() []event.Notice {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.records)
}
