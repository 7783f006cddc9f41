//go:build integration

package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestSinkRealKafkaClickHouse runs `vigil sink` against the real Kafka 4.x
// broker and the real ClickHouse 18.16: it migrates a fresh database,
// consumes a topic of access events, and every event lands once (by id).
func TestSinkRealKafkaClickHouse(t *testing.T) {
	kafkaAddr := testenv.Kafka(t)
	chAddr := testenv.ClickHouse(t)
	ns := time.Now().UnixNano()
	topic := fmt.Sprintf("t%d.vigil.access.v1", ns)
	db := fmt.Sprintf("vigil_sink_cli_%d", ns)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bcfg := bus.Defaults()
	bcfg.Brokers = []string{kafkaAddr}
	if err := bus.EnsureTopics(ctx, bcfg, bus.TopicSpec{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	w, err := bus.NewWriter(bcfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	base := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := range n {
		e := event.AccessEvent{
			EventID:      fmt.Sprintf("sink-%d-%05d", ns, i),
			OccurredAt:   event.NewTimestamp(base.Add(time.Duration(i) * time.Millisecond)),
			ReceivedAt:   event.NewTimestamp(base.Add(time.Second)),
			Source:       "ehr",
			Org:          "h1",
			Actor:        event.Actor{ID: fmt.Sprintf("u%d", i%17), Type: event.ActorType("doctor")},
			Action:       event.Action("read"),
			Subject:      event.Subject{ID: fmt.Sprintf("p_%032d", i%101), Type: event.SubjectType("patient")},
			Categories:   []event.Category{"health"},
			Relationship: event.RelationshipUnknown,
			Outcome:      event.Outcome("success"),
		}
		if p := event.ValidateAccess(e); len(p) > 0 {
			t.Fatalf("test event invalid: %v", p)
		}
		msgs = append(msgs, kafka.Message{Key: e.Key(), Value: e.AppendJSON(nil)})
	}
	// Half before the sink starts, half while it runs; the first half twice
	// (a producer retry), which must not show as duplicates.
	if err := w.WriteMessages(ctx, msgs[:n/2]...); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, msgs[:n/2]...); err != nil {
		t.Fatal(err)
	}

	sinkCtx, stopSink := context.WithCancel(ctx)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(sinkCtx, []string{"sink"}, Env{Stdout: &out, Stderr: &errb, Environ: []string{
			"VIGIL_BUS_BROKERS=" + kafkaAddr,
			"VIGIL_CLICKHOUSE_ADDR=" + chAddr,
			"VIGIL_CLICKHOUSE_DATABASE=" + db,
			"VIGIL_HTTP_LISTEN=127.0.0.1:0",
			"VIGIL_SINK_TOPICS=" + topic,
			fmt.Sprintf("VIGIL_SINK_GROUP=vigil-sink-test-%d", ns),
			"VIGIL_SINK_BATCH_AGE=200ms",
		}})
	}()
	t.Cleanup(func() {
		conn, err := store.Open(context.Background(), store.ClickHouseConfig{Addr: []string{chAddr}})
		if err == nil {
			_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			conn.Close()
		}
	})
	if err := w.WriteMessages(ctx, msgs[n/2:]...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	conn, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var distinct, rows uint64
	for {
		select {
		case code := <-done:
			t.Fatalf("vigil sink exited %d early:\n%s\n%s", code, out.String(), errb.String())
		case <-ctx.Done():
			t.Fatalf("only %d of %d events reached ClickHouse:\n%s", distinct, n, errb.String())
		case <-time.After(300 * time.Millisecond):
		}
		row := conn.QueryRow(ctx, "SELECT uniqExact(event_id), count() FROM "+db+".access_events WHERE event_id LIKE 'sink-%'")
		if err := row.Scan(&distinct, &rows); err != nil {
			if strings.Contains(err.Error(), "doesn't exist") {
				continue // not migrated yet
			}
			t.Fatal(err)
		}
		if distinct == n {
			break
		}
	}
	var final uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".access_events FINAL").Scan(&final); err != nil {
		t.Fatal(err)
	}
	if final != n {
		t.Errorf("SELECT count() FINAL = %d, want %d (raw rows %d)", final, n, rows)
	}
	// ClickHouse commits the table's part before it pushes the block to the
	// materialized views, so the view may trail the table for a moment.
	var subjects uint64
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := conn.QueryRow(ctx, "SELECT uniqExact(subject_id) FROM "+db+".access_by_subject").Scan(&subjects); err != nil {
			t.Fatal(err)
		}
		if subjects == 101 || time.Now().After(deadline) {
			break
		}
	}
	if subjects != 101 {
		t.Errorf("access_by_subject holds %d subjects, want 101", subjects)
	}
	stopSink()
	if code := <-done; code != ExitOK {
		t.Errorf("vigil sink exited %d:\n%s", code, errb.String())
	}
	if !regexp.MustCompile(`Vigil sink is running: Kafka \[.*\] → ClickHouse`).MatchString(out.String()) {
		t.Errorf("banner: %q", out.String())
	}
	t.Logf("%d events, %d raw rows (producer retry doubled half), %d after FINAL", n, rows, final)
}
