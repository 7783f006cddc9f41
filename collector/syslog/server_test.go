package syslog_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-audit/vigil/collector/syslog"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// recorder is a Handler that records what it gets. With block set, each
// call waits until block is closed (or its context ends).
type recorder struct {
	block chan struct{}
	err   error // returned by every call

	calls   atomic.Int64
	mu      sync.Mutex
	got     []syslog.Received
	ctxErrs []error
}

func (r *recorder) Handle(ctx context.Context, msg syslog.Received) error {
	r.calls.Add(1)
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			r.mu.Lock()
			r.ctxErrs = append(r.ctxErrs, ctx.Err())
			r.mu.Unlock()
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.got = append(r.got, msg)
	r.mu.Unlock()
	return r.err
}

func (r *recorder) received() []syslog.Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]syslog.Received(nil), r.got...)
}

// wait returns the first n messages once they are there.
func (r *recorder) wait(t *testing.T, n int) []syslog.Received {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages", n), func() bool { return len(r.received()) >= n })
	return r.received()[:n]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startServer(t *testing.T, cfg syslog.Config, h syslog.Handler, opts ...syslog.Option) (*syslog.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts = append([]syslog.Option{syslog.WithRegisterer(reg), syslog.WithClock(func() time.Time { return clock })}, opts...)
	s, err := syslog.NewServer(cfg, h, opts...)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, reg
}

// metric returns the value of the series name{labels}, or 0 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func dial(t *testing.T, network string, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr.String(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// waitClosed waits until the server closes c.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	var b [64]byte
	for {
		_, err := c.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server did not close the connection")
		}
		return
	}
}

const jsonMsg = `<14>1 2026-11-28T12:00:00Z ehr-01 ehr - access - {"org":"h1","purpose":"SECRET-PATIENT-9"}`

func TestServerTCP(t *testing.T) {
	var logs lockedBuffer
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0", MaxMessageBytes: 480}, rec,
		syslog.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if a := s.Addrs(); a.TCP == nil || a.UDP != nil || a.TLS != nil {
		t.Fatalf("Addrs = %+v", a)
	}
	c := dial(t, "tcp", s.Addrs().TCP)
	big := "<14>1 - - - - - - " + strings.Repeat("SECRET-PATIENT-9 ", 40)
	write(t, c, oc(jsonMsg)+"<13>Nov 28 11:59:00 web01 vigil: SECRET-PATIENT-9\n"+"not syslog SECRET-PATIENT-9\n"+oc(big)+"<14>1 - - - - - - last\r\n")
	got := rec.wait(t, 5)

	for _, r := range got {
		if r.Transport != syslog.TransportTCP || r.Peer != c.LocalAddr().String() || r.PeerCertificate != nil {
			t.Errorf("received %q from %q over %q", r.Raw, r.Peer, r.Transport)
		}
	}
	if string(got[0].Raw) != jsonMsg || got[0].ParseErr != nil || got[0].Message.MsgID != "access" ||
		string(got[0].Message.Msg) != `{"org":"h1","purpose":"SECRET-PATIENT-9"}` {
		t.Errorf("message 1: %+v", got[0])
	}
	if got[1].ParseErr != nil || got[1].Message.Format != syslog.RFC3164 || got[1].Message.Hostname != "web01" {
		t.Errorf("message 2: %+v", got[1])
	}
	var pe *syslog.ParseError
	if !errors.As(got[2].ParseErr, &pe) || got[2].ParseErr.Error() != "syslog: PRI at byte 0: want '<', got 'n'" ||
		string(got[2].Raw) != "not syslog SECRET-PATIENT-9" {
		t.Errorf("message 3: %+v", got[2])
	}
	if !errors.Is(got[3].ParseErr, syslog.ErrTooLarge) || string(got[3].Raw) != big[:480] {
		t.Errorf("message 4: %d bytes, %v", len(got[3].Raw), got[3].ParseErr)
	}
	if got[4].ParseErr != nil || string(got[4].Message.Msg) != "last" {
		t.Errorf("message 5: %+v", got[4])
	}
	if n := metric(t, reg, "vigil_collector_syslog_connections"); n != 1 {
		t.Errorf("connections = %v, want 1", n)
	}
	_ = c.Close()
	waitFor(t, "the connection to close", func() bool { return metric(t, reg, "vigil_collector_syslog_connections") == 0 })

	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vigil_collector_syslog_messages_total", []string{"transport", "tcp", "format", "rfc5424"}, 2},
		{"vigil_collector_syslog_messages_total", []string{"transport", "tcp", "format", "rfc3164"}, 1},
		{"vigil_collector_syslog_messages_total", []string{"transport", "tcp", "format", "invalid"}, 2},
		{"vigil_collector_syslog_errors_total", []string{"transport", "tcp", "reason", "parse"}, 1},
		{"vigil_collector_syslog_errors_total", []string{"transport", "tcp", "reason", "too_large"}, 1},
		{"vigil_collector_syslog_errors_total", []string{"transport", "tcp", "reason", "framing"}, 0},
	} {
		if got := metric(t, reg, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("the log shows message contents:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"syslog message too large"`) {
		t.Errorf("the log misses the oversized message:\n%s", logs.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServerMalformedFrameClosesConnection(t *testing.T) {
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, rec)
	c := dial(t, "tcp", s.Addrs().TCP)
	write(t, c, "<13>first\n12x <13>never\n")
	waitClosed(t, c)
	if got := rec.wait(t, 1); string(got[0].Raw) != "<13>first" {
		t.Errorf("got %q", got[0].Raw)
	}
	if n := metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "tcp", "reason", "framing"); n != 1 {
		t.Errorf("framing errors = %v, want 1", n)
	}
	// The listener still serves new connections.
	c2 := dial(t, "tcp", s.Addrs().TCP)
	write(t, c2, "<13>again\n")
	rec.wait(t, 2)
}

// TestServerTruncated checks that a connection closed inside an
// octet-counted message delivers what came, with ErrTruncated.
func TestServerTruncated(t *testing.T) {
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, rec)
	c := dial(t, "tcp", s.Addrs().TCP)
	write(t, c, "100 <14>1 - - - - - - cut")
	_ = c.Close()
	got := rec.wait(t, 1)
	if !errors.Is(got[0].ParseErr, syslog.ErrTruncated) || string(got[0].Raw) != "<14>1 - - - - - - cut" {
		t.Errorf("got %q, %v", got[0].Raw, got[0].ParseErr)
	}
	if n := metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "tcp", "reason", "truncated"); n != 1 {
		t.Errorf("truncated = %v, want 1", n)
	}
}

func TestServerUDP(t *testing.T) {
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{UDPListen: "127.0.0.1:0", MaxMessageBytes: 480}, rec)
	c := dial(t, "udp", s.Addrs().UDP)
	for i, d := range []string{jsonMsg + "\n", "<13>Nov 28 11:59:00 web01 vigil: x\r\n", "junk", "<14>1 - - - - - - " + strings.Repeat("x", 600)} {
		write(t, c, d)
		rec.wait(t, i+1) // one at a time: UDP may reorder
	}
	got := rec.received()
	for _, r := range got {
		if r.Transport != syslog.TransportUDP || r.Peer != c.LocalAddr().String() {
			t.Errorf("received %q from %q over %q", r.Raw, r.Peer, r.Transport)
		}
	}
	if string(got[0].Raw) != jsonMsg || got[0].ParseErr != nil {
		t.Errorf("datagram 1: %q %v", got[0].Raw, got[0].ParseErr)
	}
	if got[1].ParseErr != nil || string(got[1].Message.Msg) != "x" {
		t.Errorf("datagram 2: %q %v", got[1].Raw, got[1].ParseErr)
	}
	if got[2].ParseErr == nil || string(got[2].Raw) != "junk" {
		t.Errorf("datagram 3: %q %v", got[2].Raw, got[2].ParseErr)
	}
	if !errors.Is(got[3].ParseErr, syslog.ErrTooLarge) || len(got[3].Raw) != 480 {
		t.Errorf("datagram 4: %d bytes, %v", len(got[3].Raw), got[3].ParseErr)
	}
	if n := metric(t, reg, "vigil_collector_syslog_messages_total", "transport", "udp", "format", "invalid"); n != 2 {
		t.Errorf("invalid UDP messages = %v, want 2", n)
	}
	if n := metric(t, reg, "vigil_collector_syslog_udp_dropped_total"); n != 0 {
		t.Errorf("dropped = %v, want 0", n)
	}
}

func TestServerUDPDropsCounted(t *testing.T) {
	rec := &recorder{err: errors.New("spool full")}
	s, reg := startServer(t, syslog.Config{UDPListen: "127.0.0.1:0"}, rec)
	c := dial(t, "udp", s.Addrs().UDP)
	for range 3 {
		write(t, c, "<13>x")
	}
	rec.wait(t, 3)
	waitFor(t, "3 drops", func() bool { return metric(t, reg, "vigil_collector_syslog_udp_dropped_total") == 3 })
	if n := metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "udp", "reason", "handler"); n != 0 {
		t.Errorf("UDP handler errors = %v, want 0: they count as drops", n)
	}
}

func TestServerTCPHandlerErrorCounted(t *testing.T) {
	rec := &recorder{err: errors.New("spool broken")}
	s, reg := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, rec)
	c := dial(t, "tcp", s.Addrs().TCP)
	write(t, c, "<13>a\n<13>b\n")
	rec.wait(t, 2)
	waitFor(t, "2 handler errors", func() bool {
		return metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "tcp", "reason", "handler") == 2
	})
}

// certs writes PEM files for TLS tests.
type certs struct {
	dir        string
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	caFile     string
	serverCert string
	serverKey  string
	pool       *x509.CertPool
}

// newCerts makes a self-signed CA and a server certificate for 127.0.0.1
// signed by it.
func newCerts(t *testing.T) *certs {
	t.Helper()
	c := &certs{dir: t.TempDir(), pool: x509.NewCertPool()}
	var caPEM []byte
	c.ca, c.caKey, caPEM, _ = makeCert(t, "vigil test CA", nil, nil, 0)
	c.caFile = c.writeFile(t, "ca.pem", caPEM)
	c.pool.AddCert(c.ca)
	_, _, certPEM, keyPEM := makeCert(t, "collector", c.ca, c.caKey, x509.ExtKeyUsageServerAuth)
	c.serverCert = c.writeFile(t, "server.pem", certPEM)
	c.serverKey = c.writeFile(t, "server.key", keyPEM)
	return c
}

func (c *certs) writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// client returns a client certificate signed by the CA.
func (c *certs) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	_, _, certPEM, keyPEM := makeCert(t, cn, c.ca, c.caKey, x509.ExtKeyUsageClientAuth)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// makeCert makes a certificate for cn, self-signed as a CA when parent is
// nil, with usage otherwise.
func makeCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func dialTLS(t *testing.T, addr net.Addr, conf *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: waitTimeout}, Config: conf}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*tls.Conn), nil
}

func TestServerTLS(t *testing.T) {
	cs := newCerts(t)
	rec := &recorder{}
	s, _ := startServer(t, syslog.Config{TLSListen: "127.0.0.1:0", TLSCertFile: cs.serverCert, TLSKeyFile: cs.serverKey}, rec)
	c, err := dialTLS(t, s.Addrs().TLS, &tls.Config{RootCAs: cs.pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, oc(jsonMsg)+oc("<13>two"))
	got := rec.wait(t, 2)
	if got[0].Transport != syslog.TransportTLS || string(got[0].Raw) != jsonMsg || got[0].ParseErr != nil || got[0].PeerCertificate != nil {
		t.Errorf("message 1: %+v", got[0])
	}
	if string(got[1].Raw) != "<13>two" {
		t.Errorf("message 2: %q", got[1].Raw)
	}
}

func TestServerMutualTLS(t *testing.T) {
	cs := newCerts(t)
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{TLSListen: "127.0.0.1:0", TLSCertFile: cs.serverCert, TLSKeyFile: cs.serverKey,
		TLSClientCA: cs.caFile}, rec)

	// Without a client certificate: refused.
	c, err := dialTLS(t, s.Addrs().TLS, &tls.Config{RootCAs: cs.pool, ServerName: "127.0.0.1"})
	if err == nil {
		// TLS 1.3 reports the server's refusal on the first read.
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("a client without a certificate got through")
	}
	waitFor(t, "a handshake error", func() bool {
		return metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "tls", "reason", "tls_handshake") == 1
	})

	// With one: accepted, and the handler sees who it is.
	c, err = dialTLS(t, s.Addrs().TLS, &tls.Config{RootCAs: cs.pool, ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{cs.client(t, "ehr-01")}})
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, "<13>hello\n")
	got := rec.wait(t, 1)
	if got[0].PeerCertificate == nil || got[0].PeerCertificate.Subject.CommonName != "ehr-01" {
		t.Errorf("PeerCertificate = %v", got[0].PeerCertificate)
	}
}

// TestServerBackPressure checks that a handler that blocks stops the
// server reading the connection, so the sender's writes block, and that
// everything arrives in order once it unblocks.
func TestServerBackPressure(t *testing.T) {
	rec := &recorder{block: make(chan struct{})}
	s, _ := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, rec)
	c := dial(t, "tcp", s.Addrs().TCP)
	_ = c.(*net.TCPConn).SetWriteBuffer(16 << 10)

	var written atomic.Int64 // messages fully written
	var stop atomic.Bool
	writerDone := make(chan error, 1)
	pad := strings.Repeat("p", 1000)
	go func() {
		for seq := 0; !stop.Load(); seq++ {
			if _, err := io.WriteString(c, oc(fmt.Sprintf("<14>1 - - - - - - %08d %s", seq, pad))); err != nil {
				writerDone <- err
				return
			}
			written.Store(int64(seq + 1))
		}
		writerDone <- nil
	}()

	waitFor(t, "the handler's first call", func() bool { return rec.calls.Load() == 1 })
	// The writer must stall: the server reads nothing while Handle blocks.
	deadline := time.Now().Add(waitTimeout)
	for last := int64(-1); ; {
		time.Sleep(300 * time.Millisecond)
		n := written.Load()
		if n == last {
			break
		}
		if time.Now().After(deadline) || n > 64<<10 {
			t.Fatalf("the sender's writes never blocked: %d messages written", n)
		}
		last = n
	}
	if n := rec.calls.Load(); n != 1 {
		t.Fatalf("the server handed over %d messages while the handler blocked, want 1", n)
	}
	t.Logf("the sender blocked after %d messages (%d KiB)", written.Load(), written.Load()*1030/1024)

	stop.Store(true)
	close(rec.block)
	select {
	case err := <-writerDone:
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the sender stayed blocked after the handler unblocked")
	}
	total := int(written.Load())
	got := rec.wait(t, total)
	for i, r := range got {
		if want := fmt.Sprintf("%08d", i); r.ParseErr != nil || !bytes.HasPrefix(r.Message.Msg, []byte(want)) {
			t.Fatalf("message %d: %q, %v; want sequence %s", i, r.Raw[:min(len(r.Raw), 40)], r.ParseErr, want)
		}
	}
}

func TestServerMaxConnections(t *testing.T) {
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0", MaxConnections: 1}, rec)
	c1 := dial(t, "tcp", s.Addrs().TCP)
	write(t, c1, "<13>one\n")
	rec.wait(t, 1)
	c2 := dial(t, "tcp", s.Addrs().TCP)
	waitClosed(t, c2)
	if n := metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "tcp", "reason", "connection_limit"); n != 1 {
		t.Errorf("connection_limit = %v, want 1", n)
	}
	_ = c1.Close()
	waitFor(t, "the first connection to close", func() bool { return metric(t, reg, "vigil_collector_syslog_connections") == 0 })
	c3 := dial(t, "tcp", s.Addrs().TCP)
	write(t, c3, "<13>three\n")
	rec.wait(t, 2)
}

func TestServerIdleTimeout(t *testing.T) {
	rec := &recorder{}
	s, reg := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0", IdleTimeout: 100 * time.Millisecond}, rec)
	c := dial(t, "tcp", s.Addrs().TCP)
	write(t, c, "<13>one\n")
	rec.wait(t, 1)
	waitClosed(t, c)
	if n := metric(t, reg, "vigil_collector_syslog_errors_total", "transport", "tcp", "reason", "read"); n != 0 {
		t.Errorf("an idle close counts as a read error: %v", n)
	}
}

func TestServerLifecycle(t *testing.T) {
	ctx := context.Background()
	newServer := func(t *testing.T, cfg syslog.Config) *syslog.Server {
		s, err := syslog.NewServer(cfg, &recorder{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("shutdown without start, twice, then start", func(t *testing.T) {
		s := newServer(t, syslog.Config{TCPListen: "127.0.0.1:0"})
		for range 2 {
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}
		if err := s.Start(ctx); !errors.Is(err, syslog.ErrServerClosed) {
			t.Fatalf("Start after Shutdown: %v, want ErrServerClosed", err)
		}
	})

	t.Run("start, one message, shutdown twice", func(t *testing.T) {
		rec := &recorder{}
		s, err := syslog.NewServer(syslog.Config{TCPListen: "127.0.0.1:0", UDPListen: "127.0.0.1:0"}, rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err == nil || err.Error() != "syslog: server already started" {
			t.Fatalf("second Start: %v", err)
		}
		c := dial(t, "tcp", s.Addrs().TCP)
		write(t, c, "<13>one\n")
		rec.wait(t, 1)
		for range 2 {
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}
		waitClosed(t, c)
		if _, err := net.Dial("tcp", s.Addrs().TCP.String()); err == nil {
			t.Error("the TCP listener is still open")
		}
	})

	t.Run("start with an address in use closes what it opened", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		free, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		udpAddr := free.LocalAddr().String()
		_ = free.Close()
		tcpFree, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcpAddr := tcpFree.Addr().String()
		_ = tcpFree.Close()

		cs := newCerts(t)
		s := newServer(t, syslog.Config{TCPListen: tcpAddr, UDPListen: udpAddr, TLSListen: taken.Addr().String(),
			TLSCertFile: cs.serverCert, TLSKeyFile: cs.serverKey})
		err = s.Start(ctx)
		if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("syslog.tls_listen %q: listen tcp", taken.Addr().String())) {
			t.Fatalf("Start: %v", err)
		}
		// The TCP listener opened before the failure is closed again.
		again, err := net.Listen("tcp", tcpAddr)
		if err != nil {
			t.Fatalf("the TCP address stayed taken: %v", err)
		}
		_ = again.Close()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no listeners", func(t *testing.T) {
		s := newServer(t, syslog.Config{})
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if a := s.Addrs(); a != (syslog.Addrs{}) {
			t.Errorf("Addrs = %+v", a)
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestServerShutdownWaitsForHandler checks that Shutdown lets a message in
// flight finish.
func TestServerShutdownWaitsForHandler(t *testing.T) {
	rec := &recorder{block: make(chan struct{})}
	s, err := syslog.NewServer(syslog.Config{TCPListen: "127.0.0.1:0", UDPListen: "127.0.0.1:0"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := dial(t, "tcp", s.Addrs().TCP)
	write(t, c, "<13>in flight\n")
	waitFor(t, "the handler's call", func() bool { return rec.calls.Load() == 1 })

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a handler was busy", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(rec.block)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := rec.received(); len(got) != 1 || string(got[0].Raw) != "<13>in flight" {
		t.Fatalf("received %v", got)
	}
}

// TestServerShutdownDeadline checks that Shutdown gives up at its
// deadline and cancels the handlers' context.
func TestServerShutdownDeadline(t *testing.T) {
	rec := &recorder{block: make(chan struct{})} // never closed
	s, err := syslog.NewServer(syslog.Config{TCPListen: "127.0.0.1:0"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := dial(t, "tcp", s.Addrs().TCP)
	write(t, c, "<13>stuck\n")
	waitFor(t, "the handler's call", func() bool { return rec.calls.Load() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "syslog: shutdown: gave up waiting for message handlers: context deadline exceeded" {
		t.Fatalf("Shutdown: %v", err)
	}
	waitFor(t, "the handler to see the cancellation", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.ctxErrs) == 1 && rec.ctxErrs[0] == context.Canceled
	})
	// A second Shutdown waits for the goroutines that are now ending.
	ctx2, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel2()
	if err := s.Shutdown(ctx2); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestNewServerErrors(t *testing.T) {
	cs := newCerts(t)
	notPEM := cs.writeFile(t, "not.pem", []byte("hello"))
	for _, c := range []struct {
		name string
		cfg  syslog.Config
		want string
	}{
		{"invalid config", syslog.Config{TCPListen: "nope"}, `syslog.tcp_listen: "nope" is not host:port`},
		{"missing certificate", syslog.Config{TLSListen: "127.0.0.1:0", TLSCertFile: filepath.Join(cs.dir, "missing.pem"), TLSKeyFile: cs.serverKey},
			"syslog.tls_cert_file, syslog.tls_key_file: open " + filepath.Join(cs.dir, "missing.pem") + ": no such file or directory"},
		{"client CA without certificates", syslog.Config{TLSListen: "127.0.0.1:0", TLSCertFile: cs.serverCert, TLSKeyFile: cs.serverKey, TLSClientCA: notPEM},
			"syslog.tls_client_ca: " + notPEM + " holds no PEM certificate"},
		{"missing client CA", syslog.Config{TLSListen: "127.0.0.1:0", TLSCertFile: cs.serverCert, TLSKeyFile: cs.serverKey, TLSClientCA: notPEM + ".x"},
			"syslog.tls_client_ca: open " + notPEM + ".x: no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := syslog.NewServer(c.cfg, &recorder{})
			if err == nil || err.Error() != c.want {
				t.Errorf("NewServer error\n got %v\nwant %s", err, c.want)
			}
		})
	}
	if _, err := syslog.NewServer(syslog.Config{}, nil); err == nil {
		t.Error("NewServer accepted a nil handler")
	}
	reg := prometheus.NewRegistry()
	if _, err := syslog.NewServer(syslog.Config{}, &recorder{}, syslog.WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	if _, err := syslog.NewServer(syslog.Config{}, &recorder{}, syslog.WithRegisterer(reg)); err == nil ||
		!strings.HasPrefix(err.Error(), "syslog: registering metrics: ") {
		t.Errorf("second registration: %v", err)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := syslog.NewServer(syslog.Config{}, &recorder{}, syslog.WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	want := []string{"vigil_collector_syslog_connections", "vigil_collector_syslog_errors_total",
		"vigil_collector_syslog_messages_total", "vigil_collector_syslog_udp_dropped_total"}
	if n, err := testutil.GatherAndCount(reg, want...); err != nil || n != 1+3*9+3*3+1 {
		t.Errorf("GatherAndCount = %d, %v; want every series created up front", n, err)
	}
}

func TestConfigValidate(t *testing.T) {
	cs := "cert.pem"
	for _, c := range []struct {
		name string
		cfg  syslog.Config
		want []string
	}{
		{"zero", syslog.Config{}, nil},
		{"all listeners", syslog.Config{TCPListen: ":6514", UDPListen: ":514", TLSListen: "0.0.0.0:6515", TLSCertFile: cs, TLSKeyFile: "key.pem",
			TLSClientCA: "ca.pem", MaxMessageBytes: 480, MaxConnections: 10, IdleTimeout: time.Minute, RFC3164TimeZone: "Asia/Shanghai"}, nil},
		{"same TCP port on both TCP listeners", syslog.Config{TCPListen: ":514", TLSListen: ":514", TLSCertFile: cs, TLSKeyFile: cs},
			[]string{`syslog.tls_listen: ":514" is also syslog.tcp_listen`}},
		{"port 0 twice is fine", syslog.Config{TCPListen: "127.0.0.1:0", TLSListen: "127.0.0.1:0", TLSCertFile: cs, TLSKeyFile: cs}, nil},
		{"bad addresses", syslog.Config{TCPListen: "localhost", UDPListen: "[::1]:x", TLSListen: ":70000", TLSCertFile: cs, TLSKeyFile: cs},
			[]string{`syslog.tcp_listen: "localhost" is not host:port`, `syslog.udp_listen: "[::1]:x" has no port number 0-65535`,
				`syslog.tls_listen: ":70000" has no port number 0-65535`}},
		{"TLS without files", syslog.Config{TLSListen: ":6514"},
			[]string{"syslog.tls_cert_file: required with syslog.tls_listen", "syslog.tls_key_file: required with syslog.tls_listen"}},
		{"TLS files without TLS", syslog.Config{TLSCertFile: cs, TLSKeyFile: cs, TLSClientCA: cs},
			[]string{"syslog.tls_cert_file: only used with syslog.tls_listen, which is empty",
				"syslog.tls_key_file: only used with syslog.tls_listen, which is empty",
				"syslog.tls_client_ca: only used with syslog.tls_listen, which is empty"}},
		{"negative numbers", syslog.Config{MaxMessageBytes: -1, MaxConnections: -1, IdleTimeout: -time.Second},
			[]string{"syslog.max_message_bytes: -1 is negative (0 means 65536)", "syslog.max_connections: -1 is negative (0 means 1024)",
				"syslog.idle_timeout: -1s is negative (0 means no idle timeout)"}},
		{"message size too small", syslog.Config{MaxMessageBytes: 479},
			[]string{"syslog.max_message_bytes: 479 is less than 480, which RFC 5424 requires every receiver to accept"}},
		{"message size too large", syslog.Config{MaxMessageBytes: 16<<20 + 1},
			[]string{"syslog.max_message_bytes: 16777217 is more than 16777216"}},
		{"unknown time zone", syslog.Config{RFC3164TimeZone: "Mars/Olympus"},
			[]string{`syslog.rfc3164_time_zone: "Mars/Olympus" is not a known time zone`}},
		{"mapping", syslog.Config{Mapping: syslog.MappingOptions{SDID: "x@", Kind: "alert"}},
			[]string{`syslog.mapping.sd_id: "x@": want name@<private enterprise number>`, `syslog.mapping.kind: "alert" is not one of access|device`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("Validate\n got %q\nwant %q", got, c.want)
			}
		})
	}
	if (syslog.Config{}).Enabled() || !(syslog.Config{UDPListen: ":514"}).Enabled() {
		t.Error("Enabled is wrong")
	}
}
