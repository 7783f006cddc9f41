package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/collector/spool"
	"github.com/vigil-audit/vigil/internal/bus"
)

// Queue is what the producer drains: the disk spool.
type Queue interface {
	Next(ctx context.Context, max int) ([]spool.Entry, error)
	Ack(pos spool.Position) error
	Rewind() error
}

// MessageWriter writes to one topic and returns once Kafka acknowledged
// every message (bus.Writer).
type MessageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// ProducerConfig tunes the spool-to-Kafka loop.
type ProducerConfig struct {
	// BatchSize is the most spool records sent to Kafka at once. Zero
	// means 5000.
	BatchSize int `yaml:"batch_size"`
	// RetryMin and RetryMax bound the backoff between failed attempts
	// (doubling with jitter). Zero means 100ms and 10s.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	return c
}

// Producer moves records from the spool to Kafka in spool order, and acks
// them in the spool only once Kafka acknowledged them (acks=all). A failed
// batch is retried from the spool, with backoff, until it goes through or
// the producer is stopped: nothing accepted is skipped. A retried batch may
// repeat records Kafka already had; downstream stages drop them by
// event_id.
type Producer struct {
	q       Queue
	writers map[string]MessageWriter
	cfg     ProducerConfig
	log     *slog.Logger
	m       *metrics

	mu      sync.Mutex
	lastErr error
}

// NewProducer returns a producer writing each topic with the writer
// newWriter builds for it.
func NewProducer(q Queue, newWriter func(topic string) (MessageWriter, error), cfg ProducerConfig, log *slog.Logger, m *metrics) (*Producer, error) {
	p := &Producer{q: q, writers: map[string]MessageWriter{}, cfg: cfg.withDefaults(), log: log, m: m}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.m == nil {
		p.m = newMetrics(nil)
	}
	for _, t := range []string{topicAccess, topicDevice, topicDeadLetter} {
		w, err := newWriter(t)
		if err != nil {
			p.closeWriters()
			return nil, fmt.Errorf("producer for %s: %w", t, err)
		}
		p.writers[t] = w
	}
	return p, nil
}

// LastError is the error of the last failed attempt, nil after a success.
func (p *Producer) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Run drains the spool until ctx is done. It returns nil when stopped by
// ctx, or an error it cannot retry past (a corrupt spool record).
func (p *Producer) Run(ctx context.Context) error {
	defer p.closeWriters()
	backoff := p.cfg.RetryMin
	for {
		entries, err := p.q.Next(ctx, p.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read spool: %w", err)
		}
		if len(entries) == 0 {
			continue
		}
		err = p.send(ctx, entries)
		if err == nil {
			if err := p.q.Ack(entries[len(entries)-1].Pos); err != nil {
				return fmt.Errorf("ack spool: %w", err)
			}
			p.setErr(nil)
			backoff = p.cfg.RetryMin
			continue
		}
		var bad *badRecordError
		if errors.As(err, &bad) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		p.m.produceErrs.Inc()
		p.setErr(err)
		p.log.Warn("kafka did not take a batch; it stays in the spool and will be retried",
			"records", len(entries), "retry_in", backoff, "err", err)
		if err := p.q.Rewind(); err != nil {
			return fmt.Errorf("rewind spool: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jitter(backoff)):
		}
		backoff = min(backoff*2, p.cfg.RetryMax)
	}
}

type badRecordError struct{ err error }

func (e *badRecordError) Error() string { return e.err.Error() }
func (e *badRecordError) Unwrap() error { return e.err }

// send writes a batch, topic by topic in parallel, each in spool order.
func (p *Producer) send(ctx context.Context, entries []spool.Entry) error {
	byTopic := map[string][]kafka.Message{}
	for _, e := range entries {
		topic, key, value, err := decodeEnvelope(e.Data)
		if err != nil {
			return &badRecordError{fmt.Errorf("spool record at %v: %w", e.Pos, err)}
		}
		byTopic[topic] = append(byTopic[topic], kafka.Message{Key: key, Value: value})
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 0, len(byTopic))
	var mu sync.Mutex
	for topic, msgs := range byTopic {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.writers[topic].WriteMessages(ctx, msgs...); err != nil {
				mu.Lock()
				errs = append(errs, summarise(topic, len(msgs), err))
				mu.Unlock()
				return
			}
			p.m.produced.WithLabelValues(topic).Add(float64(len(msgs)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.m.produceDur.Observe(time.Since(start).Seconds())
	return nil
}

// summarise shortens kafka-go's per-message errors (one per record, most
// often the same one) to a count and the first.
func summarise(topic string, n int, err error) error {
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	failed := 0
	var first error
	for _, e := range we {
		if e != nil {
			failed++
			if first == nil {
				first = e
			}
		}
	}
	if first == nil {
		return err
	}
	return fmt.Errorf("write %s: %d of %d records not acknowledged: %w", topic, failed, n, first)
}

func (p *Producer) setErr(err error) {
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

func (p *Producer) closeWriters() {
	for t, w := range p.writers {
		if err := w.Close(); err != nil {
			p.log.Warn("closing kafka writer failed", "topic", t, "err", err)
		}
		delete(p.writers, t)
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// BusWriters returns a newWriter function for NewProducer that builds
// bus writers from cfg.
func BusWriters(cfg bus.Config, log *slog.Logger) func(topic string) (MessageWriter, error) {
	return func(topic string) (MessageWriter, error) {
		return bus.NewWriter(cfg, topic, bus.WithLogger(log))
	}
}
