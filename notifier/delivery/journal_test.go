package delivery

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// TestKafkaJournalSurvivesRestart records notices on the embedded broker
// (with a data folder), stops it, starts it again and reopens the ledger:
// every notice comes back in its last state, and the one left "sending" is
// sent again exactly once.
func TestKafkaJournalSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := func() *bus.Embedded {
		e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{DataDir: dir, Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	e := start()
	j, err := NewKafkaJournal(e.Config(), "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, j, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		n, err := l.Plan(ctx, testNotice(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.NoticeID)
	}
	if err := l.Approve(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	send := func(_ context.Context, n event.Notice) (Receipt, error) {
		sent[n.NoticeID]++
		return Receipt{MessageID: "m-" + n.NoticeID}, nil
	}
	for _, id := range ids[:3] {
		if _, err := l.Deliver(ctx, id, send); err != nil {
			t.Fatal(err)
		}
	}
	// ids[3] is left "sending", as if the process died after the intent.
	inFlight, _ := l.Get(ids[3])
	inFlight.State, inFlight.Attempts = event.NoticeSending, 1
	if err := j.Append(ctx, inFlight); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = start()
	defer e.Close()
	j, err = NewKafkaJournal(e.Config(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	l, err = Open(ctx, j, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]event.NoticeState{ids[0]: event.NoticeSent, ids[1]: event.NoticeSent, ids[2]: event.NoticeSent,
		ids[3]: event.NoticeSending, ids[4]: event.NoticeApproved}
	for id, st := range want {
		n, ok := l.Get(id)
		if !ok || n.State != st {
			t.Fatalf("after restart notice %s is %q (known %v), want %s", id, n.State, ok, st)
		}
	}
	for _, id := range ids {
		if _, err := l.Deliver(ctx, id, send); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if sent[id] != 1 {
			t.Errorf("notice %s sent %d times, want once", id, sent[id])
		}
	}
	if l.Stats().Resent != 1 {
		t.Fatalf("Resent = %d after a restart with one notice in flight, want 1", l.Stats().Resent)
	}
}

// TestKafkaJournalRejectsForeignRecords: a record that is not a notice, or
// whose key is not its notice id, stops the replay with an error naming
// where it is, rather than being forgotten.
func TestKafkaJournalRejectsForeignRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct{ name, key, value, want string }{
		{"not json", "k", "hello", "invalid character"},
		{"key mismatch", "other", `{"notice_id":"abc","state":"planned"}`, "does not match its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			w, err := bus.NewWriter(e.Config(), bus.TopicNotices)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(tc.key), Value: []byte(tc.value)}); err != nil {
				t.Fatal(err)
			}
			_ = w.Close()
			j, err := NewKafkaJournal(e.Config(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			_, err = Open(ctx, j, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "vigil.notices.v1[") {
				t.Fatalf("open over a foreign record: %v, want an error with %q and the record's place", err, tc.want)
			}
		})
	}
}
