package collector

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the collector's own metrics (the spool, syslog and file
// receivers register theirs). Labels hold only fixed values: receiver
// names, kinds, reason codes and topic names — never an identifier.
type metrics struct {
	receivedVec *prometheus.CounterVec
	rejectedVec *prometheus.CounterVec
	produced    *prometheus.CounterVec
	produceDur  prometheus.Histogram
	produceErrs prometheus.Counter
	httpReqs    *prometheus.CounterVec

	mu            sync.Mutex
	receivedCache map[[2]string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		receivedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_collector_events_received_total",
			Help: "Events received, accepted or not, by receiver (http, syslog, file) and kind (access, device).",
		}, []string{"receiver", "kind"}),
		rejectedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_collector_rejected_total",
			Help: "Inputs rejected and sent to the dead-letter topic, by receiver and reason code.",
		}, []string{"receiver", "reason"}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_collector_produced_total",
			Help: "Records acknowledged by Kafka (acks=all), by topic.",
		}, []string{"topic"}),
		produceDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_collector_produce_duration_seconds",
			Help:    "Time to write one batch from the spool to Kafka until every broker acknowledged it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		produceErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_collector_produce_errors_total",
			Help: "Batches Kafka did not acknowledge; they stay in the spool and are retried.",
		}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_collector_http_requests_total",
			Help: "HTTP ingest requests by response code.",
		}, []string{"code"}),
		receivedCache: map[[2]string]prometheus.Counter{},
	}
	if reg != nil {
		reg.MustRegister(m.receivedVec, m.rejectedVec, m.produced, m.produceDur, m.produceErrs, m.httpReqs)
	}
	return m
}

// received caches label children: WithLabelValues costs a hash
// and a lock per call, which the hot path need not pay.
func (m *metrics) received(receiver string, kind Kind) prometheus.Counter {
	k := [2]string{receiver, string(kind)}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.receivedCache[k]
	if !ok {
		c = m.receivedVec.WithLabelValues(receiver, string(kind))
		m.receivedCache[k] = c
	}
	return c
}

func (m *metrics) rejected(receiver, reason string) prometheus.Counter {
	return m.rejectedVec.WithLabelValues(receiver, reason)
}
