package simulate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// KafkaConfig configures a KafkaSink.
type KafkaConfig struct {
	// Bus says how to reach Kafka. Required: at least one broker.
	Bus bus.Config
	// Pseudonymiser is the collector's, built from the same key and
	// pseudonymise section, so that the tokens on the bus are the ones the
	// collector would have made. Required.
	Pseudonymiser *pseudo.Pseudonymiser
	// Source is recorded as every event's source. Empty means "simulate".
	Source string
	// BatchSize is the number of records per produce call. Zero means 1000.
	BatchSize int
	// Now is the clock for received_at. Nil means time.Now.
	Now func() time.Time
}

// KafkaSink produces events straight to vigil.access.v1 and
// vigil.device.v1, doing what the collector does first: it sets source and
// received_at (the current time, or occurred_at if that is later),
// pseudonymises with the collector's Pseudonymiser, checks the event is
// valid as the bus requires (event.ValidateAccess, ValidateDevice) and
// keys the record as the collector does. No raw identifier of a person or
// device reaches Kafka (actor ids stay raw unless tokenise_actor is set,
// as with the collector). Labels are not produced: tee the sink with a
// WriterSink for them.
type KafkaSink struct {
	cfg      KafkaConfig
	now      func() time.Time
	p        *pseudo.Pseudonymiser
	acc, dev *bus.Writer
	accMsgs  []kafka.Message
	devMsgs  []kafka.Message
	written  int64
}

// NewKafkaSink returns a sink producing to the topics of cfg.Bus. The
// topics must exist (vigil up and vigil collect create them;
// bus.EnsureTopics does).
func NewKafkaSink(cfg KafkaConfig) (*KafkaSink, error) {
	if cfg.Pseudonymiser == nil {
		return nil, errors.New("kafka sink: a pseudonymiser is required: no raw identifier may reach Kafka")
	}
	if cfg.Source == "" {
		cfg.Source = "simulate"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	s := &KafkaSink{cfg: cfg, now: cfg.Now, p: cfg.Pseudonymiser}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.acc, err = bus.NewWriter(cfg.Bus, bus.TopicAccess); err != nil {
		return nil, err
	}
	if s.dev, err = bus.NewWriter(cfg.Bus, bus.TopicDevice); err != nil {
		s.acc.Close()
		return nil, err
	}
	return s, nil
}

func (s *KafkaSink) receivedAt(occurred event.Timestamp) event.Timestamp {
	now := s.now()
	if occurred.After(now) {
		return occurred
	}
	return event.NewTimestamp(now)
}

// Access pseudonymises a copy of e and queues it for vigil.access.v1.
func (s *KafkaSink) Access(ctx context.Context, e *event.AccessEvent) error {
	c := CopyAccess(e)
	c.Source, c.ReceivedAt = s.cfg.Source, s.receivedAt(c.OccurredAt)
	if c.Relationship == "" {
		c.Relationship = event.RelationshipUnknown
	}
	s.p.Access(&c)
	if p := event.ValidateAccess(c); len(p) > 0 {
		return fmt.Errorf("access event %s is not valid on the bus: %s", c.EventID, p)
	}
	s.accMsgs = append(s.accMsgs, kafka.Message{Key: c.Key(), Value: c.AppendJSON(nil)})
	if len(s.accMsgs) >= s.cfg.BatchSize {
		return s.write(ctx, s.acc, &s.accMsgs)
	}
	return nil
}

// Device pseudonymises a copy of e and queues it for vigil.device.v1.
func (s *KafkaSink) Device(ctx context.Context, e *event.DeviceEvent) error {
	c := CopyDevice(e)
	c.Source, c.ReceivedAt = s.cfg.Source, s.receivedAt(c.OccurredAt)
	s.p.Device(&c)
	if p := event.ValidateDevice(c); len(p) > 0 {
		return fmt.Errorf("device event %s is not valid on the bus: %s", c.EventID, p)
	}
	s.devMsgs = append(s.devMsgs, kafka.Message{Key: c.Key(), Value: c.AppendJSON(nil)})
	if len(s.devMsgs) >= s.cfg.BatchSize {
		return s.write(ctx, s.dev, &s.devMsgs)
	}
	return nil
}

func (s *KafkaSink) write(ctx context.Context, w *bus.Writer, msgs *[]kafka.Message) error {
	if len(*msgs) == 0 {
		return nil
	}
	if err := w.WriteMessages(ctx, *msgs...); err != nil {
		return err
	}
	s.written += int64(len(*msgs))
	*msgs = (*msgs)[:0]
	return nil
}

// Label does nothing: labels are not bus records.
func (s *KafkaSink) Label(context.Context, *Label) error { return nil }

// Flush produces what is queued and waits for Kafka's acknowledgement.
func (s *KafkaSink) Flush(ctx context.Context) error {
	return errors.Join(s.write(ctx, s.acc, &s.accMsgs), s.write(ctx, s.dev, &s.devMsgs))
}

// Written returns how many records Kafka acknowledged.
func (s *KafkaSink) Written() int64 { return s.written }

// Close flushes and closes the writers.
func (s *KafkaSink) Close(ctx context.Context) error {
	err := s.Flush(ctx)
	return errors.Join(err, s.acc.Close(), s.dev.Close())
}
