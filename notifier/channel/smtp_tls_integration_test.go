//go:build integration

package channel

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
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
	"github.com/vigil-audit/vigil/notifier/directory"
)

// TestSMTPTLSMailpit sends through Mailpit servers of its own that demand
// encryption and SMTP AUTH: one requiring STARTTLS, one speaking implicit
// TLS, both with a certificate for 127.0.0.1 from a CA only this test
// trusts and a password file. With the CA and the right password the
// notice arrives (read back through the API); with the wrong password, or
// without trusting the CA, Send fails and nothing arrives.
func TestSMTPTLSMailpit(t *testing.T) {
	bin := testenv.MailpitBinary(t)
	dir := t.TempDir()
	pool := writeCert(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "auth"), []byte("vigil:s3cret-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mode, flag string }{
		{ModeSTARTTLS, "--smtp-require-starttls"},
		{ModeTLS, "--smtp-require-tls"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			smtpPort, api := startMailpit(t, bin, dir, tc.flag)
			run := strconv.FormatInt(time.Now().UnixNano(), 36)
			send := func(password string, roots *x509.CertPool, to string) error {
				s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: smtpPort, Mode: tc.mode, Auth: "PLAIN", Username: "vigil",
					Password: password, From: mail.Address{Name: "Vigil", Address: "notices@tls-test.example"},
					TLS: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err = s.Send(ctx, Message{NoticeID: event.NoticeID("tls-"+run, to, "gdpr.individual"), Channel: event.ChannelEmail,
					Language: "en", To: directory.Contact{Name: "Ann", Email: to}, Subject: "Notice", Text: "Dear Ann,\n"})
				return err
			}
			ok, badPass, untrusted := "ok-"+run+"@example.org", "badpass-"+run+"@example.org", "untrusted-"+run+"@example.org"
			if err := send("s3cret-pass", pool, ok); err != nil {
				t.Fatalf("send with the CA and the password: %v", err)
			}
			if err := send("wrong", pool, badPass); err == nil || !strings.Contains(err.Error(), "535") {
				t.Errorf("send with a wrong password: %v, want the server's 535", err)
			}
			var unknownCA x509.UnknownAuthorityError
			if err := send("s3cret-pass", x509.NewCertPool(), untrusted); !errors.As(err, &unknownCA) {
				t.Errorf("send to a server with an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
			}
			var list struct{ Messages []mpMessage }
			for i := 0; i < 50; i++ {
				mpGet(t, api, "/api/v1/search?query="+url.QueryEscape("to:"+ok), &list)
				if len(list.Messages) > 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(list.Messages) != 1 {
				t.Fatalf("%d messages to %s, want 1", len(list.Messages), ok)
			}
			for _, to := range []string{badPass, untrusted} {
				mpGet(t, api, "/api/v1/search?query="+url.QueryEscape("to:"+to), &list)
				if len(list.Messages) != 0 {
					t.Errorf("a message to %s arrived", to)
				}
			}
		})
	}
}

// startMailpit runs mailpit with the certificate and password file in dir
// and the given TLS flag; it returns the SMTP port and the API base URL.
func startMailpit(t *testing.T, bin, dir, tlsFlag string) (int, string) {
	t.Helper()
	smtpPort, httpPort := freePort(t), freePort(t)
	api := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	cmd := exec.Command(bin, "--smtp", "127.0.0.1:"+strconv.Itoa(smtpPort), "--listen", "127.0.0.1:"+strconv.Itoa(httpPort),
		"--database", filepath.Join(t.TempDir(), "mailpit.db"), "--smtp-tls-cert", filepath.Join(dir, "cert.pem"),
		"--smtp-tls-key", filepath.Join(dir, "key.pem"), "--smtp-auth-file", filepath.Join(dir, "auth"), tlsFlag)
	logf, err := os.Create(filepath.Join(t.TempDir(), "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if getOK(api + "/api/v1/info") {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(smtpPort), time.Second); err == nil {
				c.Close()
				return smtpPort, api
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("mailpit did not start within 20 s:\n%s", b)
		}
	}
}

// getOK reports whether GET u answers 200.
func getOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCert writes a CA-signed certificate for 127.0.0.1 (cert.pem,
// key.pem) into dir and returns a pool holding the CA.
func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"cert.pem": {Type: "CERTIFICATE", Bytes: der}, "key.pem": {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool
}
