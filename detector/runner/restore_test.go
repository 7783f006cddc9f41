package runner

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
)

// recommit commits the group's offsets again, outside any generation
// (the group must be empty), with the metadata meta returns for each
// partition: what `kafka-consumer-groups --reset-offsets` does, or a
// tampered pointer.
func (e *env) recommit(ctx context.Context, meta func(topic string, partition int, offset int64) string) {
	e.t.Helper()
	c, err := bus.NewClient(e.bus)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	for _, topic := range []string{e.cfg.AccessTopic, e.cfg.DeviceTopic} {
		parts := slices.Sorted(maps.Keys(ends(ctx, e.t, e.bus, topic)))
		resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: e.cfg.Group, Topics: map[string][]int{topic: parts}})
		if err != nil {
			e.t.Fatal(err)
		}
		var commits []kafka.OffsetCommit
		for _, p := range resp.Topics[topic] {
			commits = append(commits, kafka.OffsetCommit{Partition: p.Partition, Offset: p.CommittedOffset,
				Metadata: meta(topic, p.Partition, p.CommittedOffset)})
		}
		cr, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: e.cfg.Group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: commits}})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, p := range cr.Topics[topic] {
			if p.Error != nil {
				e.t.Fatalf("recommit %s[%d]: %v", topic, p.Partition, p.Error)
			}
		}
	}
}

// TestRestoreWithoutPointer: offsets committed without the snapshot
// pointer (an operator reset them) still find the snapshots, by reading
// the state topic, and the run continues as an uninterrupted one.
func TestRestoreWithoutPointer(t *testing.T) { testRestoreWithoutPointer(t, startBroker(t)) }

func testRestoreWithoutPointer(t *testing.T, busCfg bus.Config) {
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.produce(ctx, genStream("np", 0, 1000))
	a := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	a.stop(t)
	e.recommit(ctx, func(string, int, int64) string { return "" })

	e.produce(ctx, genStream("np", 1000, 2000))
	b := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	b.stop(t)
	got := readAlerts(ctx, t, e.bus, e.cfg.AlertsTopic)
	sameAlerts(t, got, e.reference(ctx))
	if n := b.counter("vigil_detector_restores_total", "source", "snapshot"); n != 6 {
		t.Errorf("%v partitions restored from snapshots found by a scan, want 6", n)
	}
}

// TestRestoreBadSnapshot: a snapshot the detector cannot restore makes
// the partition start empty at the committed offset (counted as failed),
// and the runner goes on.
func TestRestoreBadSnapshot(t *testing.T) { testRestoreBadSnapshot(t, startBroker(t)) }

func testRestoreBadSnapshot(t *testing.T, busCfg bus.Config) {
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.produce(ctx, genStream("bs", 0, 1000))
	a := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	a.stop(t)

	client, err := bus.NewClient(e.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := newStateStore(e.bus, e.cfg.StateTopic, client)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	e.recommit(ctx, func(topic string, partition int, offset int64) string {
		p, err := s.write(ctx, e.cfg.Group+"/"+topic+"/"+strconv.Itoa(partition), offset, []byte("VIGILDET\x09not a snapshot"), 0, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p.String()
	})

	e.produce(ctx, genStream("bs", 1000, 2000))
	b := e.start(nil)
	e.waitProgress(e.cfg.Group, 1, 60*time.Second)
	b.stop(t)
	if n := b.counter("vigil_detector_restores_total", "source", "failed"); n != 6 {
		t.Errorf("%v partitions counted as failed restores, want 6", n)
	}
	if n := b.counter("vigil_detector_events_total"); n != 1200 {
		t.Errorf("%v events fed after the bad snapshots, want 1200", n)
	}
}
