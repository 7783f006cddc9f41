package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"
)

// Writer produces to one topic. It is a kafka-go Writer (all its methods
// and fields are promoted) set up by NewWriter, with two differences:
// WriteMessages wraps errors with the topic and brokers, and Close also closes
// the connections of the writer's own transport (kafka-go's Writer.Close
// leaves a metadata goroutine and idle connections behind for a transport it
// did not create).
type Writer struct {
	*kafka.Writer
	transport *kafka.Transport
	where     string // "vigil.access.v1 on 127.0.0.1:9092"
}

// NewWriter returns a synchronous writer to topic:
//
//   - RequiredAcks is all: a write returns only when every in-sync replica
//     has the records;
//   - Async is false: WriteMessages returns the error of every record, which
//     is what lets the collector keep a record in its spool until Kafka has
//     it (kafka.WriteErrors tells which records failed);
//   - the balancer is kafka.Murmur2Balancer, the Java client's default
//     partitioner (and franz-go's, and librdkafka's murmur2_random), so a key
//     lands on the same partition whichever of those clients wrote it; records
//     without a key go to a random partition;
//   - batching and compression come from cfg.Writer, connections use the
//     client id, SASL and TLS of cfg;
//   - topics are never created by writing: a missing topic is an error (see
//     EnsureTopics).
//
// A WriteMessages call with many records is far cheaper than many calls with
// one record each: each call waits up to BatchTimeout for its batches.
// Close the writer when done.
func NewWriter(cfg Config, topic string, opts ...Option) (*Writer, error) {
	if topic == "" {
		return nil, errors.New("new writer: topic is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new writer for %s: %w", topic, err)
	}
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, fmt.Errorf("new writer for %s: %w", topic, err)
	}
	o := applyOptions(opts)
	info, errLog := kafkaLoggers(o.logger, "topic", topic)
	tr := newTransport(cfg, sec)
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Topic:                  topic,
		Balancer:               kafka.Murmur2Balancer{},
		BatchSize:              cfg.Writer.BatchSize,
		BatchBytes:             int64(cfg.Writer.BatchBytes),
		BatchTimeout:           cfg.Writer.BatchTimeout,
		RequiredAcks:           kafka.RequireAll,
		Async:                  false,
		Compression:            compressionCodec(cfg.Writer.Compression),
		Transport:              tr,
		AllowAutoTopicCreation: false,
		Logger:                 info,
		ErrorLogger:            errLog,
	}
	return &Writer{
		Writer:    w,
		transport: tr,
		where:     topic + " on " + strings.Join(cfg.Brokers, ","),
	}, nil
}

// WriteMessages writes msgs and waits until the brokers acknowledged all of
// them (acks=all) or one failed. The error wraps kafka-go's: use errors.As
// with kafka.WriteErrors to learn which records failed. If ctx ends first the
// records may or may not have been written: write them again (downstream is
// idempotent by event id).
func (w *Writer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if err := w.Writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write %d records to %s: %w", len(msgs), w.where, err)
	}
	return nil
}

// Close flushes pending batches, waits for them, and closes the writer's
// connections. It is safe to call more than once.
func (w *Writer) Close() error {
	err := w.Writer.Close()
	w.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close writer to %s: %w", w.where, err)
	}
	return nil
}

func compressionCodec(name string) kafka.Compression {
	switch name {
	case CompressionGzip:
		return kafka.Gzip
	case CompressionSnappy:
		return kafka.Snappy
	case CompressionLZ4:
		return kafka.Lz4
	case CompressionZstd:
		return kafka.Zstd
	default:
		return 0 // none
	}
}
