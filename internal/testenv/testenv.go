// Package testenv tells integration tests where the real services started by
// scripts/services.sh listen, and skips a test with a clear message when a
// service is not configured.
//
// The addresses come from environment variables that scripts/integration.sh
// exports (see scripts/services.sh env):
//
//	VIGIL_TEST_KAFKA            host:port of the Kafka 4.x PLAINTEXT listener
//	VIGIL_TEST_KAFKA_SASL       host:port of the Kafka SASL_PLAINTEXT (SCRAM) listener
//	VIGIL_TEST_KAFKA_SASL_USER  SCRAM user name on that listener
//	VIGIL_TEST_KAFKA_SASL_PASS  SCRAM password of that user
//	VIGIL_TEST_KAFKA_SASL_MECH  SCRAM-SHA-256 or SCRAM-SHA-512
//	VIGIL_TEST_CLICKHOUSE       host:port of ClickHouse's native protocol
//	VIGIL_TEST_PROMETHEUS       base URL of Prometheus (http://127.0.0.1:9090)
//	VIGIL_TEST_PROMTOOL         path of the promtool binary
//	VIGIL_TEST_SMTP             host:port of Mailpit's SMTP server
//	VIGIL_TEST_MAILPIT_API      base URL of Mailpit's HTTP API
//	VIGIL_TEST_MAILPIT_BIN      path of the mailpit binary (tests start their own, e.g. with TLS)
//	VIGIL_TEST_KCAT             path of the kcat binary
//	VIGIL_TEST_RSYSLOGD         path of the rsyslogd binary
//	VIGIL_TEST_CHROMIUM         path of the Chromium binary
//
// Tests that need a service are built with the "integration" tag and call the
// matching function first; `go test ./...` without the tag never reaches them.
package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// SASL holds what a client needs to reach the SCRAM-authenticated listener.
type SASL struct {
	Addr      string
	User      string
	Pass      string
	Mechanism string // SCRAM-SHA-256 or SCRAM-SHA-512
}

// Lookup returns the value of an environment variable or skips t, naming the
// variable and how to set it.
func Lookup(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set: start the real services with scripts/integration.sh (or `eval \"$(scripts/services.sh env)\"` after `scripts/services.sh up`)", name)
	}
	return v
}

// Kafka returns the PLAINTEXT bootstrap address of the real Kafka broker.
func Kafka(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_KAFKA") }

// KafkaSASL returns the SCRAM listener and its credentials.
func KafkaSASL(t testing.TB) SASL {
	t.Helper()
	s := SASL{
		Addr:      Lookup(t, "VIGIL_TEST_KAFKA_SASL"),
		User:      Lookup(t, "VIGIL_TEST_KAFKA_SASL_USER"),
		Pass:      Lookup(t, "VIGIL_TEST_KAFKA_SASL_PASS"),
		Mechanism: os.Getenv("VIGIL_TEST_KAFKA_SASL_MECH"),
	}
	if s.Mechanism == "" {
		s.Mechanism = "SCRAM-SHA-512"
	}
	return s
}

// ClickHouse returns the native-protocol address of the real ClickHouse server.
func ClickHouse(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_CLICKHOUSE") }

// Prometheus returns the base URL of the real Prometheus server.
func Prometheus(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_PROMETHEUS") }

// Promtool returns the path of promtool.
func Promtool(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_PROMTOOL") }

// SMTP returns the address of the Mailpit SMTP server.
func SMTP(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_SMTP") }

// MailpitAPI returns the base URL of Mailpit's HTTP API.
func MailpitAPI(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_MAILPIT_API") }

// MailpitBinary returns the path of the mailpit binary, for tests that
// run their own Mailpit (with STARTTLS or implicit TLS and SMTP AUTH).
func MailpitBinary(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_MAILPIT_BIN") }

// Kcat returns the path of the kcat binary.
func Kcat(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_KCAT") }

// Rsyslogd returns the path of the rsyslogd binary.
func Rsyslogd(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_RSYSLOGD") }

// Chromium returns the path of the Chromium binary.
func Chromium(t testing.TB) string { t.Helper(); return Lookup(t, "VIGIL_TEST_CHROMIUM") }

// Golden compares got with the golden file at path, or (update true, from
// the package's -update flag) writes got there first. A mismatch fails t
// with both texts.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run the test with -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
