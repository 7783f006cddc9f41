package bus

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SASL mechanism names, as they appear in bus.sasl.mechanism.
const (
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismPlain       = "PLAIN"
)

// Compression codec names, as they appear in bus.writer.compression.
const (
	CompressionNone   = "none"
	CompressionGzip   = "gzip"
	CompressionSnappy = "snappy"
	CompressionLZ4    = "lz4"
	CompressionZstd   = "zstd"
)

// Start offsets, as they appear in bus.reader.start_offset.
const (
	StartFirst = "first"
	StartLast  = "last"
)

var (
	mechanisms   = []string{MechanismScramSHA256, MechanismScramSHA512, MechanismPlain}
	compressions = []string{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}
	startOffsets = []string{StartFirst, StartLast}
)

// Config says how Vigil reaches Kafka and how it produces and consumes. It is
// the `bus:` section of Vigil's configuration. Every zero value means a
// documented default (see Defaults), so a Config with only Brokers set works.
type Config struct {
	// Brokers are the bootstrap brokers, each host:port. Required: there is
	// no default (the embedded broker's Config fills it in).
	Brokers []string `yaml:"brokers"`

	// ClientID is sent with every request; brokers show it in logs, metrics
	// and quotas. Empty means "vigil".
	ClientID string `yaml:"client_id"`

	// SASL authenticates every connection. Zero means no authentication.
	SASL SASL `yaml:"sasl"`

	// TLS encrypts every connection. Zero means plaintext.
	TLS TLS `yaml:"tls"`

	// Partitions overrides, by topic name, the partition count that
	// EnsureTopics creates a Vigil topic with. A topic not listed gets its
	// default from Topics. Only Vigil topic names are accepted. Changing it
	// does not repartition a topic that already exists.
	Partitions map[string]int `yaml:"partitions"`

	// ReplicationFactor of topics that EnsureTopics creates. Zero means the
	// broker's default.replication.factor.
	ReplicationFactor int `yaml:"replication_factor"`

	// Writer tunes producers.
	Writer WriterConfig `yaml:"writer"`

	// Reader tunes consumer-group readers.
	Reader ReaderConfig `yaml:"reader"`
}

// SASL holds the SASL settings. The password is never read from the YAML
// file itself: the edge (config loading) puts it in Password from the
// environment, or names a file in PasswordFile. Printing or logging a SASL
// value never shows the password.
type SASL struct {
	// Mechanism is SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN. Empty means no
	// SASL. PLAIN sends the password as is and is only accepted with TLS.
	Mechanism string `yaml:"mechanism"`

	// Username to authenticate as. Required when Mechanism is set.
	Username string `yaml:"username"`

	// PasswordFile is a file holding the password (one trailing newline is
	// ignored). It is read when a writer, reader or admin call is built, if
	// Password is empty. Empty means the password must be in Password.
	PasswordFile string `yaml:"password_file"`

	// Password is the password itself, set by the edge from the environment;
	// it has no YAML key on purpose. Empty means read PasswordFile.
	Password Secret `yaml:"-"`
}

// TLS holds the TLS settings.
type TLS struct {
	// Enabled turns TLS on. False means plaintext connections.
	Enabled bool `yaml:"enabled"`

	// CAFile is a PEM file of CA certificates to trust. Empty means the
	// system roots.
	CAFile string `yaml:"ca_file"`

	// InsecureSkipVerify accepts any broker certificate. False (the only
	// sensible production value) means certificates are verified.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// WriterConfig tunes producers. kafka-go's own defaults are traps (a one
// second batch timeout, no acks for a struct literal, asynchronous writes
// that lose errors); NewWriter never uses them.
type WriterConfig struct {
	// BatchSize is the most records sent in one batch per partition. Zero
	// means 1000.
	BatchSize int `yaml:"batch_size"`

	// BatchBytes is the most bytes in one batch per partition; a single
	// larger record is rejected. Zero means 1 MiB (1048576), which fits the
	// broker's default message.max.bytes.
	BatchBytes int `yaml:"batch_bytes"`

	// BatchTimeout is how long a partly filled batch waits for more records
	// before it is sent. It is the latency a lone record pays, and what each
	// partition's last partial batch of a synchronous WriteMessages call
	// waits. Zero means 1ms (kafka-go's own default is 1s).
	BatchTimeout time.Duration `yaml:"batch_timeout"`

	// Compression is none, gzip, snappy, lz4 or zstd. Empty means lz4.
	Compression string `yaml:"compression"`
}

// ReaderConfig tunes consumer-group readers.
type ReaderConfig struct {
	// CommitInterval is how often offsets handed to CommitMessages are
	// committed to the broker; a reader that closes commits what is pending.
	// Zero means 1s. It is never zero in effect: kafka-go commits
	// synchronously, one round trip per call, when it is.
	CommitInterval time.Duration `yaml:"commit_interval"`

	// MinBytes is the least data a fetch waits for (up to MaxWait). Zero
	// means 1.
	MinBytes int `yaml:"min_bytes"`

	// MaxBytes is the most data one fetch returns. Zero means 4 MiB.
	MaxBytes int `yaml:"max_bytes"`

	// MaxWait is how long a fetch waits for MinBytes. Zero means 500ms
	// (kafka-go's own default is 10s).
	MaxWait time.Duration `yaml:"max_wait"`

	// StartOffset is where a group starts on a partition it has no
	// committed offset for: first or last. Empty means first, so a new
	// group reads everything that is retained.
	StartOffset string `yaml:"start_offset"`

	// SessionTimeout is how long the group coordinator waits for a
	// heartbeat before it drops a member. Zero means 30s.
	SessionTimeout time.Duration `yaml:"session_timeout"`

	// HeartbeatInterval is how often a member heartbeats; it must be less
	// than SessionTimeout. Zero means 3s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`

	// RebalanceTimeout is how long the coordinator waits for members to
	// rejoin during a rebalance. Zero means 30s.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
}

// Defaults returns the configuration used for every zero field. Brokers is
// empty: there is no default broker.
func Defaults() Config {
	return Config{
		ClientID: "vigil",
		Writer: WriterConfig{
			BatchSize:    1000,
			BatchBytes:   1 << 20,
			BatchTimeout: time.Millisecond,
			Compression:  CompressionLZ4,
		},
		Reader: ReaderConfig{
			CommitInterval:    time.Second,
			MinBytes:          1,
			MaxBytes:          4 << 20,
			MaxWait:           500 * time.Millisecond,
			StartOffset:       StartFirst,
			SessionTimeout:    30 * time.Second,
			HeartbeatInterval: 3 * time.Second,
			RebalanceTimeout:  30 * time.Second,
		},
	}
}

// withDefaults returns c with every zero field set from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	c.Brokers = slices.Clone(c.Brokers)
	setZero(&c.ClientID, d.ClientID)
	setZero(&c.Writer.BatchSize, d.Writer.BatchSize)
	setZero(&c.Writer.BatchBytes, d.Writer.BatchBytes)
	setZero(&c.Writer.BatchTimeout, d.Writer.BatchTimeout)
	setZero(&c.Writer.Compression, d.Writer.Compression)
	setZero(&c.Reader.CommitInterval, d.Reader.CommitInterval)
	setZero(&c.Reader.MinBytes, d.Reader.MinBytes)
	setZero(&c.Reader.MaxBytes, d.Reader.MaxBytes)
	setZero(&c.Reader.MaxWait, d.Reader.MaxWait)
	setZero(&c.Reader.StartOffset, d.Reader.StartOffset)
	setZero(&c.Reader.SessionTimeout, d.Reader.SessionTimeout)
	setZero(&c.Reader.HeartbeatInterval, d.Reader.HeartbeatInterval)
	setZero(&c.Reader.RebalanceTimeout, d.Reader.RebalanceTimeout)
	return c
}

func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Validate reports every problem in c, each naming its YAML key under
// "bus." (for example `bus.brokers[1]: "x" is not host:port`), joined with
// errors.Join. Zero values are valid: they mean the defaults.
func (c Config) Validate() error {
	var v validator

	if len(c.Brokers) == 0 {
		v.add("brokers", "required")
	}
	for i, b := range c.Brokers {
		if !isHostPort(b) {
			v.add(fmt.Sprintf("brokers[%d]", i), "%q is not host:port", b)
		}
	}

	c.SASL.validate(&v, c.TLS.Enabled)
	c.TLS.validate(&v)

	for _, name := range sortedKeys(c.Partitions) {
		n := c.Partitions[name]
		if _, ok := LookupTopic(name); !ok {
			v.add("partitions["+name+"]", "unknown topic (one of %s)", strings.Join(topicNames(), ", "))
		}
		if n < 1 {
			v.add("partitions["+name+"]", "%d is not a partition count (at least 1)", n)
		}
	}
	switch {
	case c.ReplicationFactor < 0:
		v.add("replication_factor", "%d is negative (0 means the broker's default)", c.ReplicationFactor)
	case c.ReplicationFactor > 32767:
		v.add("replication_factor", "%d is more than 32767", c.ReplicationFactor)
	}

	d := Defaults()
	w := c.Writer
	v.nonNegative("writer.batch_size", w.BatchSize, d.Writer.BatchSize)
	v.nonNegative("writer.batch_bytes", w.BatchBytes, d.Writer.BatchBytes)
	v.nonNegativeDuration("writer.batch_timeout", w.BatchTimeout, d.Writer.BatchTimeout)
	if w.Compression != "" && !slices.Contains(compressions, w.Compression) {
		v.add("writer.compression", "%q is not one of %s", w.Compression, strings.Join(compressions, "|"))
	}

	r := c.Reader
	v.nonNegativeDuration("reader.commit_interval", r.CommitInterval, d.Reader.CommitInterval)
	v.nonNegative("reader.min_bytes", r.MinBytes, d.Reader.MinBytes)
	v.nonNegative("reader.max_bytes", r.MaxBytes, d.Reader.MaxBytes)
	v.nonNegativeDuration("reader.max_wait", r.MaxWait, d.Reader.MaxWait)
	if r.StartOffset != "" && !slices.Contains(startOffsets, r.StartOffset) {
		v.add("reader.start_offset", "%q is not one of %s", r.StartOffset, strings.Join(startOffsets, "|"))
	}
	v.nonNegativeDuration("reader.session_timeout", r.SessionTimeout, d.Reader.SessionTimeout)
	v.nonNegativeDuration("reader.heartbeat_interval", r.HeartbeatInterval, d.Reader.HeartbeatInterval)
	v.nonNegativeDuration("reader.rebalance_timeout", r.RebalanceTimeout, d.Reader.RebalanceTimeout)

	// Cross-field checks on the effective values.
	e := c.withDefaults().Reader
	if r.MinBytes >= 0 && r.MaxBytes >= 0 && e.MinBytes > e.MaxBytes {
		v.add("reader.min_bytes", "%d is more than bus.reader.max_bytes (%d)", e.MinBytes, e.MaxBytes)
	}
	if r.HeartbeatInterval >= 0 && r.SessionTimeout >= 0 && e.HeartbeatInterval >= e.SessionTimeout {
		v.add("reader.heartbeat_interval", "%s is not less than bus.reader.session_timeout (%s)", e.HeartbeatInterval, e.SessionTimeout)
	}
	return v.err()
}

func (s SASL) validate(v *validator, tlsEnabled bool) {
	if s.Mechanism == "" {
		if s.Username != "" || s.PasswordFile != "" || s.Password != "" {
			v.add("sasl.mechanism", "required when a username or password is set (one of %s)", strings.Join(mechanisms, "|"))
		}
		return
	}
	if !slices.Contains(mechanisms, s.Mechanism) {
		v.add("sasl.mechanism", "%q is not one of %s", s.Mechanism, strings.Join(mechanisms, "|"))
	}
	if s.Mechanism == MechanismPlain && !tlsEnabled {
		v.add("sasl.mechanism", "PLAIN sends the password in clear text: enable bus.tls or use SCRAM-SHA-512")
	}
	if s.Username == "" {
		v.add("sasl.username", "required with mechanism %s", s.Mechanism)
	}
	if s.Password == "" && s.PasswordFile == "" {
		v.add("sasl.password_file", "required with mechanism %s (or pass the password through the environment)", s.Mechanism)
	}
}

func (t TLS) validate(v *validator) {
	if !t.Enabled && (t.CAFile != "" || t.InsecureSkipVerify) {
		v.add("tls.enabled", "must be true when bus.tls.ca_file or bus.tls.insecure_skip_verify is set")
	}
}

// isHostPort reports whether s is host:port with a non-empty host and a
// port in 1..65535.
func isHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= 1 && p <= 65535
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validator collects problems, each prefixed with its YAML key path.
type validator struct{ errs []error }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("bus.%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) nonNegative(path string, n, def int) {
	if n < 0 {
		v.add(path, "%d is negative (0 means the default, %d)", n, def)
	}
}

func (v *validator) nonNegativeDuration(path string, d, def time.Duration) {
	if d < 0 {
		v.add(path, "%s is negative (0 means the default, %s)", d, def)
	}
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// Secret is a string that never prints: fmt (every verb), slog,
// encoding/json and YAML show "[REDACTED]" (or "" when it is empty). Convert it with string(s) only
// where the value is handed to the SASL mechanism.
type Secret string

const redacted = "[REDACTED]"

// String returns "[REDACTED]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v redacted too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format redacts under every verb: without it, verbs that fmt does not route
// to String (%d, %t, ...) print the raw string as "%!d(bus.Secret=...)".
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.String())
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	default:
		_, _ = io.WriteString(f, s.String())
	}
}

// LogValue keeps slog output redacted.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML) from writing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String describes the SASL settings with the password redacted.
func (s SASL) String() string {
	type plain SASL // no methods: no recursion; Secret still redacts itself
	return fmt.Sprintf("%+v", plain(s))
}

// LogValue describes the SASL settings with the password redacted.
func (s SASL) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mechanism", s.Mechanism),
		slog.String("username", s.Username),
		slog.String("password_file", s.PasswordFile),
		slog.String("password", s.Password.String()),
	)
}

// String describes the configuration with the password redacted.
func (c Config) String() string {
	type plain Config // no methods: no recursion; SASL and Secret redact
	return fmt.Sprintf("%+v", plain(c))
}

// GoString keeps %#v redacted too.
func (c Config) GoString() string { return "bus.Config" + c.String() }

// LogValue describes the configuration with the password redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("brokers", c.Brokers),
		slog.String("client_id", c.ClientID),
		slog.Any("sasl", c.SASL),
		slog.Group("tls",
			slog.Bool("enabled", c.TLS.Enabled),
			slog.String("ca_file", c.TLS.CAFile),
			slog.Bool("insecure_skip_verify", c.TLS.InsecureSkipVerify)),
		slog.Any("partitions", c.Partitions),
		slog.Int("replication_factor", c.ReplicationFactor),
		slog.Group("writer",
			slog.Int("batch_size", c.Writer.BatchSize),
			slog.Int("batch_bytes", c.Writer.BatchBytes),
			slog.Duration("batch_timeout", c.Writer.BatchTimeout),
			slog.String("compression", c.Writer.Compression)),
		slog.Group("reader",
			slog.Duration("commit_interval", c.Reader.CommitInterval),
			slog.Int("min_bytes", c.Reader.MinBytes),
			slog.Int("max_bytes", c.Reader.MaxBytes),
			slog.Duration("max_wait", c.Reader.MaxWait),
			slog.String("start_offset", c.Reader.StartOffset),
			slog.Duration("session_timeout", c.Reader.SessionTimeout),
			slog.Duration("heartbeat_interval", c.Reader.HeartbeatInterval),
			slog.Duration("rebalance_timeout", c.Reader.RebalanceTimeout)),
	)
}
