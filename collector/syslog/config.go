package syslog

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Config is the `syslog:` section of the collector's configuration. Every
// zero value means a documented default, so the zero Config is valid and
// listens nowhere.
type Config struct {
	// TCPListen is the host:port of the plain TCP listener (RFC 6587
	// framing). Empty means no TCP listener. Port 0 picks a free port
	// (see Server.Addrs).
	TCPListen string `yaml:"tcp_listen"`

	// UDPListen is the host:port of the UDP listener (RFC 5426, one
	// message per datagram). Empty means no UDP listener. UDP has no
	// back-pressure: see the package documentation.
	UDPListen string `yaml:"udp_listen"`

	// TLSListen is the host:port of the TLS listener (RFC 5425; framing as
	// for TCP). Empty means no TLS listener. It requires TLSCertFile and
	// TLSKeyFile.
	TLSListen string `yaml:"tls_listen"`

	// TLSCertFile is the PEM certificate chain the TLS listener presents.
	// Required with TLSListen; unused without it.
	TLSCertFile string `yaml:"tls_cert_file"`

	// TLSKeyFile is the PEM private key of TLSCertFile. Required with
	// TLSListen; unused without it.
	TLSKeyFile string `yaml:"tls_key_file"`

	// TLSClientCA is a PEM file of CA certificates. When set, the TLS
	// listener requires every client to present a certificate signed by
	// one of them (mutual TLS). Empty means clients are not authenticated.
	TLSClientCA string `yaml:"tls_client_ca"`

	// MaxMessageBytes is the largest message accepted, in bytes, without
	// framing. A larger message is cut to this size, handed over with
	// ErrTooLarge and the rest skipped. Zero means 65536
	// (DefaultMaxMessageBytes); at least 480 (RFC 5424 section 6.1) and at
	// most 16 MiB.
	MaxMessageBytes int `yaml:"max_message_bytes"`

	// MaxConnections is the most TCP and TLS connections open at once;
	// a connection over the limit is closed as soon as it is accepted.
	// Zero means 1024.
	MaxConnections int `yaml:"max_connections"`

	// IdleTimeout closes a TCP or TLS connection that sent nothing for this
	// long. Zero means never: a connection stays open while the peer keeps
	// it open (TCP keep-alive still finds dead peers). Beware that rsyslog
	// may lose the message it sends on a connection the server has closed.
	IdleTimeout time.Duration `yaml:"idle_timeout"`

	// RFC3164TimeZone is the IANA time zone ("Asia/Shanghai") of RFC 3164
	// timestamps, which carry no offset. Empty means the collector's local
	// time zone, as rsyslog assumes.
	RFC3164TimeZone string `yaml:"rfc3164_time_zone"`

	// Mapping says how messages become events (see ToJSON). The server
	// does not use it; the collector's handler does.
	Mapping MappingOptions `yaml:"mapping"`
}

// Limits and defaults of Config.
const (
	DefaultMaxConnections = 1024
	minMessageBytes       = 480
	maxMessageBytesLimit  = 16 << 20
	tlsHandshakeTimeout   = 10 * time.Second
)

// Enabled reports whether any listener is configured.
func (c Config) Enabled() bool { return c.TCPListen != "" || c.UDPListen != "" || c.TLSListen != "" }

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	return c
}

// Validate reports every problem in c, each naming its key under
// "syslog." (for example `syslog.tcp_listen: "x" is not host:port`),
// joined with errors.Join. Zero values are valid: they mean the defaults.
// It does not read the TLS files; NewServer does.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("syslog."+key+": "+format, args...))
	}
	addrs := map[string]string{}
	for _, l := range []struct{ key, addr, network string }{
		{"tcp_listen", c.TCPListen, "tcp"},
		{"udp_listen", c.UDPListen, "udp"},
		{"tls_listen", c.TLSListen, "tcp"},
	} {
		if l.addr == "" {
			continue
		}
		if reason := checkListen(l.addr); reason != "" {
			add(l.key, "%q %s", l.addr, reason)
			continue
		}
		if other, ok := addrs[l.network+" "+l.addr]; ok && !endsWithPort0(l.addr) {
			add(l.key, "%q is also syslog.%s", l.addr, other)
		}
		addrs[l.network+" "+l.addr] = l.key
	}
	if c.TLSListen != "" {
		if c.TLSCertFile == "" {
			add("tls_cert_file", "required with syslog.tls_listen")
		}
		if c.TLSKeyFile == "" {
			add("tls_key_file", "required with syslog.tls_listen")
		}
	} else {
		for _, f := range []struct{ key, v string }{
			{"tls_cert_file", c.TLSCertFile}, {"tls_key_file", c.TLSKeyFile}, {"tls_client_ca", c.TLSClientCA},
		} {
			if f.v != "" {
				add(f.key, "only used with syslog.tls_listen, which is empty")
			}
		}
	}
	switch m := c.MaxMessageBytes; {
	case m < 0:
		add("max_message_bytes", "%d is negative (0 means %d)", m, DefaultMaxMessageBytes)
	case m > 0 && m < minMessageBytes:
		add("max_message_bytes", "%d is less than 480, which RFC 5424 requires every receiver to accept", m)
	case m > maxMessageBytesLimit:
		add("max_message_bytes", "%d is more than %d", m, maxMessageBytesLimit)
	}
	if c.MaxConnections < 0 {
		add("max_connections", "%d is negative (0 means %d)", c.MaxConnections, DefaultMaxConnections)
	}
	if c.IdleTimeout < 0 {
		add("idle_timeout", "%s is negative (0 means no idle timeout)", c.IdleTimeout)
	}
	if c.RFC3164TimeZone != "" {
		if _, err := time.LoadLocation(c.RFC3164TimeZone); err != nil {
			add("rfc3164_time_zone", "%q is not a known time zone", c.RFC3164TimeZone)
		}
	}
	errs = append(errs, c.Mapping.validate("syslog.mapping.")...)
	return errors.Join(errs...)
}

// checkListen returns what is wrong with a listen address, or "".
func checkListen(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "is not host:port"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "has no port number 0-65535"
	}
	return ""
}

func endsWithPort0(addr string) bool {
	_, port, _ := net.SplitHostPort(addr)
	return port == "0"
}

// location returns the time zone of RFC 3164 timestamps.
func (c Config) location() (*time.Location, error) {
	if c.RFC3164TimeZone == "" {
		return time.Local, nil
	}
	return time.LoadLocation(c.RFC3164TimeZone)
}
