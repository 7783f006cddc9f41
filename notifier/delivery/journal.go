package delivery

import (
	"cmp"
	"context"
	"fmt"

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
	log *bus.JSONLog[event.Notice]
}

// NewKafkaJournal returns a journal on topic (empty: bus.TopicNotices) of
// the brokers of cfg. Close it when done.
func NewKafkaJournal(cfg bus.Config, topic string) (*KafkaJournal, error) {
	l, err := bus.NewJSONLog(cfg, cmp.Or(topic, bus.TopicNotices), func(n *event.Notice) string { return n.NoticeID })
	if err != nil {
		return nil, fmt.Errorf("notice journal: %w", err)
	}
	return &KafkaJournal{log: l}, nil
}

// Append implements Journal.
func (j *KafkaJournal) Append(ctx context.Context, ns ...event.Notice) error {
	if err := j.log.Append(ctx, ns...); err != nil {
		return fmt.Errorf("notice journal: %w", err)
	}
	return nil
}

// Replay implements Journal. A record that is not a notice (another
// writer's mistake) is an error naming its partition and offset: the
// ledger would otherwise forget a notice's state.
func (j *KafkaJournal) Replay(ctx context.Context, fn func(event.Notice) error) error {
	if err := j.log.Replay(ctx, fn); err != nil {
		return fmt.Errorf("notice journal: %w", err)
	}
	return nil
}

// Close closes the journal's writer.
func (j *KafkaJournal) Close() error { return j.log.Close() }

// MemoryJournal keeps records in memory (bus.MemLog), for tests.
type MemoryJournal = bus.MemLog[event.Notice]
