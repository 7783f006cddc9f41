package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// startKfake starts a one-node kfake cluster with extra options (SASL,
// TLS), closed when t ends, and returns its address.
func startKfake(t testing.TB, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestSCRAMEmbedded(t *testing.T) {
	t.Parallel()
	addr := startKfake(t,
		kfake.EnableSASL(),
		kfake.Superuser(MechanismScramSHA256, "vigil256", "secret-256"),
		kfake.Superuser(MechanismScramSHA512, "vigil512", "secret-512"),
	)
	for _, tc := range []struct{ mech, user, pass string }{
		{MechanismScramSHA256, "vigil256", "secret-256"},
		{MechanismScramSHA512, "vigil512", "secret-512"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			cfg := Defaults()
			cfg.Brokers = []string{addr}
			cfg.SASL = SASL{Mechanism: tc.mech, Username: tc.user, Password: Secret(tc.pass)}
			testProduceConsume(t, cfg)
		})
	}

	t.Run("password_file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "kafka-password")
		if err := os.WriteFile(file, []byte("secret-512\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := Defaults()
		cfg.Brokers = []string{addr}
		cfg.SASL = SASL{Mechanism: MechanismScramSHA512, Username: "vigil512", PasswordFile: file}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := Ping(ctx, cfg); err != nil {
			t.Fatalf("Ping with password_file: %v", err)
		}
		cfg.SASL.PasswordFile = filepath.Join(t.TempDir(), "missing")
		mustContain(t, Ping(ctx, cfg), "bus.sasl.password_file: read:", "no such file")
	})

	t.Run("wrong password", func(t *testing.T) {
		cfg := Defaults()
		cfg.Brokers = []string{addr}
		cfg.SASL = SASL{Mechanism: MechanismScramSHA512, Username: "vigil512", Password: "not-the-password"}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// kfake drops the connection on bad credentials instead of
		// answering SASL_AUTHENTICATION_FAILED as Kafka does, so only the
		// failure (not its wording) is checked here; integration_test.go
		// checks the wording against the real broker.
		err := Ping(ctx, cfg)
		mustContain(t, err, "ping kafka brokers "+addr, `check the credentials of bus.sasl.username "vigil512"`)
		if strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("the error shows the password: %v", err)
		}
		if ctx.Err() != nil {
			t.Errorf("Ping took until the deadline: %v", err)
		}
		t.Logf("kfake, wrong password: %v", err)
	})
}

// TestPlainTLSEmbedded covers PLAIN (only accepted with TLS), TLS with a
// private CA, and a broker certificate the client does not trust.
func TestPlainTLSEmbedded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverTLS, caFile := testCertificates(t, dir)
	addr := startKfake(t,
		kfake.TLS(serverTLS),
		kfake.EnableSASL(),
		kfake.Superuser(MechanismPlain, "vigil", "plain-secret"),
	)
	cfg := Defaults()
	cfg.Brokers = []string{addr}
	cfg.TLS = TLS{Enabled: true, CAFile: caFile}
	cfg.SASL = SASL{Mechanism: MechanismPlain, Username: "vigil", Password: "plain-secret"}
	testProduceConsume(t, cfg)

	t.Run("untrusted certificate", func(t *testing.T) {
		bad := cfg
		bad.TLS.CAFile = ""
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mustContain(t, Ping(ctx, bad), "ping kafka brokers "+addr, "certificate")
	})
	t.Run("bad CA file", func(t *testing.T) {
		bad := cfg
		bad.TLS.CAFile = filepath.Join(dir, "not-pem")
		if err := os.WriteFile(bad.TLS.CAFile, []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := NewWriter(bad, "t")
		mustContain(t, err, "new writer for t: bus.tls.ca_file:", "holds no PEM certificate")
		_, err = NewGroupReader(bad, "g", "t")
		mustContain(t, err, "new reader of t in group g: bus.tls.ca_file:")
	})
}

// testCertificates writes a CA certificate to dir and returns a server TLS
// configuration for 127.0.0.1 signed by it, and the CA file's path.
func testCertificates(t testing.TB, dir string) (*tls.Config, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
	}, caFile
}

// TestWriterErrorsAreTyped: a failed write keeps kafka-go's error types
// reachable through the wrapping.
func TestWriterErrorsAreTyped(t *testing.T) {
	e := startEmbedded(t, EmbeddedConfig{Topics: []TopicSpec{{Name: TopicDeadLetter, Partitions: 1}}})
	cfg := e.Config()
	cfg.Writer.BatchBytes = 100
	w, err := NewWriter(cfg, TopicDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = w.WriteMessages(ctx, kafka.Message{Value: make([]byte, 200)})
	var tooLarge kafka.MessageTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("error %v is not a kafka.MessageTooLargeError", err)
	}
	mustContain(t, err, "write 1 records to "+TopicDeadLetter+" on "+e.Addr())
}
