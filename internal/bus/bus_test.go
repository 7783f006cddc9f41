package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildDir); dir != "" {
		runCrashChild(dir) // never returns
	}
	// Everything a test starts (writers, readers, transports, brokers) is
	// closed by the test, so no goroutine may survive it.
	goleak.VerifyTestMain(m)
}

var nameSeq atomic.Int64

// uniqueName returns prefix.<test name>.<time>.<seq>, valid as a topic or
// group name, so runs against a long-lived broker never collide.
func uniqueName(t testing.TB, prefix string) string {
	clean := regexp.MustCompile(`[^a-zA-Z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("%s.%s.%d.%d", prefix, clean, time.Now().UnixNano(), nameSeq.Add(1))
}

// record is what the conformance test remembers of a consumed message.
type record struct {
	partition int
	offset    int64
	key       string
	value     string
}

func recordOf(m kafka.Message) record {
	return record{partition: m.Partition, offset: m.Offset, key: string(m.Key), value: string(m.Value)}
}

// keyedMessages returns n records with keys spread over a few dozen actors;
// each value names its key and its index, so order per key can be checked.
func keyedMessages(n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		key := fmt.Sprintf("actor-%02d", i%37)
		msgs[i] = kafka.Message{Key: []byte(key), Value: fmt.Appendf(nil, "%s|%05d", key, i)}
	}
	return msgs
}

// fetchN fetches exactly n messages from r (without committing) or fails t
// when ctx ends first.
func fetchN(ctx context.Context, t testing.TB, r *kafka.Reader, n int) []kafka.Message {
	t.Helper()
	out := make([]kafka.Message, 0, n)
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch from %s: got %d of %d records: %v", r.Config().Topic, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// expectNoMore fails t if r returns a record within wait.
func expectNoMore(ctx context.Context, t testing.TB, r *kafka.Reader, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := r.FetchMessage(ctx)
	if err == nil {
		t.Errorf("unexpected extra record: partition %d offset %d key %q value %q", m.Partition, m.Offset, m.Key, m.Value)
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("fetch while expecting nothing: %v", err)
	}
}

// checkOrder fails t unless offsets rise per partition, each key stays on
// one partition, and the values of a key come in the order written.
func checkOrder(t testing.TB, recs []record) {
	t.Helper()
	lastOffset := map[int]int64{}
	keyPartition := map[string]int{}
	lastValue := map[string]string{}
	for _, r := range recs {
		if last, ok := lastOffset[r.partition]; ok && r.offset <= last {
			t.Errorf("partition %d: offset %d after %d", r.partition, r.offset, last)
		}
		lastOffset[r.partition] = r.offset
		if p, ok := keyPartition[r.key]; ok && p != r.partition {
			t.Errorf("key %s on partitions %d and %d", r.key, p, r.partition)
		}
		keyPartition[r.key] = r.partition
		if last, ok := lastValue[r.key]; ok && r.value <= last {
			t.Errorf("key %s: value %q after %q", r.key, r.value, last)
		}
		lastValue[r.key] = r.value
	}
}

// testProduceConsume is the conformance test every broker must pass: topic
// creation, keyed acks=all produce, consumer-group consume with
// commit-after-processing, and resumption from the committed offsets.
func testProduceConsume(t *testing.T, cfg Config) {
	const (
		total      = 1000
		committed  = 600
		partitions = 3
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	topic := uniqueName(t, "vigil.test")
	group := uniqueName(t, "vigil-test")
	lap := stopwatch(t)

	spec := TopicSpec{Name: topic, Partitions: partitions}
	if err := EnsureTopics(ctx, cfg, spec); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	if err := EnsureTopics(ctx, cfg, spec); err != nil {
		t.Fatalf("EnsureTopics again (must be idempotent): %v", err)
	}
	lap("create topic")

	w, err := NewWriter(cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	msgs := keyedMessages(total)
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lap("produce 1000 (acks=all)")

	// First reader: everything, in order, on the partition murmur2 picks.
	r1, err := NewGroupReader(cfg, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	got1 := fetchN(ctx, t, r1, total)
	lap("join group + fetch 1000")
	recs1 := make([]record, len(got1))
	seen := map[string]bool{}
	javaPartitioner := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for i, m := range got1 {
		recs1[i] = recordOf(m)
		if seen[recs1[i].value] {
			t.Errorf("value %q delivered twice", recs1[i].value)
		}
		seen[recs1[i].value] = true
		if want := javaPartitioner.Partition(&kgo.Record{Key: m.Key}, partitions); m.Partition != want {
			t.Errorf("key %s on partition %d; the murmur2 (Java) partitioner picks %d", m.Key, m.Partition, want)
		}
	}
	for _, m := range msgs {
		if !seen[string(m.Value)] {
			t.Errorf("value %q never delivered", m.Value)
		}
	}
	checkOrder(t, recs1)

	// Commit the first 600 (per partition, a prefix) and close: the close
	// flushes the pending commit and leaves the group.
	if err := r1.CommitMessages(ctx, got1[:committed]...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := r1.Close(); err != nil {
		t.Fatalf("close first reader: %v", err)
	}
	lap("commit 600 + close")

	// Second reader in the same group: exactly the 400 not committed.
	r2, err := NewGroupReader(cfg, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got2 := fetchN(ctx, t, r2, total-committed)
	lap("rejoin group + fetch 400")
	want := map[record]bool{}
	for _, r := range recs1[committed:] {
		want[r] = true
	}
	recs2 := make([]record, len(got2))
	for i, m := range got2 {
		recs2[i] = recordOf(m)
		if !want[recs2[i]] {
			t.Errorf("second reader got %+v, which was committed or never written", recs2[i])
		}
		delete(want, recs2[i])
	}
	for r := range want {
		t.Errorf("second reader never got %+v", r)
	}
	checkOrder(t, recs2)
	expectNoMore(ctx, t, r2, time.Second)

	if err := r2.CommitMessages(ctx, got2...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := r2.Close(); err != nil {
		t.Fatalf("close second reader: %v", err)
	}
	lap("commit 400 + close")

	// The group's committed offsets are now the end of every partition.
	ends := map[int]int64{}
	for _, r := range recs1 {
		ends[r.partition] = max(ends[r.partition], r.offset+1)
	}
	offsets := committedOffsets(ctx, t, cfg, group, topic, partitions)
	for p := range partitions {
		if offsets[p] != ends[p] {
			t.Errorf("partition %d: committed offset %d, want %d", p, offsets[p], ends[p])
		}
	}
	lap("check committed offsets")
}

// committedOffsets returns the group's committed offset per partition.
func committedOffsets(ctx context.Context, t testing.TB, cfg Config, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport(cfg, sec)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		t.Fatalf("offset fetch for group %s: %v", group, err)
	}
	if resp.Error != nil {
		t.Fatalf("offset fetch for group %s: %v", group, resp.Error)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("offset fetch for group %s partition %d: %v", group, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// stopwatch logs the time of each step and of the whole test.
func stopwatch(t testing.TB) func(step string) {
	start, last := time.Now(), time.Now()
	t.Cleanup(func() { t.Logf("total %v", time.Since(start).Round(time.Millisecond)) })
	return func(step string) {
		now := time.Now()
		t.Logf("%-28s %v", step, now.Sub(last).Round(time.Millisecond))
		last = now
	}
}

// mustContain fails t unless err's message contains every part.
func mustContain(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
