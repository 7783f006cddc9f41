package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/store/sink"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"github.com/vigil-audit/vigil/internal/telemetry"
)

func upCommand() *command {
	var demo bool
	return &command{
		name:    "up",
		summary: "Run every stage in one process, with an embedded broker and store",
		usage:   "[--demo] [--listen ADDR] [--kafka-listen ADDR] [--data DIR]",
		help: `Runs Vigil in one process with no external service: an embedded Kafka-protocol
broker (its data in DATA/kafka, so it survives restarts) and one HTTP port for
ingest, the console, /metrics and /healthz.

Senders authenticate with a bearer token. Give it with --ingest-token or
VIGIL_INGEST_TOKEN (or VIGIL_INGEST_TOKEN_FILE); without one, up generates a
token on first start, saves it in DATA/ingest-token (mode 0600) and prints it.

The embedded broker speaks the Kafka protocol on --kafka-listen, so kcat and
'vigil tail' can read the topics:
  vigil tail --brokers 127.0.0.1:9092 vigil.access.v1

Identifiers of people and devices are replaced by keyed HMAC tokens; the key
is taken from VIGIL_PSEUDONYMISE_KEY(_FILE) or pseudonymise.key_file, else
created on first start in DATA/pseudonymise.key (mode 0600). Accepted events
wait in a disk spool (DATA/spool) until the broker has them.

A sink reads every topic into the embedded store, a SQLite file in
DATA/store.db, as 'vigil sink' writes ClickHouse in production; reports read
it while up runs:
  vigil report subject --data DATA --id P-123 --from 2026-11-01

Built so far: the embedded broker with every Vigil topic, the collector (HTTP
ingest, plus syslog and files when configured), the sink and embedded store,
/metrics and /healthz. The detector and notifier join as their issues land;
--demo (the traffic simulator) needs the detector and is refused until then.`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.fs.BoolVar(&demo, "demo", false, "also run the traffic simulator with labelled anomalies (not built yet)")
			fs.key("listen", "http.listen", "HTTP `address` for ingest, console, /metrics and /healthz")
			fs.key("kafka-listen", "embedded.kafka_listen", "`address` of the embedded Kafka-protocol broker")
			fs.key("data", "data", "data `folder` for the embedded broker and store")
			fs.key("ingest-token", "ingest.token", "bearer `token` senders must present (prefer VIGIL_INGEST_TOKEN)")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments, got %q", c.args)
			}
			if demo {
				return c.fail(ExitNotBuilt, "--demo is not built yet: the traffic simulator needs the collector (issue 3) and detector (issue 5); run 'vigil up' without --demo")
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			return runUp(ctx, c, cfg)
		},
	}
}

func runUp(ctx context.Context, c *invocation, cfg *Config) int {
	log, err := telemetry.NewLogger(cfg.Log, c.stderr())
	if err != nil {
		return c.fail(ExitUsage, "%v", err)
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return c.fail(ExitFailure, "create data folder: %v", err)
	}
	token, generated, err := ingestToken(cfg)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	tokenFile := filepath.Join(cfg.Data, "ingest-token")
	switch {
	case generated:
		fmt.Fprintf(c.stdout(), "Generated an ingest token and saved it in %s (mode 0600):\n  %s\nSenders present it as: Authorization: Bearer <token>\n", tokenFile, token)
	case cfg.Ingest.Token == "":
		fmt.Fprintf(c.stdout(), "Ingest token: read from %s\n", tokenFile)
	}

	reg := telemetry.NewRegistry()
	log.Info("starting embedded broker", "listen", cfg.Embedded.KafkaListen, "data", filepath.Join(cfg.Data, "kafka"))
	broker, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{
		DataDir: filepath.Join(cfg.Data, "kafka"),
		Listen:  cfg.Embedded.KafkaListen,
		Logger:  log,
	})
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	defer func() {
		log.Info("stopping embedded broker")
		if err := broker.Close(); err != nil {
			log.Error("embedded broker stopped with an error", "err", err)
			return
		}
		log.Info("embedded broker stopped")
	}()
	busCfg := broker.Config()

	if cfg.Spool.Dir == "" {
		cfg.Spool.Dir = filepath.Join(cfg.Data, "spool")
	}
	if err := cfg.Spool.Validate(); err != nil {
		return c.fail(ExitUsage, "%v", err)
	}
	keyFile := filepath.Join(cfg.Data, "pseudonymise.key")
	key, err := pseudo.LoadKey(c.env.Environ, cfg.Pseudonymise)
	if errors.Is(err, pseudo.ErrNoKey) {
		var created bool
		key, created, err = pseudo.EnsureKeyFile(keyFile)
		if created {
			fmt.Fprintf(c.stdout(), "Created a pseudonymisation key in %s (mode 0600, key id %s).\nKeep it and back it up: with another key the same person gets other tokens.\n", keyFile, key.ID())
		}
	}
	if err != nil {
		return c.fail(ExitFailure, "pseudonymisation key: %v", err)
	}
	sources := append([]collector.SourceConfig{{Name: "default", TokenSHA256: collector.HashToken(token)}}, cfg.Ingest.Sources...)
	col, err := newCollector(cfg, busCfg, sources, key, log, reg)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}

	// The embedded store and the sink that fills it from the embedded
	// broker, as 'vigil sink' fills ClickHouse.
	storePath := filepath.Join(cfg.Data, embeddedStoreFile)
	st, err := sqlite.Open(ctx, storePath, sqlite.Options{})
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("embedded store closed with an error", "err", err)
		}
	}()
	sk, err := sink.New(cfg.Sink, busCfg, st, sink.WithLogger(log.With("stage", "sink")), sink.WithRegisterer(reg))
	if err != nil {
		return c.fail(ExitUsage, "%v", err)
	}
	sinkCtx, stopSink := context.WithCancel(context.WithoutCancel(ctx))
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sk.Run(sinkCtx) }()
	defer func() {
		// After the collector drained its spool to the broker: the sink
		// writes and commits what it holds, then stops.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		log.Info("stopping sink")
		if err := sk.Shutdown(sctx); err != nil {
			log.Warn("sink did not stop cleanly", "err", err)
		}
		stopSink()
		if err := <-sinkDone; err != nil {
			log.Error("sink stopped with an error", "err", err)
		}
		log.Info("sink stopped")
	}()

	index := func(mux *http.ServeMux) {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "Vigil %s\n\n  POST /v1/access   ingest access events (NDJSON or JSON array, Authorization: Bearer <token>)\n  POST /v1/device   ingest device-risk events\n  /healthz          readiness of every stage (JSON)\n  /metrics          Prometheus metrics\n\nEmbedded Kafka-protocol broker: %s\n", telemetry.Build().Version, broker.Addr())
		})
	}
	return serveCollector(ctx, c, cfg, busCfg, col, reg, log, index, func(addr net.Addr) {
		fmt.Fprintf(c.stdout(), "Vigil is up.\n  HTTP:   http://%s/ (ingest /v1/access and /v1/device, /healthz, /metrics)\n  Kafka:  %s (embedded broker; try: vigil tail --brokers %s vigil.access.v1)\n  Data:   %s\n  Store:  %s (try: vigil report subject --data %s --token p_… --from 2026-01-01)\nPress Ctrl-C to stop.\n",
			addr, broker.Addr(), broker.Addr(), cfg.Data, storePath, cfg.Data)
		log.Info("vigil up", "http", addr.String(), "kafka", broker.Addr(), "store", storePath)
	}, telemetry.Check{Name: "sink", Fn: func(context.Context) error { return sk.Ready() }})
}

// ingestToken returns the configured token, or the one saved in the data
// folder, or a new one it saves there. generated is true for a new token.
func ingestToken(cfg *Config) (token string, generated bool, err error) {
	if cfg.Ingest.Token != "" {
		return cfg.Ingest.Token, false, nil
	}
	path := filepath.Join(cfg.Data, "ingest-token")
	t, err := config.ReadSecretFile(path)
	switch {
	case err == nil && strings.TrimSpace(t) != "":
		return strings.TrimSpace(t), false, nil
	case err == nil:
		return "", false, fmt.Errorf("%s is empty: delete it to have a new token generated, or set VIGIL_INGEST_TOKEN", path)
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read ingest token: %v", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generate ingest token: %w", err)
	}
	token = "vgl_" + base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("save ingest token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("save ingest token in %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("save ingest token in %s: %w", path, err)
	}
	return token, true, nil
}
