package collector

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Kind is what a receiver was told its input holds.
type Kind string

// Event kinds.
const (
	KindAccess Kind = "access"
	KindDevice Kind = "device"
)

// Valid reports whether k is access or device.
func (k Kind) Valid() bool { return k == KindAccess || k == KindDevice }

// Receiver names, used in metrics labels and dead letters.
const (
	ReceiverHTTP   = "http"
	ReceiverSyslog = "syslog"
	ReceiverFile   = "file"
)

// Appender makes records durable before it returns: the disk spool.
type Appender interface {
	Append(ctx context.Context, recs ...[]byte) error
}

// Pseudonymiser replaces identifiers of people and devices with tokens.
type Pseudonymiser interface {
	Access(e *event.AccessEvent)
	Device(e *event.DeviceEvent)
	// ScrubRaw pseudonymises what it can of a rejected input and truncates
	// it to max bytes.
	ScrubRaw(line []byte, max int) []byte
	// ScrubText replaces identifier-like substrings of a message (the
	// validator quotes values it rejects).
	ScrubText(s string) string
}

// Origin says where a batch of input came from.
type Origin struct {
	// Source is the sending system, from its credentials.
	Source string
	// Receiver is ReceiverHTTP, ReceiverSyslog or ReceiverFile.
	Receiver string
}

// Input is one event as received, or a receiver's reason to reject it.
type Input struct {
	// Data is the event's JSON.
	Data []byte
	// Location points into the input for dead letters ("line 3", a file
	// offset, a syslog peer).
	Location string
	// Reject, when set, rejects the input without decoding it (for example
	// a line over the size limit, or a syslog frame that did not parse).
	Reject *Rejection
}

// Rejection is a receiver's reason to refuse an input.
type Rejection struct {
	Reason   string   // event.Reason*
	Problems []string // what to tell the sender
}

// Result is the outcome of one input, as told to the sender.
type Result struct {
	// Accepted is true when the event is durable in the spool.
	Accepted bool
	// EventID is the event's id (assigned when the sender gave none).
	EventID string
	// Reason is the dead-letter reason of a rejected input.
	Reason string
	// Problems are the specific errors of a rejected input.
	Problems []string
}

// Ingester validates, normalises and pseudonymises inputs and appends them,
// and a dead letter for each rejected one, to the spool in one atomic
// append. It is safe for concurrent use.
type Ingester struct {
	spool     Appender
	pseudo    Pseudonymiser
	validator event.Validator
	now       func() time.Time
	metrics   *metrics
	maxRaw    int
}

// IngesterOptions configures an Ingester.
type IngesterOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxDeadLetterRaw bounds the raw input kept in a dead letter; zero
	// means 8 KiB.
	MaxDeadLetterRaw int
}

// NewIngester returns an Ingester appending to spool.
func NewIngester(spool Appender, pseudo Pseudonymiser, m *metrics, o IngesterOptions) *Ingester {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxDeadLetterRaw <= 0 {
		o.MaxDeadLetterRaw = 8 << 10
	}
	if m == nil {
		m = newMetrics(nil)
	}
	return &Ingester{
		spool:     spool,
		pseudo:    pseudo,
		validator: event.Validator{Now: o.Now},
		now:       o.Now,
		metrics:   m,
		maxRaw:    o.MaxDeadLetterRaw,
	}
}

// Ingest handles a batch. It returns one Result per input, in order, once
// every accepted event and every dead letter is durable; or an error (the
// spool is full or failing) in which case nothing of the batch was
// accepted and the sender must retry.
func (in *Ingester) Ingest(ctx context.Context, o Origin, kind Kind, inputs []Input) ([]Result, error) {
	if !kind.Valid() {
		return nil, fmt.Errorf("ingest: unknown kind %q", kind)
	}
	now := in.now()
	results := make([]Result, len(inputs))
	recs := make([][]byte, 0, len(inputs))
	received := in.metrics.received(o.Receiver, kind)
	for i, input := range inputs {
		received.Inc()
		rec, res := in.one(o, kind, input, now)
		results[i] = res
		recs = append(recs, rec)
	}
	if err := in.spool.Append(ctx, recs...); err != nil {
		return nil, fmt.Errorf("ingest %d %s events from %s: %w", len(inputs), kind, o.Source, err)
	}
	for _, r := range results {
		if !r.Accepted {
			in.metrics.rejected(o.Receiver, r.Reason).Inc()
		}
	}
	return results, nil
}

// one turns an input into a spool record: the event or its dead letter.
func (in *Ingester) one(o Origin, kind Kind, input Input, now time.Time) ([]byte, Result) {
	if input.Reject != nil {
		return in.deadLetter(o, kind, input, now, input.Reject.Reason, input.Reject.Problems, "")
	}
	// What the collector adds (event_id, received_at, source, relationship,
	// tokens) keeps a sender-valid event bus-valid, so it is not validated a
	// second time: source names are checked when the configuration is
	// loaded, and TestIngestOutputIsBusValid holds the rest.
	switch kind {
	case KindAccess:
		e, p := in.validator.DecodeAccess(input.Data)
		if len(p) > 0 {
			return in.deadLetter(o, kind, input, now, event.ReasonInvalidEvent, p.Strings(), e.EventID)
		}
		if e.EventID == "" {
			e.EventID = event.NewEventID()
		}
		e.ReceivedAt = event.NewTimestamp(now)
		e.Source = o.Source
		if e.Relationship == "" {
			e.Relationship = event.RelationshipUnknown
		}
		in.pseudo.Access(&e)
		rec := appendEnvelopeHeader(make([]byte, 0, recordCap(input.Data)), topicAccess, e.Key())
		return e.AppendJSON(rec), Result{Accepted: true, EventID: e.EventID}
	default:
		e, p := in.validator.DecodeDevice(input.Data)
		if len(p) > 0 {
			return in.deadLetter(o, kind, input, now, event.ReasonInvalidEvent, p.Strings(), e.EventID)
		}
		if e.EventID == "" {
			e.EventID = event.NewEventID()
		}
		e.ReceivedAt = event.NewTimestamp(now)
		e.Source = o.Source
		in.pseudo.Device(&e)
		rec := appendEnvelopeHeader(make([]byte, 0, recordCap(input.Data)), topicDevice, e.Key())
		return e.AppendJSON(rec), Result{Accepted: true, EventID: e.EventID}
	}
}

// recordCap guesses a spool record's size from the input's, so that one
// allocation usually holds it: tokens are longer than most raw ids, and
// the collector adds event_id, received_at, source and relationship.
func recordCap(input []byte) int { return len(input) + len(input)/4 + 256 }

// truncatedMarker is what ScrubRaw appends when it cut its output.
var truncatedMarker = []byte("…[truncated ")

func (in *Ingester) deadLetter(o Origin, kind Kind, input Input, now time.Time, reason string, problems []string, eventID string) ([]byte, Result) {
	raw := in.pseudo.ScrubRaw(input.Data, in.maxRaw)
	scrubbed := make([]string, len(problems))
	for i, p := range problems {
		scrubbed[i] = in.pseudo.ScrubText(p)
	}
	problems = scrubbed
	dl := event.DeadLetter{
		DeadLetterID: event.NewEventID(),
		ReceivedAt:   event.NewTimestamp(now),
		Source:       o.Source,
		Receiver:     o.Receiver,
		Kind:         string(kind),
		Reason:       reason,
		Problems:     problems,
		Location:     input.Location,
		EventID:      eventID,
		Raw:          string(raw),
		RawBytes:     len(input.Data),
		Truncated:    len(input.Data) > in.maxRaw || bytes.Contains(raw, truncatedMarker),
	}
	rec := appendEnvelopeHeader(make([]byte, 0, len(raw)+512), topicDeadLetter, nil)
	return dl.AppendJSON(rec), Result{Reason: reason, Problems: problems, EventID: eventID}
}
