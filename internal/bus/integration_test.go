//go:build integration

package bus

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-audit/vigil/internal/testenv"
)

// These tests run against the real Kafka 4.x broker that
// scripts/services.sh starts; see internal/testenv for the variables.

func plaintextConfig(t testing.TB) Config {
	t.Helper()
	c := Defaults()
	c.Brokers = []string{testenv.Kafka(t)}
	return c
}

func scramConfig(t testing.TB) Config {
	t.Helper()
	s := testenv.KafkaSASL(t)
	c := Defaults()
	c.Brokers = []string{s.Addr}
	c.SASL = SASL{Mechanism: s.Mechanism, Username: s.User, Password: Secret(s.Pass)}
	return c
}

func TestKafkaPlaintext(t *testing.T) {
	cfg := plaintextConfig(t)
	ping(t, cfg)
	testProduceConsume(t, cfg)
}

func TestKafkaSCRAM(t *testing.T) {
	cfg := scramConfig(t)
	ping(t, cfg)
	testProduceConsume(t, cfg)
}

func ping(t testing.TB, cfg Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := Ping(ctx, cfg); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	t.Logf("ping %v", time.Since(start).Round(time.Millisecond))
}

// TestKafkaSCRAMWrongPassword: every entry point fails, fast, with an error
// that says authentication failed and does not show the password.
func TestKafkaSCRAMWrongPassword(t *testing.T) {
	cfg := scramConfig(t)
	cfg.SASL.Password = "wrong-password-123"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	check := func(what string, err error) {
		t.Helper()
		t.Logf("%s: %v", what, err)
		mustContain(t, err, "SASL Authentication Failed")
		if strings.Contains(err.Error(), "wrong-password-123") {
			t.Errorf("%s: the error shows the password", what)
		}
	}
	start := time.Now()
	check("Ping", Ping(ctx, cfg))
	check("EnsureTopics", EnsureTopics(ctx, cfg, TopicSpec{Name: uniqueName(t, "vigil.test"), Partitions: 1}))

	w, err := NewWriter(cfg, TopicAccess)
	if err != nil {
		t.Fatal(err)
	}
	err = w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
	if cerr := w.Close(); cerr != nil {
		t.Error(cerr)
	}
	check("WriteMessages", err)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to report bad credentials", d)
	}

	// A reader reports it from FetchMessage (and logs it).
	var logs bytes.Buffer
	r, err := NewGroupReader(cfg, uniqueName(t, "g"), TopicAccess, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.FetchMessage(ctx)
	if cerr := r.Close(); cerr != nil {
		t.Error(cerr)
	}
	check("FetchMessage", err)
	if !strings.Contains(logs.String(), "SASL Authentication Failed") {
		t.Errorf("the reader did not log the authentication failure")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v to report bad credentials", d)
	}
}

// TestKafkaSCRAMOnPlaintextListener: SASL settings aimed at a listener
// without SASL fail clearly instead of hanging.
func TestKafkaSCRAMOnPlaintextListener(t *testing.T) {
	cfg := scramConfig(t)
	cfg.Brokers = plaintextConfig(t).Brokers
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Ping(ctx, cfg)
	t.Logf("Ping: %v", err)
	// Kafka answers the SASL handshake on a PLAINTEXT listener with
	// ILLEGAL_SASL_STATE.
	mustContain(t, err, "ping kafka brokers "+cfg.Brokers[0], "Illegal SASL State")
	if ctx.Err() != nil {
		t.Errorf("Ping took until the deadline")
	}
}

func TestKcatPlaintext(t *testing.T) {
	cfg := plaintextConfig(t)
	testKcat(t, cfg, nil)
}

// TestKcatSCRAM needs a kcat whose librdkafka is 2.6.1 or newer: Debian 12's
// 2.0.2 fails SCRAM against Kafka 4 with "invalid credentials" (use the
// wrapper scripts/services.sh builds, which `services.sh env` exports).
func TestKcatSCRAM(t *testing.T) {
	cfg := scramConfig(t)
	// The password goes to kcat in a file (-F), not on its command line.
	props := fmt.Sprintf("security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=%s\nsasl.username=%s\nsasl.password=%s\n",
		cfg.SASL.Mechanism, cfg.SASL.Username, string(cfg.SASL.Password))
	file := filepath.Join(t.TempDir(), "kcat.conf")
	if err := os.WriteFile(file, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	testKcat(t, cfg, []string{"-F", file})
}

// testKcat checks both directions against kcat (librdkafka), a client
// written by other people: what our writer produces kcat reads back with
// keys, and what kcat produces (with librdkafka's murmur2_random
// partitioner, the Java client's) our reader consumes, every key on the
// partition our writer would have chosen.
func testKcat(t *testing.T, cfg Config, kcatArgs []string) {
	kcat := testenv.Kcat(t)
	const n, partitions = 300, 3
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	broker := cfg.Brokers[0]
	lap := stopwatch(t)
	partitioner := kgo.StickyKeyPartitioner(nil)

	// Ours → kcat.
	topic := uniqueName(t, "vigil.test")
	if err := EnsureTopics(ctx, cfg, TopicSpec{Name: topic, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	msgs := keyedMessages(n)
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lap("produce 300 with our writer")
	args := append([]string{"-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-f", `%k\t%s\t%p\n`}, kcatArgs...)
	out := runKcat(ctx, t, kcat, args, nil)
	lap("consume with kcat")
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	got := map[string]string{}
	for _, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("kcat printed %q", line)
		}
		p, _ := strconv.Atoi(f[2])
		if want := partitioner.ForTopic(topic).Partition(&kgo.Record{Key: []byte(f[0])}, partitions); p != want {
			t.Errorf("kcat saw key %s on partition %d, murmur2 says %d", f[0], p, want)
		}
		got[f[1]] = f[0]
	}
	if len(lines) != n || len(got) != n {
		t.Errorf("kcat read %d records (%d distinct), want %d", len(lines), len(got), n)
	}
	for _, m := range msgs {
		if got[string(m.Value)] != string(m.Key) {
			t.Errorf("kcat: value %q has key %q, want %q", m.Value, got[string(m.Value)], m.Key)
		}
	}

	// kcat → ours.
	topic2 := uniqueName(t, "vigil.test")
	if err := EnsureTopics(ctx, cfg, TopicSpec{Name: topic2, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, m := range msgs {
		fmt.Fprintf(&in, "%s:%s\n", m.Key, m.Value)
	}
	args = append([]string{"-P", "-b", broker, "-t", topic2, "-K:", "-X", "partitioner=murmur2_random", "-X", "acks=all"}, kcatArgs...)
	runKcat(ctx, t, kcat, args, &in)
	lap("produce 300 with kcat")
	r, err := NewGroupReader(cfg, uniqueName(t, "g"), topic2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fetched := fetchN(ctx, t, r, n)
	lap("consume with our reader")
	recs := make([]record, len(fetched))
	gotValues := map[string]string{}
	for i, m := range fetched {
		recs[i] = recordOf(m)
		gotValues[string(m.Value)] = string(m.Key)
		if want := partitioner.ForTopic(topic2).Partition(&kgo.Record{Key: m.Key}, partitions); m.Partition != want {
			t.Errorf("kcat put key %s on partition %d, our writer would use %d", m.Key, m.Partition, want)
		}
	}
	checkOrder(t, recs)
	for _, m := range msgs {
		if gotValues[string(m.Value)] != string(m.Key) {
			t.Errorf("reader: value %q has key %q, want %q", m.Value, gotValues[string(m.Value)], m.Key)
		}
	}
	expectNoMore(ctx, t, r, 500*time.Millisecond)
	if err := r.CommitMessages(ctx, fetched...); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func runKcat(ctx context.Context, t testing.TB, kcat string, args []string, stdin *bytes.Buffer) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, kcat, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", args[0], err, stderr.String())
	}
	return out
}

// TestKafkaTopicConfigs: the topics holding state (the detector's
// snapshots, the notifier's incidents and notice ledger) are created
// compacted on the real broker, the event topics with its defaults.
func TestKafkaTopicConfigs(t *testing.T) {
	cfg := plaintextConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	suffix := fmt.Sprintf(".cfg%d", time.Now().UnixNano())
	want := map[string]string{}
	var specs []TopicSpec
	for _, s := range Topics() {
		s.Name += suffix
		want[s.Name] = "delete"
		if s.Configs["cleanup.policy"] != "" {
			want[s.Name] = s.Configs["cleanup.policy"]
		}
		specs = append(specs, s)
	}
	for _, name := range []string{TopicDetectorState, TopicIncidents, TopicNotices} {
		if want[name+suffix] != "compact" {
			t.Errorf("%s is not declared compacted", name)
		}
	}
	if err := EnsureTopics(ctx, cfg, specs...); err != nil {
		t.Fatal(err)
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 30 * time.Second, Transport: tr}
	for name, policy := range want {
		resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
			{ResourceType: kafka.ResourceTypeTopic, ResourceName: name, ConfigNames: []string{"cleanup.policy"}}}})
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		got := ""
		for _, r := range resp.Resources {
			if r.Error != nil {
				t.Fatalf("describe %s: %v", name, r.Error)
			}
			for _, e := range r.ConfigEntries {
				if e.ConfigName == "cleanup.policy" {
					got = e.ConfigValue
				}
			}
		}
		if got != policy {
			t.Errorf("%s: cleanup.policy %q, want %q", name, got, policy)
		}
	}
}
