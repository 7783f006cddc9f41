package simulate

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// stopSink counts events and ends the run after limit of them.
type stopSink struct {
	Sink
	n, limit int
	cancel   context.CancelFunc
}

func (s *stopSink) tick() {
	if s.n++; s.n == s.limit {
		s.cancel()
	}
}

func (s *stopSink) Access(ctx context.Context, e *event.AccessEvent) error {
	s.tick()
	return s.Sink.Access(ctx, e)
}

func (s *stopSink) Device(ctx context.Context, e *event.DeviceEvent) error {
	s.tick()
	return s.Sink.Device(ctx, e)
}

// benchRun runs b.N events of a month at 20 events/s into sink; the
// population is built outside the timer.
func benchRun(b *testing.B, sink Sink) {
	s, err := New(Config{Seed: 1, Rate: 20, Duration: 30 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := &stopSink{Sink: sink, limit: b.N, cancel: cancel}
	b.ReportAllocs()
	b.ResetTimer()
	err = s.Run(ctx, stop)
	b.StopTimer()
	if err != nil && ctx.Err() == nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(stop.n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkGenerate is generation alone, to a sink that drops everything:
// what the detector's benchmark pays for its input.
func BenchmarkGenerate(b *testing.B) { benchRun(b, Discard) }

// BenchmarkGenerateNDJSON adds encoding as the collector receives it.
func BenchmarkGenerateNDJSON(b *testing.B) {
	benchRun(b, NewWriterSink(io.Discard, io.Discard, io.Discard))
}
