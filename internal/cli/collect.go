package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/telemetry"
)

func collectCommand() *command {
	var hashToken string
	return &command{
		name:    "collect",
		summary: "Run the collector: HTTP, syslog and file receivers into Kafka",
		usage:   "[--config FILE] [flags]",
		help: `Receives data-access and device-risk logs, validates them, replaces the
identifiers of people and devices with keyed HMAC tokens, spools them to disk
and produces them to Kafka (bus.brokers). Senders are told "accepted" only
once an event is on disk; if Kafka is down, events wait in the spool.

Receivers:
  HTTP    POST /v1/access and /v1/device on http.listen (NDJSON or a JSON
          array, optionally gzip), authenticated by bearer token
          (ingest.sources: name + token_sha256)
  syslog  RFC 5424 / 3164 over TCP, UDP, TLS (syslog.tcp_listen, ...)
  files   NDJSON files followed by glob (files: [...])

Requires a pseudonymisation key: VIGIL_PSEUDONYMISE_KEY (hex or base64, at
least 32 bytes), VIGIL_PSEUDONYMISE_KEY_FILE or pseudonymise.key_file; it
refuses to start without one. Generate one with: openssl rand -hex 32

To add a sender, hash its token and list it under ingest.sources:
  vigil collect --hash-token 'the-token'

See docs/COLLECTOR.md for the configuration, the limits and examples.`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("listen", "http.listen", "HTTP `address` for ingest, /metrics and /healthz")
			fs.key("brokers", "bus.brokers", "Kafka bootstrap `brokers`, comma-separated")
			fs.key("spool", "spool.dir", "spool `folder`")
			fs.fs.StringVar(&hashToken, "hash-token", "", "print the token_sha256 of `token` for ingest.sources and exit")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments, got %q", c.args)
			}
			if hashToken != "" {
				fmt.Fprintln(c.stdout(), collector.HashToken(hashToken))
				return ExitOK
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			var ps []config.Problem
			if len(cfg.Bus.Brokers) == 0 {
				ps = append(ps, config.Problem{Key: "bus.brokers", Reason: "required: the Kafka brokers to produce to"})
			} else {
				ps = append(ps, validateBus(cfg.Bus)...)
			}
			if cfg.Spool.Dir == "" {
				ps = append(ps, config.Problem{Key: "spool.dir", Reason: "required: a folder on a persistent disk"})
			} else {
				ps = append(ps, config.FromError(cfg.Spool.Validate(), "")...)
			}
			if len(cfg.Ingest.Sources) == 0 && !cfg.Syslog.Enabled() && len(cfg.Files) == 0 {
				ps = append(ps, config.Problem{Key: "ingest.sources", Reason: "nothing to collect: configure ingest.sources, syslog or files"})
			}
			if len(ps) > 0 {
				fmt.Fprintf(c.stderr(), "vigil collect: %v\n", &config.Error{Problems: ps})
				return ExitUsage
			}
			key, err := pseudo.LoadKey(c.env.Environ, cfg.Pseudonymise)
			if err != nil {
				return c.fail(ExitUsage, "refusing to start without a pseudonymisation key: %v", err)
			}
			log, err := telemetry.NewLogger(cfg.Log, c.stderr())
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			return runCollect(ctx, c, cfg, key, log)
		},
	}
}

func runCollect(ctx context.Context, c *invocation, cfg *Config, key pseudo.Key, log *slog.Logger) int {
	reg := telemetry.NewRegistry()
	ensureTopics(ctx, cfg.Bus, log)
	col, err := newCollector(cfg, cfg.Bus, cfg.Ingest.Sources, key, log, reg)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	return serveCollector(ctx, c, cfg, cfg.Bus, col, reg, log, nil, func(addr net.Addr) {
		log.Info("collector running", append([]any{"http", addr.String(), "key_id", key.ID()}, syslogAttrs(col)...)...)
	})
}

// serveCollector serves the collector's ingest routes, /metrics, /healthz
// (Kafka reachable, collector ready) and whatever extra adds, starts the
// collector, calls started with the HTTP address, and runs until ctx ends;
// then it stops the server and drains the collector. It returns the exit
// status.
func serveCollector(ctx context.Context, c *invocation, cfg *Config, busCfg bus.Config, col *collector.Collector,
	reg *prometheus.Registry, log *slog.Logger, extra func(*http.ServeMux), started func(net.Addr), checks ...telemetry.Check) int {
	mux := http.NewServeMux()
	col.Mount(mux)
	health := telemetry.NewHealth(reg, 2*time.Second, append([]telemetry.Check{
		{Name: "kafka", Fn: func(ctx context.Context) error { return bus.Ping(ctx, busCfg) }},
		{Name: "collector", Fn: col.Ready},
	}, checks...)...)
	mux.Handle("GET /metrics", telemetry.MetricsHandler(reg))
	mux.Handle("GET /healthz", health)
	if extra != nil {
		extra(mux)
	}
	srv, ln, err := listenHTTP(cfg.HTTP.Listen, mux, log)
	if err != nil {
		_ = col.Shutdown(context.Background())
		return c.fail(ExitFailure, "%v", err)
	}
	if err := col.Start(ctx); err != nil {
		_ = ln.Close()
		_ = col.Shutdown(context.Background())
		return c.fail(ExitFailure, "%v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	started(ln.Addr())
	status := ExitOK
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", context.Cause(ctx))
	case err := <-served:
		log.Error("http server failed", "err", err)
		status = ExitFailure
	}
	stopCollector(ctx, srv, col, cfg.ShutdownTimeout, log)
	return status
}

// newCollector builds the collector from the configuration.
func newCollector(cfg *Config, busCfg bus.Config, sources []collector.SourceConfig, key pseudo.Key, log *slog.Logger, reg prometheus.Registerer) (*collector.Collector, error) {
	return collector.New(collector.Options{
		HTTP:         cfg.Ingest.HTTPConfig,
		Sources:      sources,
		Spool:        cfg.Spool,
		Key:          key,
		Pseudonymise: cfg.Pseudonymise,
		Syslog:       cfg.Syslog,
		Files:        cfg.Files,
		Producer:     cfg.Producer,
		NewWriter:    collector.BusWriters(busCfg, log),
		Logger:       log,
		Registerer:   reg,
	})
}

// ensureTopics creates the Vigil topics that are missing. A broker that is
// down is not fatal: the collector spools until it is back.
func ensureTopics(ctx context.Context, cfg bus.Config, log *slog.Logger) {
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(tctx, cfg); err != nil {
		log.Warn("could not check the kafka topics; events are spooled until kafka answers", "err", err)
	}
}

func listenHTTP(addr string, h http.Handler, log *slog.Logger) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s (http.listen): %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return srv, ln, nil
}

// stopCollector stops taking HTTP requests, then lets the collector drain
// its spool within timeout.
func stopCollector(ctx context.Context, srv *http.Server, col *collector.Collector, timeout time.Duration, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	log.Info("stopping http server")
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server did not drain in time", "err", err)
	}
	log.Info("http server stopped")
	log.Info("stopping collector")
	if err := col.Shutdown(sctx); err != nil {
		log.Error("collector stopped with an error", "err", err)
		return
	}
	log.Info("collector stopped")
}

func syslogAttrs(col *collector.Collector) []any {
	var out []any
	a := col.SyslogAddrs()
	for _, x := range []struct {
		name string
		addr net.Addr
	}{{"syslog_tcp", a.TCP}, {"syslog_udp", a.UDP}, {"syslog_tls", a.TLS}} {
		if x.addr != nil {
			out = append(out, x.name, x.addr.String())
		}
	}
	return out
}
