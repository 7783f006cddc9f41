package spool_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/vigil-audit/vigil/collector/spool"
)

// A receiver appends (and answers its sender only after Append returned
// nil); the producer reads, delivers, and acknowledges.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := spool.Open(spool.Config{Dir: dir}) // sync "always": durable on return
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Receiver: one Append per request; the records are stored together.
	err = s.Append(ctx,
		[]byte(`{"event_id":"e1","action":"read"}`),
		[]byte(`{"event_id":"e2","action":"export"}`))
	if err != nil {
		log.Fatal(err) // ErrFull: answer 503; ErrRecordTooLarge: answer 413
	}

	// Producer: read, send to Kafka, then Ack the last record sent.
	ents, err := s.Next(ctx, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range ents {
		fmt.Printf("%s %s\n", e.Pos, e.Data)
	}
	if err := s.Ack(ents[len(ents)-1].Pos); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// seq 1 (00000000000000000001.seg@0) {"event_id":"e1","action":"read"}
	// seq 2 (00000000000000000001.seg@51) {"event_id":"e2","action":"export"}
	// {Bytes:0 Records:0 Segments:1 DiskBytes:104}
}
