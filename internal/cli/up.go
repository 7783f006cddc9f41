package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/detector/rules"
	"github.com/vigil-audit/vigil/detector/runner"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sink"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
	"github.com/vigil-audit/vigil/internal/telemetry"
	"github.com/vigil-audit/vigil/notifier"
	"github.com/vigil-audit/vigil/notifier/console"
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

The detector runs on the embedded broker as 'vigil detect' does on Kafka:
the rule pack built into the binary (or detect.rules) and the built-in
behaviours; alerts go to vigil.alerts.v1 and into the store.

--demo also runs the traffic simulator against this collector: four
hospitals at about 5 events/s with one labelled incident of each kind in the
first minute, then about two per kind an hour; the incidents are listed in
DATA/demo-labels.jsonl. Alerts show within a minute:
  vigil tail --brokers 127.0.0.1:9092 --from first vigil.alerts.v1

The notifier runs as 'vigil notify' does: alerts open or join incidents,
which wait for triage — nothing is confirmed automatically, in the demo
too. The API and the console (http://ADDR/console/) serve on up's port; the
local operator's token (roles analyst, dpo, admin) is in
DATA/operator-token, and 'vigil incident … --data DATA' uses it:
  vigil incident list --data DATA
  vigil incident confirm ID --reason "…" --data DATA
Without notify.smtp_addr or notify.webhook_url each notice is written to
DATA/outbox, one .eml or .json file named by notice id; contacts come from
notify.directory_file or notify.directory_url, or else every recipient gets
a placeholder address (TOKEN@recipients.invalid): the demo holds no contact
data.`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.fs.BoolVar(&demo, "demo", false, "also run the traffic simulator: a small population with labelled incidents, sent to this collector")
			fs.key("listen", "http.listen", "HTTP `address` for ingest, console, /metrics and /healthz")
			fs.key("kafka-listen", "embedded.kafka_listen", "`address` of the embedded Kafka-protocol broker")
			fs.key("data", "data", "data `folder` for the embedded broker and store")
			fs.key("ingest-token", "ingest.token", "bearer `token` senders must present (prefer VIGIL_INGEST_TOKEN)")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments, got %q", c.args)
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			return runUp(ctx, c, cfg, demo)
		},
	}
}

func runUp(ctx context.Context, c *invocation, cfg *Config, demo bool) int {
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
	// Tools such as 'vigil alert --data DATA' find the broker here.
	addrFile := filepath.Join(cfg.Data, brokerAddrFile)
	if err := os.WriteFile(addrFile, []byte(broker.Addr()+"\n"), 0o600); err != nil {
		return c.fail(ExitFailure, "write the broker address to %s: %v", addrFile, err)
	}
	defer os.Remove(addrFile)

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

	// The detector, on the embedded broker as 'vigil detect' runs on
	// Kafka; with --demo the simulator's orgs bring their time zones.
	var sim *simulate.Simulator
	scfg := simulate.DemoConfig(uint64(time.Now().UnixNano()))
	if demo {
		scfg.Key = key
		scfg.Logger = log.With("stage", "simulate")
		if sim, err = simulate.New(scfg); err != nil {
			return c.fail(ExitFailure, "%v", err)
		}
		if cfg.Detect.TimeZones == nil {
			cfg.Detect.TimeZones = map[string]string{}
		}
		for org, loc := range sim.TimeZones() {
			if _, ok := cfg.Detect.TimeZones[org]; !ok {
				cfg.Detect.TimeZones[org] = loc.String()
			}
		}
	}
	det, detDone, code := startUpDetector(c, cfg, busCfg, reg, log)
	if det == nil {
		return code
	}
	defer func() {
		// After the collector drained (deferred calls run in reverse):
		// the detector produces its last alerts and snapshots, then the
		// sink stores them.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		log.Info("stopping detector")
		if err := det.Shutdown(sctx); err != nil {
			log.Warn("detector did not stop cleanly", "err", err)
		}
		if err := <-detDone; err != nil {
			log.Error("detector stopped with an error", "err", err)
		}
		log.Info("detector stopped")
	}()

	// The notifier: incidents from the alerts, the local operator's API
	// and console, notices to the outbox unless channels are configured.
	nt, opTokenFile, code := startUpNotifier(ctx, c, cfg, busCfg, st, reg, log)
	if nt == nil {
		return code
	}
	ntCtx, stopNt := context.WithCancel(context.WithoutCancel(ctx))
	ntDone := make(chan error, 1)
	go func() { ntDone <- nt.Run(ntCtx) }()
	defer func() {
		log.Info("stopping notifier")
		stopNt()
		if err := <-ntDone; err != nil {
			log.Error("notifier stopped with an error", "err", err)
		}
		if err := nt.Close(); err != nil {
			log.Error("notifier closed with an error", "err", err)
		}
		log.Info("notifier stopped")
	}()
	httpAddr := filepath.Join(cfg.Data, httpAddrFile)
	defer os.Remove(httpAddr)

	var demoDone <-chan struct{}
	defer func() {
		if demoDone != nil {
			select { // the simulator writes its last labels
			case <-demoDone:
			case <-time.After(10 * time.Second):
				log.Warn("demo simulator did not stop within 10s")
			}
		}
	}()

	index := func(mux *http.ServeMux) {
		mux.Handle("/api/", nt.API.Handler())
		mux.Handle("/console/", console.Handler("/console/"))
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "Vigil %s\n\n  POST /v1/access   ingest access events (NDJSON or JSON array, Authorization: Bearer <token>)\n  POST /v1/device   ingest device-risk events\n  /healthz          readiness of every stage (JSON)\n  /metrics          Prometheus metrics\n\nEmbedded Kafka-protocol broker: %s\n", telemetry.Build().Version, broker.Addr())
		})
	}
	return serveCollector(ctx, c, cfg, busCfg, col, reg, log, index, func(addr net.Addr) {
		fmt.Fprintf(c.stdout(), "Vigil is up.\n  HTTP:   http://%s/ (ingest /v1/access and /v1/device, /healthz, /metrics)\n  Kafka:  %s (embedded broker; try: vigil tail --brokers %s vigil.access.v1)\n  Data:   %s\n  Store:  %s (try: vigil report subject --data %s --token p_… --from 2026-01-01)\n  Alerts: vigil tail --brokers %s --from first vigil.alerts.v1\nPress Ctrl-C to stop.\n",
			addr, broker.Addr(), broker.Addr(), cfg.Data, storePath, cfg.Data, broker.Addr())
		fmt.Fprintf(c.stdout(), "  Console: http://%s/console/ (operator token in %s; try: vigil incident list --data %s)\n  Outbox: %s (one file per notice)\n",
			addr, opTokenFile, cfg.Data, cfg.Notify.Outbox)
		if err := os.WriteFile(httpAddr, []byte(addr.String()+"\n"), 0o600); err != nil {
			log.Error("cannot write the HTTP address for 'vigil incident --data'", "file", httpAddr, "err", err)
		}
		log.Info("vigil up", "http", addr.String(), "kafka", broker.Addr(), "store", storePath)
		if sim != nil {
			demoDone = startDemo(ctx, c, cfg, sim, scfg.Rate, "http://"+addr.String(), token, log)
		}
	}, telemetry.Check{Name: "sink", Fn: func(context.Context) error { return sk.Ready() }},
		telemetry.Check{Name: "detector", Fn: func(context.Context) error { return det.Ready() }})
}

// ingestToken returns the configured token, or the one saved in the data
// folder, or a new one it saves there. generated is true for a new token.
func ingestToken(cfg *Config) (token string, generated bool, err error) {
	if cfg.Ingest.Token != "" {
		return cfg.Ingest.Token, false, nil
	}
	return dataToken(filepath.Join(cfg.Data, "ingest-token"), "VIGIL_INGEST_TOKEN")
}

// dataToken returns the token saved in path, or a new random one it saves
// there (mode 0600); generated is true for a new token. envHint names the
// variable that can provide the token instead.
func dataToken(path, envHint string) (token string, generated bool, err error) {
	t, err := config.ReadSecretFile(path)
	switch {
	case err == nil && strings.TrimSpace(t) != "":
		return strings.TrimSpace(t), false, nil
	case err == nil:
		return "", false, fmt.Errorf("%s is empty: delete it to have a new token generated, or set %s", path, envHint)
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read %s: %v", path, err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generate a token for %s: %w", path, err)
	}
	token = "vgl_" + base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("save token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("save token in %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("save token in %s: %w", path, err)
	}
	return token, true, nil
}

// startUpDetector starts the detector of `vigil up` on the embedded broker
// with detect.rules or the built-in pack. It returns the runner and a
// channel that gets Run's result, or nil and the exit status after
// printing the problem.
func startUpDetector(c *invocation, cfg *Config, busCfg bus.Config, reg prometheus.Registerer, log *slog.Logger) (*runner.Runner, <-chan error, int) {
	if ps := cfg.Detect.problems(); len(ps) > 0 {
		fmt.Fprintf(c.stderr(), "vigil up: %v\n", &config.Error{Problems: ps})
		return nil, nil, ExitUsage
	}
	var set *sigma.Set
	var err error
	if cfg.Detect.Rules == "" {
		set, err = sigma.LoadFS(rules.FS, cfg.Detect.sigmaOptions())
	} else {
		set, err = sigma.LoadDir(cfg.Detect.Rules, cfg.Detect.sigmaOptions())
	}
	if err != nil {
		return nil, nil, c.fail(ExitUsage, "detect.rules: %v", err)
	}
	det, err := runner.New(cfg.Detect.Config, busCfg, set, runner.WithLogger(log.With("stage", "detect")),
		runner.WithRegisterer(reg),
		runner.WithBehaviours(cfg.Detect.detectorBuild().Behaviours))
	if err != nil {
		return nil, nil, c.fail(ExitUsage, "%v", err)
	}
	done := make(chan error, 1)
	// Its own context: it stops through Shutdown, after the collector.
	go func() { done <- det.Run(context.Background()) }()
	log.Info("detector started", "rules", len(set.Rules), "correlations", len(set.Correlations))
	return det, done, ExitOK
}

// startDemo runs the simulator against this process's collector until ctx
// ends, with the incidents it injects listed in DATA/demo-labels.jsonl.
func startDemo(ctx context.Context, c *invocation, cfg *Config, sim *simulate.Simulator, rate float64, url, token string, log *slog.Logger) <-chan struct{} {
	labelsPath := filepath.Join(cfg.Data, "demo-labels.jsonl")
	f, err := os.OpenFile(labelsPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		log.Error("demo: cannot write the labels file; the simulator does not run", "path", labelsPath, "err", err)
		return nil
	}
	hs, err := simulate.NewHTTPSink(simulate.HTTPConfig{URL: url, Token: token, Logger: log.With("stage", "simulate")})
	if err != nil {
		f.Close()
		log.Error("demo: the simulator does not run", "err", err)
		return nil
	}
	ws := labelFlusher{simulate.NewWriterSink(nil, nil, f)}
	fmt.Fprintf(c.stdout(), "Demo: simulating %d hospitals at about %g events/s into this collector; one incident of each kind\n"+
		"  starts within a minute (VIP snooping, bulk export, off-hours browsing, …), then about two per kind an hour.\n"+
		"  The injected incidents are listed in %s; alerts appear on vigil.alerts.v1 and in the store,\n"+
		"  and open incidents that wait for your triage (vigil incident list --data DATA): nothing is confirmed automatically.\n",
		len(sim.Orgs()), rate, labelsPath)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := sim.Run(ctx, simulate.Tee(hs, ws))
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = ws.Flush(cctx)
		f.Close()
		_ = hs.Close(cctx)
		if err != nil && ctx.Err() == nil {
			log.Error("demo simulator stopped", "err", err)
		}
	}()
	return done
}

// labelFlusher writes each label through at once, so the labels file is
// current while the demo runs.
type labelFlusher struct{ *simulate.WriterSink }

func (l labelFlusher) Label(ctx context.Context, lb *simulate.Label) error {
	if err := l.WriterSink.Label(ctx, lb); err != nil {
		return err
	}
	return l.WriterSink.Flush(ctx)
}

// startUpNotifier assembles the notifier of `vigil up` on the embedded
// broker and store, with a local operator (all roles) whose token it keeps
// in DATA/operator-token. Without a directory it addresses notices by
// token, for the outbox only: the demo holds no contact data.
func startUpNotifier(ctx context.Context, c *invocation, cfg *Config, busCfg bus.Config, st store.Reader, reg prometheus.Registerer, log *slog.Logger) (*notifier.Notifier, string, int) {
	tokenFile := filepath.Join(cfg.Data, operatorTokenFile)
	token, generated, err := dataToken(tokenFile, "VIGIL_TOKEN")
	if err != nil {
		return nil, "", c.fail(ExitFailure, "%v", err)
	}
	if generated {
		fmt.Fprintf(c.stdout(), "Generated the local operator's token (roles analyst, dpo, admin) in %s (mode 0600).\n", tokenFile)
	}
	if cfg.Notify.Outbox == "" {
		cfg.Notify.Outbox = filepath.Join(cfg.Data, "outbox")
	}
	nt, err := notifier.Assemble(ctx, cfg.Notify, notifier.Deps{Bus: busCfg, Store: st, Logger: log.With("stage", "notify"),
		Registerer: reg, Getenv: func(k string) string { return lookupEnv(c.env.Environ, k) },
		Operators:     []notifier.OperatorConfig{{Name: "local", Roles: []string{"analyst", "dpo", "admin"}, TokenSHA256: auth.Hash(token)}},
		DemoDirectory: cfg.Notify.DirectoryFile == "" && cfg.Notify.DirectoryURL == ""})
	if err != nil {
		return nil, "", c.fail(ExitUsage, "%v", err)
	}
	return nt, tokenFile, ExitOK
}
