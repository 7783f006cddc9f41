package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/segmentio/kafka-go"
)

// Ends returns, for every partition of topic, the offsets [first, end): the
// first record still retained and the high watermark (one past the last
// record) at the time of the call. An empty partition has first == end.
func Ends(ctx context.Context, cfg Config, topic string) (map[int][2]int64, error) {
	parts, err := Partitions(ctx, cfg, topic)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	out := make(map[int][2]int64, len(parts))
	for _, which := range []int{0, 1} {
		reqs := make([]kafka.OffsetRequest, len(parts))
		for i, p := range parts {
			if which == 0 {
				reqs[i] = kafka.FirstOffsetOf(p)
			} else {
				reqs[i] = kafka.LastOffsetOf(p)
			}
		}
		resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
		}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil && !errors.Is(po.Error, kafka.OffsetOutOfRange) {
				return nil, fmt.Errorf("list offsets of %s[%d]: %w", topic, po.Partition, po.Error)
			}
			e := out[po.Partition]
			if which == 0 {
				e[0] = po.FirstOffset
			} else {
				e[1] = po.LastOffset
			}
			out[po.Partition] = e
		}
	}
	for p, e := range out {
		if e[0] < 0 {
			e[0] = 0
		}
		if e[1] < e[0] {
			e[1] = e[0]
		}
		out[p] = e
	}
	return out, nil
}

// Scan reads every record of topic retained at the time of the call: each
// partition from its first retained offset up to the high watermark that
// Ends reported, partitions in ascending order, records in offset order
// within a partition. It is how a stage rebuilds state kept on a topic (a
// compacted topic holds the latest record per key). An error from fn stops
// the scan and is returned as is.
func Scan(ctx context.Context, cfg Config, topic string, fn func(*kafka.Message) error) error {
	ends, err := Ends(ctx, cfg, topic)
	if err != nil {
		return err
	}
	parts := make([]int, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		if err := ScanPartition(ctx, cfg, topic, p, ends[p][0], ends[p][1], fn); err != nil {
			return err
		}
	}
	return nil
}

// ScanPartition reads the records [start, end) of one partition in order.
// Offsets missing from the range (compacted away) are skipped.
func ScanPartition(ctx context.Context, cfg Config, topic string, partition int, start, end int64, fn func(*kafka.Message) error) error {
	if start >= end {
		return nil
	}
	r, err := NewPartitionReader(cfg, topic, partition, start)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s[%d] in [%d, %d): %w", topic, partition, start, end, err)
		}
		if m.Offset >= end {
			return nil
		}
		if err := fn(&m); err != nil {
			return err
		}
		if m.Offset+1 >= end {
			return nil
		}
	}
}
