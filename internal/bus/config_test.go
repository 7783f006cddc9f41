package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigValidate(t *testing.T) {
	base := func() Config { return Config{Brokers: []string{"127.0.0.1:9092"}} }
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string // exact messages, in order; none means valid
	}{
		{name: "minimal", mutate: func(*Config) {}},
		{name: "defaults plus brokers", mutate: func(c *Config) { b := c.Brokers; *c = Defaults(); c.Brokers = b }},
		{name: "full", mutate: func(c *Config) {
			c.Brokers = []string{"kafka-1.internal:9093", "[::1]:9093"}
			c.ClientID = "vigil-collector"
			c.SASL = SASL{Mechanism: MechanismScramSHA512, Username: "vigil", PasswordFile: "/run/secrets/kafka"}
			c.TLS = TLS{Enabled: true, CAFile: "/etc/vigil/ca.pem"}
			c.Partitions = map[string]int{TopicAccess: 24, TopicDevice: 1}
			c.ReplicationFactor = 3
			c.Writer = WriterConfig{BatchSize: 5000, BatchBytes: 4 << 20, BatchTimeout: 5 * time.Millisecond, Compression: CompressionZstd}
			c.Reader = ReaderConfig{CommitInterval: 5 * time.Second, MinBytes: 1024, MaxBytes: 8 << 20, MaxWait: time.Second,
				StartOffset: StartLast, SessionTimeout: 45 * time.Second, HeartbeatInterval: 5 * time.Second, RebalanceTimeout: time.Minute}
		}},
		{name: "password from the environment", mutate: func(c *Config) {
			c.SASL = SASL{Mechanism: MechanismScramSHA256, Username: "vigil", Password: "from-env"}
		}},
		{name: "PLAIN with TLS", mutate: func(c *Config) {
			c.SASL = SASL{Mechanism: MechanismPlain, Username: "vigil", Password: "x"}
			c.TLS.Enabled = true
		}},
		{name: "no brokers", mutate: func(c *Config) { c.Brokers = nil },
			want: []string{"bus.brokers: required"}},
		{name: "bad brokers", mutate: func(c *Config) { c.Brokers = []string{"127.0.0.1:9092", "x", ":9092", "h:0", "h:99999", "h:port"} },
			want: []string{
				`bus.brokers[1]: "x" is not host:port`,
				`bus.brokers[2]: ":9092" is not host:port`,
				`bus.brokers[3]: "h:0" is not host:port`,
				`bus.brokers[4]: "h:99999" is not host:port`,
				`bus.brokers[5]: "h:port" is not host:port`,
			}},
		{name: "unknown mechanism", mutate: func(c *Config) {
			c.SASL = SASL{Mechanism: "SCRAM-SHA-1", Username: "u", Password: "p"}
		}, want: []string{`bus.sasl.mechanism: "SCRAM-SHA-1" is not one of SCRAM-SHA-256|SCRAM-SHA-512|PLAIN`}},
		{name: "mechanism without credentials", mutate: func(c *Config) { c.SASL.Mechanism = MechanismScramSHA512 },
			want: []string{
				"bus.sasl.username: required with mechanism SCRAM-SHA-512",
				"bus.sasl.password_file: required with mechanism SCRAM-SHA-512 (or pass the password through the environment)",
			}},
		{name: "credentials without mechanism", mutate: func(c *Config) { c.SASL.Username = "vigil" },
			want: []string{"bus.sasl.mechanism: required when a username or password is set (one of SCRAM-SHA-256|SCRAM-SHA-512|PLAIN)"}},
		{name: "PLAIN without TLS", mutate: func(c *Config) {
			c.SASL = SASL{Mechanism: MechanismPlain, Username: "vigil", Password: "x"}
		}, want: []string{"bus.sasl.mechanism: PLAIN sends the password in clear text: enable bus.tls or use SCRAM-SHA-512"}},
		{name: "TLS settings while disabled", mutate: func(c *Config) { c.TLS.CAFile = "/ca.pem" },
			want: []string{"bus.tls.enabled: must be true when bus.tls.ca_file or bus.tls.insecure_skip_verify is set"}},
		{name: "partitions", mutate: func(c *Config) { c.Partitions = map[string]int{TopicAccess: 0, "vigil.acess.v1": 3} },
			want: []string{
				"bus.partitions[vigil.access.v1]: 0 is not a partition count (at least 1)",
				"bus.partitions[vigil.acess.v1]: unknown topic (one of vigil.access.v1, vigil.device.v1, vigil.deadletter.v1, vigil.alerts.v1, vigil.incidents.v1, vigil.notices.v1, vigil.detector-state.v1)",
			}},
		{name: "replication factor", mutate: func(c *Config) { c.ReplicationFactor = -1 },
			want: []string{"bus.replication_factor: -1 is negative (0 means the broker's default)"}},
		{name: "writer", mutate: func(c *Config) {
			c.Writer = WriterConfig{BatchSize: -1, BatchBytes: -2, BatchTimeout: -time.Second, Compression: "brotli"}
		}, want: []string{
			"bus.writer.batch_size: -1 is negative (0 means the default, 1000)",
			"bus.writer.batch_bytes: -2 is negative (0 means the default, 1048576)",
			"bus.writer.batch_timeout: -1s is negative (0 means the default, 1ms)",
			`bus.writer.compression: "brotli" is not one of none|gzip|snappy|lz4|zstd`,
		}},
		{name: "reader", mutate: func(c *Config) {
			c.Reader = ReaderConfig{CommitInterval: -1, MinBytes: -1, MaxBytes: -1, MaxWait: -1, StartOffset: "earliest",
				SessionTimeout: -1, HeartbeatInterval: -1, RebalanceTimeout: -1}
		}, want: []string{
			"bus.reader.commit_interval: -1ns is negative (0 means the default, 1s)",
			"bus.reader.min_bytes: -1 is negative (0 means the default, 1)",
			"bus.reader.max_bytes: -1 is negative (0 means the default, 4194304)",
			"bus.reader.max_wait: -1ns is negative (0 means the default, 500ms)",
			`bus.reader.start_offset: "earliest" is not one of first|last`,
			"bus.reader.session_timeout: -1ns is negative (0 means the default, 30s)",
			"bus.reader.heartbeat_interval: -1ns is negative (0 means the default, 3s)",
			"bus.reader.rebalance_timeout: -1ns is negative (0 means the default, 30s)",
		}},
		{name: "reader cross-field", mutate: func(c *Config) {
			c.Reader = ReaderConfig{MinBytes: 8 << 20, HeartbeatInterval: time.Minute}
		}, want: []string{
			"bus.reader.min_bytes: 8388608 is more than bus.reader.max_bytes (4194304)",
			"bus.reader.heartbeat_interval: 1m0s is not less than bus.reader.session_timeout (30s)",
		}},
		{name: "everything at once is reported", mutate: func(c *Config) {
			c.Brokers = nil
			c.SASL.Mechanism = "GSSAPI"
			c.Writer.Compression = "LZ4"
		}, want: []string{
			"bus.brokers: required",
			`bus.sasl.mechanism: "GSSAPI" is not one of SCRAM-SHA-256|SCRAM-SHA-512|PLAIN`,
			"bus.sasl.username: required with mechanism GSSAPI",
			"bus.sasl.password_file: required with mechanism GSSAPI (or pass the password through the environment)",
			`bus.writer.compression: "LZ4" is not one of none|gzip|snappy|lz4|zstd`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			err := c.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Validate() =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	if d.Writer.BatchTimeout != time.Millisecond || d.Reader.CommitInterval != time.Second {
		t.Errorf("defaults changed: batch_timeout %v, commit_interval %v", d.Writer.BatchTimeout, d.Reader.CommitInterval)
	}
	// A zero config gets exactly the defaults.
	if got, want := (Config{}).withDefaults(), d; got.String() != want.String() {
		t.Errorf("zero config with defaults:\n%s\nwant\n%s", got, want)
	}
	// Every topic in Topics has a name, partitions and a key.
	for _, spec := range Topics() {
		if !strings.HasPrefix(spec.Name, "vigil.") || !strings.HasSuffix(spec.Name, ".v1") || spec.Partitions < 1 || spec.Key == "" {
			t.Errorf("incomplete topic spec %+v", spec)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
brokers: [kafka-1:9092, kafka-2:9092]
client_id: vigil-sink
sasl:
  mechanism: SCRAM-SHA-512
  username: vigil
  password_file: /run/secrets/kafka
tls:
  enabled: true
  ca_file: /etc/vigil/ca.pem
partitions:
  vigil.access.v1: 24
replication_factor: 3
writer:
  batch_size: 2000
  batch_bytes: 2097152
  batch_timeout: 5ms
  compression: zstd
reader:
  commit_interval: 2s
  min_bytes: 1
  max_bytes: 8388608
  max_wait: 250ms
  start_offset: last
  session_timeout: 45s
  heartbeat_interval: 3s
  rebalance_timeout: 1m
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Writer.BatchTimeout != 5*time.Millisecond || c.Reader.RebalanceTimeout != time.Minute ||
		c.Partitions[TopicAccess] != 24 || c.SASL.PasswordFile != "/run/secrets/kafka" || c.Reader.StartOffset != StartLast {
		t.Errorf("decoded %s", c)
	}

	// The password has no YAML key: a strict decoder rejects it.
	dec = yaml.NewDecoder(strings.NewReader("sasl:\n  password: hunter2\n"))
	dec.KnownFields(true)
	var c2 Config
	if err := dec.Decode(&c2); err == nil || c2.SASL.Password != "" {
		t.Errorf("password accepted from YAML: err=%v", err)
	}
}

// TestPasswordNeverPrinted: no way of printing, logging or encoding a
// configuration shows the password.
func TestPasswordNeverPrinted(t *testing.T) {
	const password = "hunter2-very-secret"
	c := Defaults()
	c.Brokers = []string{"127.0.0.1:9092"}
	c.SASL = SASL{Mechanism: MechanismScramSHA512, Username: "vigil", Password: password}

	var outputs []string
	for _, v := range []any{c, &c, c.SASL, &c.SASL, c.SASL.Password} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("config", "bus", c, "ptr", &c, "sasl", c.SASL, "password", c.SASL.Password)
		l.Info("config", slog.Any("bus", c), slog.Group("g", "sasl", &c.SASL))
	}
	outputs = append(outputs, logs.String())
	for _, v := range []any{c, c.SASL} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(j), string(y))
	}
	for _, out := range outputs {
		if strings.Contains(out, password) || strings.Contains(out, fmt.Sprintf("%x", password)) {
			t.Errorf("password printed: %s", out)
		}
	}
	if !strings.Contains(c.String(), "[REDACTED]") || !strings.Contains(logs.String(), "[REDACTED]") {
		t.Errorf("no redaction marker in %s / %s", c, logs.String())
	}
	if !strings.Contains(c.String(), "vigil") {
		t.Errorf("String() hides more than the password: %s", c)
	}
	t.Logf("String(): %s", c)
	t.Logf("slog text: %s", strings.SplitN(logs.String(), "\n", 2)[0])

	// An empty password prints as empty, not as a redaction marker.
	if got := Secret("").String(); got != "" {
		t.Errorf("empty Secret prints %q", got)
	}
}
