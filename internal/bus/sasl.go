package bus

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// dialTimeout bounds a TCP connect plus the TLS and SASL handshakes.
const dialTimeout = 10 * time.Second

// security is what every connection needs: the SASL mechanism (nil for
// none) and the TLS configuration (nil for plaintext). Writers, readers and
// admin calls all build it here, so they authenticate the same way.
type security struct {
	mechanism sasl.Mechanism
	tls       *tls.Config
}

func newSecurity(c Config) (security, error) {
	m, err := c.SASL.mechanism()
	if err != nil {
		return security{}, err
	}
	t, err := c.TLS.config()
	if err != nil {
		return security{}, err
	}
	return security{mechanism: m, tls: t}, nil
}

// mechanism returns the kafka-go SASL mechanism, or nil when SASL is off.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, nil
	}
	pass, err := s.password()
	if err != nil {
		return nil, err
	}
	switch s.Mechanism {
	case MechanismPlain:
		return plain.Mechanism{Username: s.Username, Password: pass}, nil
	case MechanismScramSHA256, MechanismScramSHA512:
		algo := scram.SHA512
		if s.Mechanism == MechanismScramSHA256 {
			algo = scram.SHA256
		}
		m, err := scram.Mechanism(algo, s.Username, pass)
		if err != nil {
			// The message of xdg-go/scram names the failing step
			// (SASLprep of the user or password), never the value.
			return nil, fmt.Errorf("bus.sasl: set up %s for user %q: %w", s.Mechanism, s.Username, err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("bus.sasl.mechanism: %q is not one of %s", s.Mechanism, strings.Join(mechanisms, "|"))
	}
}

// password returns Password, or the contents of PasswordFile without its
// trailing newline when Password is empty.
func (s SASL) password() (string, error) {
	if s.Password != "" {
		return string(s.Password), nil
	}
	if s.PasswordFile == "" {
		return "", fmt.Errorf("bus.sasl.password_file: required with mechanism %s (or pass the password through the environment)", s.Mechanism)
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("bus.sasl.password_file: read: %w", err)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if p == "" {
		return "", fmt.Errorf("bus.sasl.password_file: %s is empty", s.PasswordFile)
	}
	return p, nil
}

// config returns the client TLS configuration, or nil when TLS is off.
func (t TLS) config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Only when the operator asked for it in bus.tls.insecure_skip_verify.
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit opt-in
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bus.tls.ca_file: read: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bus.tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// newTransport returns a kafka-go transport (used by writers and admin
// calls) with the client id, SASL and TLS of c. The caller must call
// CloseIdleConnections when done: the transport runs a metadata goroutine per
// cluster until then.
func newTransport(c Config, sec security) *kafka.Transport {
	return &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: dialTimeout}).DialContext,
		DialTimeout: dialTimeout,
		ClientID:    c.ClientID,
		SASL:        sec.mechanism,
		TLS:         sec.tls,
	}
}

// newDialer returns a kafka-go dialer (used by readers) with the client id,
// SASL and TLS of c.
func newDialer(c Config, sec security) *kafka.Dialer {
	return &kafka.Dialer{
		ClientID:      c.ClientID,
		Timeout:       dialTimeout,
		DualStack:     true,
		SASLMechanism: sec.mechanism,
		TLS:           sec.tls,
	}
}
