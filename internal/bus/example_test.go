package bus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
)

// A stage's whole life on the bus: start the embedded broker (in production,
// a Config from the `bus:` section instead), produce keyed records with
// acks=all, consume them in a group at-least-once, commit after processing.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	broker, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Close()
	cfg := broker.Config()
	if err := bus.EnsureTopics(ctx, cfg); err != nil { // idempotent
		log.Fatal(err)
	}

	w, err := bus.NewWriter(cfg, bus.TopicAccess)
	if err != nil {
		log.Fatal(err)
	}
	err = w.WriteMessages(ctx,
		kafka.Message{Key: []byte("actor-token-1"), Value: []byte(`{"event_id":"e1","action":"read"}`)},
		kafka.Message{Key: []byte("actor-token-1"), Value: []byte(`{"event_id":"e2","action":"export"}`)},
	)
	if err != nil {
		log.Fatal(err) // the collector would keep both in its spool
	}
	w.Close()

	r, err := bus.NewGroupReader(cfg, "sink", bus.TopicAccess)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for range 2 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s\n", m.Key, m.Value) // process durably, then:
		if err := r.CommitMessages(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// actor-token-1 {"event_id":"e1","action":"read"}
	// actor-token-1 {"event_id":"e2","action":"export"}
}
