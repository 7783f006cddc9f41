package bus

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Covers partition.go (Partitions, NewPartitionReader), used by `vigil tail`.
func TestPartitionsAndPartitionReader(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t, EmbeddedConfig{Topics: []TopicSpec{{Name: TopicAlerts, Partitions: 3}}})
	cfg := e.Config()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ids, err := Partitions(ctx, cfg, TopicAlerts)
	if err != nil || !slices.Equal(ids, []int{0, 1, 2}) {
		t.Fatalf("Partitions = %v, %v; want [0 1 2]", ids, err)
	}
	_, err = Partitions(ctx, cfg, "vigil.nope.v1")
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("Partitions of a missing topic: %v", err)
	}
	mustContain(t, err, "list partitions of vigil.nope.v1")

	w, err := NewWriter(cfg, TopicAlerts)
	if err != nil {
		t.Fatal(err)
	}
	msgs := keyedMessages(60)
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range ids {
		r, err := NewPartitionReader(cfg, TopicAlerts, p, kafka.FirstOffset)
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		for {
			m, err := r.ReadMessage(rctx)
			if err != nil {
				break
			}
			if m.Partition != p {
				t.Errorf("reader of partition %d got a record of partition %d", p, m.Partition)
			}
			total++
		}
		rcancel()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if total != len(msgs) {
		t.Errorf("partition readers got %d records, want %d", total, len(msgs))
	}
}
