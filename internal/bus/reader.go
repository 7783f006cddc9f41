package bus

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// NewGroupReader returns a reader of topic in consumer group group. Use it
// at-least-once:
//
//	for {
//		m, err := r.FetchMessage(ctx)     // does not commit
//		...process m durably...
//		r.CommitMessages(ctx, m)          // only after processing
//	}
//
// Never ReadMessage, which commits before the caller processed the record.
// Commits are batched: CommitMessages queues the offset and returns, the
// reader commits every cfg.Reader.CommitInterval and once more on Close. A
// crash redelivers at most that interval's worth of records, which
// downstream stages drop by id. The reader starts at cfg.Reader.StartOffset
// on a partition with no committed offset, follows partitions added to the
// topic, and uses the client id, SASL and TLS of cfg. Close the reader when
// done: it commits what is pending and leaves the group.
func NewGroupReader(cfg Config, group, topic string, opts ...Option) (*kafka.Reader, error) {
	if group == "" || topic == "" {
		return nil, errors.New("new group reader: group and topic are required")
	}
	where := fmt.Sprintf("new reader of %s in group %s", topic, group)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o := applyOptions(opts)
	info, errLog := kafkaLoggers(o.logger, "topic", topic, "group", group)
	start := kafka.FirstOffset
	if cfg.Reader.StartOffset == StartLast {
		start = kafka.LastOffset
	}
	rc := kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		GroupID:        group,
		Topic:          topic,
		Dialer:         newDialer(cfg, sec),
		MinBytes:       cfg.Reader.MinBytes,
		MaxBytes:       cfg.Reader.MaxBytes,
		MaxWait:        cfg.Reader.MaxWait,
		CommitInterval: cfg.Reader.CommitInterval,
		StartOffset:    start,

		// Range then round-robin, kafka-go's default; named so a change of
		// default in kafka-go cannot surprise a running group.
		GroupBalancers:    []kafka.GroupBalancer{kafka.RangeGroupBalancer{}, kafka.RoundRobinGroupBalancer{}},
		SessionTimeout:    cfg.Reader.SessionTimeout,
		HeartbeatInterval: cfg.Reader.HeartbeatInterval,
		RebalanceTimeout:  cfg.Reader.RebalanceTimeout,
		JoinGroupBackoff:  time.Second, // kafka-go's 5s stalls a stage after a hiccup

		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		ReadLagInterval:        -1, // no lag goroutine; lag belongs in metrics, later

		Logger:      info,
		ErrorLogger: errLog,
	}
	// kafka.NewReader panics on an invalid configuration: check first.
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return kafka.NewReader(rc), nil
}
