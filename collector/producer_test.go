package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/collector/spool"
)

// flakyWriter records what it is given and fails while down is set.
type flakyWriter struct {
	mu     sync.Mutex
	topic  string
	down   bool
	got    []string
	fails  int
	closed bool
}

func (w *flakyWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down {
		w.fails++
		return errors.New("dial tcp 127.0.0.1:9: connection refused")
	}
	for _, m := range msgs {
		w.got = append(w.got, string(m.Key)+"="+string(m.Value))
	}
	return nil
}

func (w *flakyWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return nil
}

func (w *flakyWriter) set(down bool) {
	w.mu.Lock()
	w.down = down
	w.mu.Unlock()
}

func (w *flakyWriter) snapshot() ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...), w.fails
}

func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	cfg := spool.Defaults()
	cfg.Dir = dir
	cfg.Sync = spool.SyncNone
	sp, err := spool.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestProducerRetriesInOrder: while Kafka refuses, records stay in the
// spool; when it comes back every record arrives, in spool order per topic,
// and the spool is emptied.
func TestProducerRetriesInOrder(t *testing.T) {
	sp := openSpool(t, t.TempDir())
	defer sp.Close()
	writers := map[string]*flakyWriter{}
	for _, topic := range []string{topicAccess, topicDevice, topicDeadLetter} {
		writers[topic] = &flakyWriter{topic: topic, down: true}
	}
	p, err := NewProducer(sp, func(topic string) (MessageWriter, error) { return writers[topic], nil },
		ProducerConfig{BatchSize: 7, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	var want []string
	for i := range 50 {
		topic := topicAccess
		if i%5 == 0 {
			topic = topicDeadLetter
		}
		v := fmt.Sprintf("v%02d", i)
		if topic == topicAccess {
			want = append(want, "k="+v)
		}
		if err := sp.Append(ctx, encodeEnvelope(topic, []byte("k"), []byte(v))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, fails := writers[topicAccess].snapshot(); fails >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("producer did not retry")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p.LastError() == nil {
		t.Error("LastError is nil while Kafka is down")
	}
	if st := sp.Stats(); st.Records != 50 {
		t.Errorf("spool holds %d records while Kafka is down, want 50", st.Records)
	}
	for _, w := range writers {
		w.set(false)
	}
	for sp.Stats().Records != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %+v", sp.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := writers[topicAccess].snapshot()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("access records:\n got  %v\n want %v", got, want)
	}
	if dl, _ := writers[topicDeadLetter].snapshot(); len(dl) != 10 {
		t.Errorf("%d dead letters, want 10", len(dl))
	}
	if p.LastError() != nil {
		t.Errorf("LastError after recovery: %v", p.LastError())
	}
	for topic, w := range writers {
		if !w.closed {
			t.Errorf("writer of %s not closed", topic)
		}
	}
}

func TestProducerStopsOnCorruptRecord(t *testing.T) {
	sp := openSpool(t, t.TempDir())
	defer sp.Close()
	w := &flakyWriter{}
	p, err := NewProducer(sp, func(string) (MessageWriter, error) { return w, nil }, ProducerConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Append(context.Background(), []byte{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Run(ctx); err == nil || !errors.Is(err, errEnvelope) {
		t.Errorf("Run = %v, want a malformed-record error", err)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		topic      string
		key, value string
	}{
		{topicAccess, "h1/u1", `{"a":1}`},
		{topicDevice, "", "x"},
		{topicDeadLetter, "", ""},
		{topicAccess, string(make([]byte, 300)), "v"},
	} {
		topic, k, v, err := decodeEnvelope(encodeEnvelope(tc.topic, []byte(tc.key), []byte(tc.value)))
		if err != nil || topic != tc.topic || string(k) != tc.key || string(v) != tc.value {
			t.Errorf("%+v: got %s %q %q %v", tc, topic, k, v, err)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {2, 1, 0}, {1, 9, 0}, {1, 1, 5, 'a'}, {1, 1, 0xff}} {
		if _, _, _, err := decodeEnvelope(bad); !errors.Is(err, errEnvelope) {
			t.Errorf("decodeEnvelope(%v) = %v", bad, err)
		}
	}
}

func TestSummariseWriteErrors(t *testing.T) {
	refused := errors.New("connection refused")
	we := kafka.WriteErrors{nil, refused, refused, nil}
	got := summarise(topicAccess, 4, fmt.Errorf("write 4 records: %w", we))
	if got.Error() != "write vigil.access.v1: 2 of 4 records not acknowledged: connection refused" || !errors.Is(got, refused) {
		t.Errorf("summarise = %v", got)
	}
	plain := errors.New("dial failed")
	if summarise(topicAccess, 1, plain) != plain {
		t.Error("a plain error should pass unchanged")
	}
}
