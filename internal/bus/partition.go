package bus

import (
	"context"
	"fmt"
	"sort"

	"github.com/segmentio/kafka-go"
)

// Partitions returns the partition ids of topic, sorted. It fails with an
// error naming the topic when the topic does not exist.
func Partitions(ctx context.Context, cfg Config, topic string) ([]int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", topic, err)
	}
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", topic, err)
	}
	tr := newTransport(cfg, sec)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", topic, t.Error)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		sort.Ints(ids)
		return ids, nil
	}
	return nil, fmt.Errorf("list partitions of %s: %w", topic, kafka.UnknownTopicOrPartition)
}

// NewPartitionReader returns a reader of one partition of topic outside any
// consumer group, starting at offset (kafka.FirstOffset, kafka.LastOffset or
// an absolute offset). It commits nothing; it is for tools such as
// `vigil tail` that look at a topic without taking part in a group.
func NewPartitionReader(cfg Config, topic string, partition int, offset int64, opts ...Option) (*kafka.Reader, error) {
	where := fmt.Sprintf("new reader of %s[%d]", topic, partition)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o := applyOptions(opts)
	info, errLog := kafkaLoggers(o.logger, "topic", topic, "partition", partition)
	rc := kafka.ReaderConfig{
		Brokers:         cfg.Brokers,
		Topic:           topic,
		Partition:       partition,
		Dialer:          newDialer(cfg, sec),
		MinBytes:        cfg.Reader.MinBytes,
		MaxBytes:        cfg.Reader.MaxBytes,
		MaxWait:         cfg.Reader.MaxWait,
		ReadLagInterval: -1,
		Logger:          info,
		ErrorLogger:     errLog,
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	r := kafka.NewReader(rc)
	if err := r.SetOffset(offset); err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: set offset %d: %w", where, offset, err)
	}
	return r, nil
}
