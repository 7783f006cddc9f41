package delivery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/internal/event"
)

type metrics struct {
	notices *prometheus.CounterVec
	resends prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifier_notices_total",
			Help: "Notice state changes recorded, by channel and status (planned, approved, sending, sent, failed, skipped, retry).",
		}, []string{"channel", "status"}),
		resends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_notifier_notice_resends_total",
			Help: "Deliveries of notices that were in flight when the notifier last stopped (sent again with the same notice id).",
		}),
	}
	// Every channel × status child exists from the start, so dashboards
	// see zeros rather than gaps.
	for _, c := range event.Channels() {
		for _, s := range []string{"planned", "approved", "sending", "sent", "failed", "skipped", "retry"} {
			m.notices.WithLabelValues(string(c), s)
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.notices, m.resends} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("delivery: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) count(c event.Channel, status string) {
	m.notices.WithLabelValues(string(c), status).Inc()
}
