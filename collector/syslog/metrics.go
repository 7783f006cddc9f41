package syslog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Transports, as in Received.Transport and the transport label.
const (
	TransportTCP = "tcp"
	TransportUDP = "udp"
	TransportTLS = "tls"
)

type transport int

const (
	tTCP transport = iota
	tUDP
	tTLS
	numTransports
)

var transportNames = [numTransports]string{TransportTCP, TransportUDP, TransportTLS}

func (t transport) String() string { return transportNames[t] }

// Values of the format label of vigil_collector_syslog_messages_total.
var formatLabels = [...]string{FormatUnknown: "invalid", RFC5424: "rfc5424", RFC3164: "rfc3164"}

// Values of the reason label of vigil_collector_syslog_errors_total.
const (
	reasonParse           = "parse"            // a message that did not parse (delivered with ParseErr)
	reasonTooLarge        = "too_large"        // a message over max_message_bytes (delivered cut, with ParseErr)
	reasonTruncated       = "truncated"        // a connection that ended inside a message (delivered, with ParseErr)
	reasonFraming         = "framing"          // a malformed octet count: the connection was closed
	reasonHandler         = "handler"          // Handle returned an error for a TCP or TLS message
	reasonRead            = "read"             // a read error other than EOF, idle timeout or shutdown
	reasonTLSHandshake    = "tls_handshake"    // a TLS handshake failed (e.g. no or untrusted client certificate)
	reasonConnectionLimit = "connection_limit" // a connection over max_connections was closed
	reasonAccept          = "accept"           // accepting a connection failed (e.g. out of file descriptors)
)

var reasons = []string{reasonParse, reasonTooLarge, reasonTruncated, reasonFraming, reasonHandler,
	reasonRead, reasonTLSHandshake, reasonConnectionLimit, reasonAccept}

// metrics holds the server's metrics, with every label child created up
// front: the label sets are small and fixed.
type metrics struct {
	connections prometheus.Gauge
	messages    [numTransports][len(formatLabels)]prometheus.Counter
	errors      [numTransports]map[string]prometheus.Counter
	udpDropped  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	connections := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigil_collector_syslog_connections",
		Help: "Open syslog TCP and TLS connections.",
	})
	messages := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_collector_syslog_messages_total",
		Help: "Syslog messages received and handed to the collector, by transport and format (invalid: did not parse).",
	}, []string{"transport", "format"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_collector_syslog_errors_total",
		Help: "Problems on the syslog receiver, by transport and reason.",
	}, []string{"transport", "reason"})
	udpDropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_collector_syslog_udp_dropped_total",
		Help: "Syslog UDP messages lost because the collector refused them (UDP has no back-pressure).",
	})
	m := &metrics{connections: connections, udpDropped: udpDropped}
	for t := range numTransports {
		for f, name := range formatLabels {
			m.messages[t][f] = messages.WithLabelValues(t.String(), name)
		}
		m.errors[t] = make(map[string]prometheus.Counter, len(reasons))
		for _, r := range reasons {
			m.errors[t][r] = errs.WithLabelValues(t.String(), r)
		}
	}
	if reg != nil {
		cs := []prometheus.Collector{connections, messages, errs, udpDropped}
		for i, c := range cs {
			if err := reg.Register(c); err != nil {
				for _, done := range cs[:i] {
					reg.Unregister(done)
				}
				return nil, fmt.Errorf("syslog: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) error(t transport, reason string) { m.errors[t][reason].Inc() }
