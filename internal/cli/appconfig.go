package cli

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/collector/spool"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/store/sink"
	"github.com/vigil-audit/vigil/internal/telemetry"
	"github.com/vigil-audit/vigil/notifier"
)

// Config is the whole configuration of the vigil binary. Each subcommand
// reads the sections it needs; sections for later stages join it as they
// are built.
type Config struct {
	// Log selects the log level and format.
	Log telemetry.LogConfig `yaml:"log"`
	// HTTP is the HTTP server of `vigil up` (ingest, console, /metrics, /healthz).
	HTTP HTTPConfig `yaml:"http"`
	// Data is the folder where `vigil up` keeps the embedded broker, the
	// embedded store and its generated secrets. Empty means ./vigil-data.
	Data string `yaml:"data"`
	// Embedded configures the embedded Kafka-protocol broker of `vigil up`.
	Embedded EmbeddedConfig `yaml:"embedded"`
	// Ingest holds the credentials senders use.
	Ingest IngestConfig `yaml:"ingest"`
	// Bus says how to reach Kafka (ignored by `vigil up`, which uses its
	// embedded broker).
	Bus bus.Config `yaml:"bus"`
	// Spool is the collector's disk spool. `vigil up` puts it in
	// DATA/spool when spool.dir is empty; `vigil collect` requires it.
	Spool spool.Config `yaml:"spool"`
	// Pseudonymise says how identifiers are replaced by tokens.
	Pseudonymise pseudo.Config `yaml:"pseudonymise"`
	// Syslog configures the syslog listeners (none by default).
	Syslog collector.SyslogConfig `yaml:"syslog"`
	// Files lists the log files the collector follows (none by default).
	Files []collector.FileConfig `yaml:"files"`
	// Producer tunes how the collector sends the spool to Kafka.
	Producer collector.ProducerConfig `yaml:"producer"`
	// ClickHouse is where `vigil sink` writes (the system of record).
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	// Sink tunes the Kafka → ClickHouse sink.
	Sink sink.Config `yaml:"sink"`
	// Detect is the detector of `vigil detect`: rules, behaviours and
	// how it runs on Kafka.
	Detect DetectConfig `yaml:"detect"`
	// Notify is the notifier of `vigil notify` and `vigil up`: operators,
	// regimes, contacts and channels.
	Notify notifier.Settings `yaml:"notify"`
	// ShutdownTimeout bounds a graceful stop: the time to drain the spool
	// to Kafka after receivers stopped. Zero is invalid; the default is 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// HTTPConfig is the HTTP listener.
type HTTPConfig struct {
	// Listen is host:port. Empty is invalid; the default is 127.0.0.1:8080.
	Listen string `yaml:"listen"`
}

// Validate implements config.Validator.
func (h HTTPConfig) Validate() []config.Problem {
	return checkHostPort("listen", h.Listen)
}

// EmbeddedConfig is the embedded broker of `vigil up`.
type EmbeddedConfig struct {
	// KafkaListen is where the embedded broker listens, so that kcat and
	// `vigil tail` can reach it. Default 127.0.0.1:9092.
	KafkaListen string `yaml:"kafka_listen"`
}

// Validate implements config.Validator.
func (e EmbeddedConfig) Validate() []config.Problem {
	return checkHostPort("kafka_listen", e.KafkaListen)
}

// IngestConfig is HTTP ingest: who may send and how much.
type IngestConfig struct {
	// Token is the bearer token senders present to `vigil up` (source
	// "default"). Empty means `vigil up` generates one on first start,
	// saves it in DATA/ingest-token (mode 0600) and prints it. Pass it as
	// VIGIL_INGEST_TOKEN or VIGIL_INGEST_TOKEN_FILE rather than in a file
	// or on the command line. `vigil collect` ignores it: use sources.
	Token string `yaml:"token"`
	// Sources are the sending systems and the SHA-256 of their tokens
	// (`vigil collect` and `vigil up`). Empty means only `vigil up`'s
	// token is accepted.
	Sources []collector.SourceConfig `yaml:"sources"`
	// HTTPConfig holds the request limits: max_body_bytes,
	// max_event_bytes, max_events, retry_after.
	collector.HTTPConfig `yaml:",inline"`
}

// Validate implements config.Validator.
func (i IngestConfig) Validate() []config.Problem {
	ps := i.HTTPConfig.Validate()
	if i.Token != "" && len(i.Token) < 16 {
		ps = append(ps, config.Problem{Key: "token", Reason: "shorter than 16 characters; use a long random token (or leave it empty and let vigil up generate one)"})
	}
	if _, err := collector.NewSources(i.Sources); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			ps = append(ps, ce.Problems...)
		}
	}
	return ps
}

// Validate implements config.Validator for the checks that span sections.
// The bus section validates itself and names its own keys.
func (c *Config) Validate() []config.Problem {
	var ps []config.Problem
	if strings.TrimSpace(c.Data) == "" {
		ps = append(ps, config.Problem{Key: "data", Reason: "required"})
	}
	if c.ShutdownTimeout <= 0 {
		ps = append(ps, config.Problem{Key: "shutdown_timeout", Reason: "must be > 0"})
	}
	ps = append(ps, config.FromError(c.Pseudonymise.Validate(), "")...)
	return ps
}

// validateBus checks the bus section, for the commands that use it.
func validateBus(b bus.Config) []config.Problem {
	err := b.Validate()
	if err == nil {
		return nil
	}
	var ps []config.Problem
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			ps = append(ps, config.Problem{Reason: line})
		}
	}
	return ps
}

func checkHostPort(key, v string) []config.Problem {
	if v == "" {
		return []config.Problem{{Key: key, Reason: "required"}}
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return []config.Problem{{Key: key, Reason: "\"" + v + "\" is not host:port"}}
	}
	return nil
}

// defaultConfig returns every default in one place.
func defaultConfig() *Config {
	return &Config{
		HTTP:            HTTPConfig{Listen: "127.0.0.1:8080"},
		Data:            "./vigil-data",
		Embedded:        EmbeddedConfig{KafkaListen: bus.DefaultEmbeddedListen},
		Bus:             bus.Defaults(),
		Spool:           spool.Defaults(),
		Pseudonymise:    pseudo.Defaults(),
		ShutdownTimeout: 30 * time.Second,
		ClickHouse:      ClickHouseConfig{Database: "vigil"},
		Sink:            sink.Defaults(),
		Detect:          defaultDetect(),
		Notify:          notifier.DefaultSettings(),
	}
}
