//go:build integration

package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestTailRealKafka produces to the real Kafka 4.x broker and reads the
// records back with `vigil tail`, over PLAINTEXT with --brokers and over
// SASL/SCRAM configured only through VIGIL_ environment variables.
func TestTailRealKafka(t *testing.T) {
	plain := testenv.Kafka(t)
	sasl := testenv.KafkaSASL(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := bus.Defaults()
	cfg.Brokers = []string{plain}
	topic := fmt.Sprintf("vigil.test.tail.%d", time.Now().UnixNano())
	if err := bus.EnsureTopics(ctx, cfg, bus.TopicSpec{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	want := map[string]bool{}
	for i := range 30 {
		v := fmt.Sprintf(`{"event_id":"e-%02d","n":%d}`, i, i)
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("actor-%d", i%7)), Value: []byte(v)})
		want[v] = true
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(name string, env []string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, env, append(args, "--from", "first", "--max", "30", "--idle", "20s", topic)...)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		got := map[string]bool{}
		for _, l := range lines {
			got[l] = true
		}
		if len(lines) != 30 || len(got) != 30 {
			t.Fatalf("%s: %d lines (%d distinct), want 30:\n%s", name, len(lines), len(got), out)
		}
		for v := range want {
			if !got[v] {
				t.Errorf("%s: missing %s", name, v)
			}
		}
	}
	check("plaintext", nil, "tail", "--brokers", plain)
	check("sasl", []string{
		"VIGIL_BUS_BROKERS=" + sasl.Addr,
		"VIGIL_BUS_SASL_MECHANISM=" + sasl.Mechanism,
		"VIGIL_BUS_SASL_USERNAME=" + sasl.User,
		"VIGIL_BUS_SASL_PASSWORD=" + sasl.Pass,
	}, "tail")

	code, _, errOut := run(t, []string{
		"VIGIL_BUS_BROKERS=" + sasl.Addr,
		"VIGIL_BUS_SASL_MECHANISM=" + sasl.Mechanism,
		"VIGIL_BUS_SASL_USERNAME=" + sasl.User,
		"VIGIL_BUS_SASL_PASSWORD=wrong-" + sasl.Pass,
	}, "tail", "--from", "first", "--max", "1", topic)
	if code != ExitFailure || strings.Contains(errOut, "wrong-"+sasl.Pass) {
		t.Errorf("wrong password: exit %d, stderr %q (must fail and never echo the password)", code, errOut)
	}
	t.Logf("wrong password: %s", strings.TrimSpace(errOut))
}
