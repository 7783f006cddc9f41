package sink

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Batch results, the values of the result label of vigil_sink_batches_total.
const (
	resultOK    = "ok"
	resultError = "error"
)

// Tables, the values of the table label of vigil_sink_rows_written_total:
// the slices of store.Batch.
const (
	tableAccess      = "access"
	tableDevice      = "device"
	tableDeadLetters = "dead_letters"
	tableAlerts      = "alerts"
	tableIncidents   = "incidents"
	tableNotices     = "notices"
)

// metrics are the sink's metrics (listed in the package doc). Labels hold
// fixed values only: table names, results and the configured topic names.
type metrics struct {
	rows          map[string]prometheus.Counter // by table, children cached
	rowsVec       *prometheus.CounterVec
	batchesOK     prometheus.Counter
	batchesErr    prometheus.Counter
	writeDuration prometheus.Histogram
	retrying      prometheus.Gauge
	lastSuccess   prometheus.Gauge
	invalidVec    *prometheus.CounterVec
	lagVec        *prometheus.GaugeVec
	pending       prometheus.Gauge
	redelivered   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rowsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_rows_written_total",
			Help: "Rows the store acknowledged, by table (access, device, dead_letters, alerts, incidents, notices). Redelivered records count again.",
		}, []string{"table"}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_sink_write_duration_seconds",
			Help:    "Time of one attempt to write a batch to the store, failed attempts included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		retrying: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_sink_retrying",
			Help: "1 while the sink retries a batch the store refused (nothing is committed meanwhile), else 0.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_sink_last_success_timestamp_seconds",
			Help: "Unix time of the last batch the store acknowledged and whose offsets were committed; 0 before the first.",
		}),
		invalidVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_invalid_records_total",
			Help: "Records that could not be decoded, by topic; each is stored as a dead letter (or stops the sink, with sink.on_invalid: stop).",
		}, []string{"topic"}),
		lagVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_sink_lag_records",
			Help: "Records on the partitions this instance reads that are not committed yet, by topic, as of the last record fetched (high watermark minus committed offset).",
		}, []string{"topic"}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_sink_redelivered_records_total",
			Help: "Records fetched again after a rebalance that this instance had already taken into a batch; skipped.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_sink_pending_records",
			Help: "Records fetched and not yet written: the batch being written and the one being filled.",
		}),
	}
	batches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_sink_batches_total",
		Help: "Attempts to write a batch, by result (ok, error). A refused batch is retried: each attempt counts.",
	}, []string{"result"})
	m.batchesOK = batches.WithLabelValues(resultOK)
	m.batchesErr = batches.WithLabelValues(resultError)
	m.rows = map[string]prometheus.Counter{}
	for _, t := range []string{tableAccess, tableDevice, tableDeadLetters, tableAlerts, tableIncidents, tableNotices} {
		m.rows[t] = m.rowsVec.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(m.rowsVec, batches, m.writeDuration, m.retrying, m.lastSuccess, m.invalidVec, m.lagVec, m.pending, m.redelivered)
	}
	return m
}
