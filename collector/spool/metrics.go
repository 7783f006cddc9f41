package spool

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics is the spool's instrumentation (listed in the package doc). Label
// children are resolved once, off the hot path.
type metrics struct {
	bytes        prometheus.Gauge
	events       prometheus.Gauge
	diskBytes    prometheus.Gauge
	appendsOK    prometheus.Counter
	appendsFull  prometheus.Counter
	appendsLarge prometheus.Counter
	appendsError prometheus.Counter
	records      prometheus.Counter
	acked        prometheus.Counter
	fsync        prometheus.Histogram
	torn         prometheus.Counter
	corrupt      prometheus.Counter
}

// newMetrics builds the metrics and registers them with reg (nil: not
// registered). A spool reopened in the same process with the same
// registerer takes over the series already registered, so counters keep
// counting.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "vigil", "collector_spool"
	var errs []error
	m := &metrics{}
	m.bytes = register(reg, &errs, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "bytes",
		Help: "Bytes (record headers included) of records in the spool not yet acknowledged by the producer.",
	}))
	m.events = register(reg, &errs, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "events",
		Help: "Records (events) in the spool not yet acknowledged by the producer.",
	}))
	m.diskBytes = register(reg, &errs, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "disk_bytes",
		Help: "Size of the spool's segment files: what spool.max_bytes limits.",
	}))
	appends := register(reg, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "appends_total",
		Help: "Append calls by result: ok (durable), full (ErrFull), too_large (ErrRecordTooLarge), error (anything else).",
	}, []string{"result"}))
	m.records = register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "appended_records_total",
		Help: "Records made durable by Append.",
	}))
	m.acked = register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "acked_records_total",
		Help: "Records acknowledged by the producer.",
	}))
	m.fsync = register(reg, &errs, prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "fsync_duration_seconds",
		Help:    "Time to fsync a segment file, once per group commit.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs to 3.3s
	}))
	m.torn = register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "torn_records_total",
		Help: "Partly written records cut from the tail of the last segment when the spool was opened after a crash.",
	}))
	m.corrupt = register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "corrupt_regions_total",
		Help: "Damaged regions of segment files found when the spool was opened, moved aside to .corrupt files.",
	}))
	if len(errs) > 0 {
		return nil, fmt.Errorf("spool: registering metrics: %w", errors.Join(errs...))
	}
	m.appendsOK = appends.WithLabelValues("ok")
	m.appendsFull = appends.WithLabelValues("full")
	m.appendsLarge = appends.WithLabelValues("too_large")
	m.appendsError = appends.WithLabelValues("error")
	return m, nil
}

// register registers c with reg, or returns the collector already
// registered under the same description.
func register[T prometheus.Collector](reg prometheus.Registerer, errs *[]error, c T) T {
	if reg == nil {
		return c
	}
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
