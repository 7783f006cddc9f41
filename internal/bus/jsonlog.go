package bus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// JSONLog keeps the states of keyed records on a topic as JSON, one record
// per state change, keyed by the record's id: the latest record of a key is
// its current state (a compacted topic keeps just that). The notifier keeps
// incidents and notices this way and rebuilds them with Replay on start.
type JSONLog[T any] struct {
	cfg   Config
	topic string
	key   func(*T) string
	w     *Writer
}

// NewJSONLog returns a log on topic of the brokers of cfg; key gives a
// record's id. Close it when done.
func NewJSONLog[T any](cfg Config, topic string, key func(*T) string) (*JSONLog[T], error) {
	w, err := NewWriter(cfg, topic)
	if err != nil {
		return nil, err
	}
	return &JSONLog[T]{cfg: cfg, topic: topic, key: key, w: w}, nil
}

// Append writes vs and returns when the brokers acknowledged all of them
// (acks=all). Records of one key keep their order (one key, one
// partition).
func (l *JSONLog[T]) Append(ctx context.Context, vs ...T) error {
	if len(vs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(vs))
	for i := range vs {
		k := l.key(&vs[i])
		if k == "" {
			return fmt.Errorf("append to %s: record %d has no id", l.topic, i)
		}
		v, err := json.Marshal(&vs[i])
		if err != nil {
			return fmt.Errorf("append to %s: encoding %s: %w", l.topic, k, err)
		}
		msgs[i] = kafka.Message{Key: []byte(k), Value: v}
	}
	if err := l.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("append %d records: %w", len(vs), err)
	}
	return nil
}

// Replay gives every retained record to fn, in order within a key. A
// record that does not decode, or whose id is not its key, is an error
// naming its place: a state silently skipped would be a state forgotten.
func (l *JSONLog[T]) Replay(ctx context.Context, fn func(T) error) error {
	return Scan(ctx, l.cfg, l.topic, func(m *kafka.Message) error {
		var v T
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return fmt.Errorf("record %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		if k := l.key(&v); k == "" || k != string(m.Key) {
			return fmt.Errorf("record %s[%d]@%d: id %q does not match its key %q", m.Topic, m.Partition, m.Offset, k, m.Key)
		}
		return fn(v)
	})
}

// Close closes the log's writer.
func (l *JSONLog[T]) Close() error { return l.w.Close() }
