package filetail

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the tailer's Prometheus metrics. Without a registerer they are
// still updated but never exported. Several tailers may share a registerer:
// they then share the metrics, which sum over them (gauges are changed by
// deltas for that reason).
type metrics struct {
	lines           prometheus.Counter
	bytes           prometheus.Counter
	truncations     prometheus.Counter
	rotations       prometheus.Counter
	handlerFailures prometheus.Counter
	watched         prometheus.Gauge
	lag             prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_collector_file_lines_total",
			Help: "Lines read from followed files and acknowledged by the handler, including lines flagged too long.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_collector_file_bytes_total",
			Help: "Bytes of followed files read and acknowledged (line endings, empty lines and skipped parts of long lines included).",
		}),
		truncations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_collector_file_truncations_total",
			Help: "Followed files found truncated or rewritten in place (copytruncate) and read again from the start.",
		}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_collector_file_rotations_total",
			Help: "Followed files found renamed or replaced at their path (rotation by rename).",
		}),
		handlerFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_collector_file_handler_failures_total",
			Help: "Batches the handler failed to make durable; each is retried, never skipped.",
		}),
		watched: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_collector_file_watched_files",
			Help: "Files currently open and followed.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_collector_file_lag_bytes",
			Help: "Bytes in followed files not yet acknowledged by the handler, as of the last poll.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	m.lines = register(reg, m.lines, &errs)
	m.bytes = register(reg, m.bytes, &errs)
	m.truncations = register(reg, m.truncations, &errs)
	m.rotations = register(reg, m.rotations, &errs)
	m.handlerFailures = register(reg, m.handlerFailures, &errs)
	m.watched = register(reg, m.watched, &errs)
	m.lag = register(reg, m.lag, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("filetail: register metrics: %w", err)
	}
	return m, nil
}

// register registers c with reg. When an equal metric is already
// registered (another tailer on the same registerer), it returns that one, so
// the tailers share it.
func register[T prometheus.Collector](reg prometheus.Registerer, c T, errs *[]error) T {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	*errs = append(*errs, err)
	return c
}
