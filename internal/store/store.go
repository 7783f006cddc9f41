package store

import (
	"context"

	"github.com/vigil-audit/vigil/internal/event"
)

// Record is one Kafka record as the sink hands it to a Writer: its topic
// and value (the JSON of an event type), and its offset, which becomes the
// version of records that change over time (alerts, incidents, notices).
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Value     []byte
}

// Batch is what the sink writes at once: the decoded records of one or more
// topics. A Writer writes all of it or returns an error (the sink then
// retries the same batch and commits nothing).
type Batch struct {
	Access      []event.AccessEvent
	Device      []event.DeviceEvent
	DeadLetters []event.DeadLetter
	Alerts      []Versioned[event.Alert]
	Incidents   []Versioned[event.Incident]
	Notices     []Versioned[event.Notice]
}

// Versioned is a record that changes over time with the version that orders
// its states: the Kafka offset of the record (one id is one key, and one key
// stays on one partition, so a later state has a larger offset).
type Versioned[T any] struct {
	Version uint64
	Value   T
}

// Len is the number of records in b.
func (b *Batch) Len() int {
	return len(b.Access) + len(b.Device) + len(b.DeadLetters) + len(b.Alerts) + len(b.Incidents) + len(b.Notices)
}

// Writer stores batches durably: when Write returns nil, every row is in
// the store. Writing the same record twice must not show as two rows in any
// query (the schema and the queries deduplicate by id). Implementations:
// the ClickHouse writer (system of record) and the embedded SQLite store of
// `vigil up`.
type Writer interface {
	Write(ctx context.Context, b *Batch) error
	Close() error
}
