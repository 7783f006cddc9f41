package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestScanReadsEveryRetainedRecordOnce(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t, EmbeddedConfig{})
	cfg := e.Config()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// An empty topic scans to nothing.
	n := 0
	if err := Scan(ctx, cfg, TopicNotices, func(*kafka.Message) error { n++; return nil }); err != nil {
		t.Fatalf("scan of an empty topic: %v", err)
	}
	if n != 0 {
		t.Fatalf("empty topic: scanned %d records", n)
	}

	const total = 300
	w, err := NewWriter(cfg, TopicNotices)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, keyedMessages(total)...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ends, err := Ends(ctx, cfg, TopicNotices)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range ends {
		sum += e[1] - e[0]
	}
	if sum != total {
		t.Fatalf("Ends covers %d records, want %d (%v)", sum, total, ends)
	}

	seen := map[string]int{}
	lastOffset := map[int]int64{}
	err = Scan(ctx, cfg, TopicNotices, func(m *kafka.Message) error {
		seen[string(m.Value)]++
		if last, ok := lastOffset[m.Partition]; ok && m.Offset <= last {
			t.Errorf("partition %d: offset %d after %d", m.Partition, m.Offset, last)
		}
		lastOffset[m.Partition] = m.Offset
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Fatalf("scanned %d distinct records, want %d", len(seen), total)
	}
	for v, c := range seen {
		if c != 1 {
			t.Errorf("record %s scanned %d times", v, c)
		}
	}

	// An error from fn stops the scan and comes back as is.
	stop := fmt.Errorf("stop here")
	calls := 0
	err = Scan(ctx, cfg, TopicNotices, func(*kafka.Message) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("Scan with failing fn: err %v after %d calls, want the fn's error after 1", err, calls)
	}

	// A missing topic is an error that names it.
	if err := Scan(ctx, cfg, "no.such.topic", func(*kafka.Message) error { return nil }); err == nil {
		t.Fatal("scan of a missing topic succeeded")
	}
}
