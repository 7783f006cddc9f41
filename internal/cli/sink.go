package cli

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sink"
	"github.com/vigil-audit/vigil/internal/telemetry"
)

// ClickHouseConfig is the `clickhouse:` section.
type ClickHouseConfig struct {
	// Addr lists native-protocol host:port addresses, tried in order.
	// Required by `vigil sink`.
	Addr []string `yaml:"addr"`
	// Database holds Vigil's tables; `vigil sink` creates and migrates it.
	// Empty is invalid; the default is "vigil".
	Database string `yaml:"database"`
	// Username is the ClickHouse user; empty means "default".
	Username string `yaml:"username"`
	// Password of that user. Give it as VIGIL_CLICKHOUSE_PASSWORD or
	// VIGIL_CLICKHOUSE_PASSWORD_FILE rather than in the file.
	Password string `yaml:"password"`
	// DialTimeout bounds each connection attempt; zero means 10s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// Validate implements config.Validator.
func (c ClickHouseConfig) Validate() []config.Problem {
	var ps []config.Problem
	for i, a := range c.Addr {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			ps = append(ps, config.Problem{Key: fmt.Sprintf("addr[%d]", i), Reason: fmt.Sprintf("%q is not host:port", a)})
		}
	}
	if c.Database == "" {
		ps = append(ps, config.Problem{Key: "database", Reason: "required"})
	}
	if c.DialTimeout < 0 {
		ps = append(ps, config.Problem{Key: "dial_timeout", Reason: "must be ≥ 0"})
	}
	return ps
}

func sinkCommand() *command {
	return &command{
		name:    "sink",
		summary: "Run the sink: write every topic into ClickHouse in idempotent batches",
		usage:   "[--config FILE] [flags]",
		help: `Consumes every Vigil topic as one consumer group (sink.group) and writes the
records into ClickHouse (clickhouse.addr, clickhouse.database) in large batches
(sink.batch_size rows or sink.batch_age, whichever comes first). Kafka offsets
are committed only after ClickHouse has the rows; when ClickHouse is down the
sink retries the same batch with backoff and keeps its place, so nothing is
skipped. Redelivered records do not show as duplicates: tables are
ReplacingMergeTree keyed by id and queries deduplicate.

On start it creates the database if needed and applies the schema migrations
(idempotent, safe with several sinks starting at once). /metrics and /healthz
are served on http.listen.

Example:
  VIGIL_BUS_BROKERS=kafka-1:9092 VIGIL_CLICKHOUSE_ADDR=127.0.0.1:9000 \
  VIGIL_HTTP_LISTEN=127.0.0.1:8082 vigil sink`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("listen", "http.listen", "HTTP `address` for /metrics and /healthz")
			fs.key("brokers", "bus.brokers", "Kafka bootstrap `brokers`, comma-separated")
			fs.key("clickhouse", "clickhouse.addr", "ClickHouse native `addresses`, comma-separated")
			fs.key("database", "clickhouse.database", "ClickHouse `database` for Vigil's tables")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments, got %q", c.args)
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			var ps []config.Problem
			if len(cfg.Bus.Brokers) == 0 {
				ps = append(ps, config.Problem{Key: "bus.brokers", Reason: "required: the Kafka brokers to consume from"})
			} else {
				ps = append(ps, validateBus(cfg.Bus)...)
			}
			if len(cfg.ClickHouse.Addr) == 0 {
				ps = append(ps, config.Problem{Key: "clickhouse.addr", Reason: "required: where ClickHouse listens (native protocol, e.g. 127.0.0.1:9000)"})
			}
			ps = append(ps, config.FromError(cfg.Sink.Validate(), "")...)
			if len(ps) > 0 {
				fmt.Fprintf(c.stderr(), "vigil sink: %v\n", &config.Error{Problems: ps})
				return ExitUsage
			}
			log, err := telemetry.NewLogger(cfg.Log, c.stderr())
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			return runSink(ctx, c, cfg, log)
		},
	}
}

func runSink(ctx context.Context, c *invocation, cfg *Config, log *slog.Logger) int {
	chCfg := store.ClickHouseConfig{Addr: cfg.ClickHouse.Addr, Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password, DialTimeout: cfg.ClickHouse.DialTimeout}
	conn, err := openClickHouse(ctx, chCfg, log)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	defer conn.Close()
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	applied, err := store.Migrate(mctx, conn, cfg.ClickHouse.Database)
	cancel()
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	log.Info("clickhouse schema up to date", "database", cfg.ClickHouse.Database, "applied", applied)

	reg := telemetry.NewRegistry()
	w := store.NewClickHouseWriter(conn, cfg.ClickHouse.Database)
	s, err := sink.New(cfg.Sink, cfg.Bus, w, sink.WithLogger(log), sink.WithRegisterer(reg))
	if err != nil {
		return c.fail(ExitUsage, "%v", err)
	}
	health := telemetry.NewHealth(reg, 2*time.Second,
		telemetry.Check{Name: "kafka", Fn: func(ctx context.Context) error { return bus.Ping(ctx, cfg.Bus) }},
		telemetry.Check{Name: "clickhouse", Fn: conn.Ping},
		telemetry.Check{Name: "sink", Fn: func(context.Context) error { return s.Ready() }},
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.MetricsHandler(reg))
	mux.Handle("GET /healthz", health)
	srv, ln, err := listenHTTP(cfg.HTTP.Listen, mux, log)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(c.stdout(), "Vigil sink is running: Kafka %v → ClickHouse %v database %s; /metrics and /healthz on http://%s/\n",
		cfg.Bus.Brokers, cfg.ClickHouse.Addr, cfg.ClickHouse.Database, ln.Addr())

	runErr := s.Run(ctx)
	log.Info("stopping sink")
	sctx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancelStop()
	if err := s.Shutdown(sctx); err != nil {
		log.Warn("sink did not stop cleanly", "err", err)
	}
	_ = srv.Shutdown(sctx)
	log.Info("sink stopped")
	if runErr != nil {
		return c.fail(ExitFailure, "%v", runErr)
	}
	return ExitOK
}

// openClickHouse connects, retrying with backoff while ClickHouse is not
// reachable: a sink started before its database waits rather than exits.
func openClickHouse(ctx context.Context, cfg store.ClickHouseConfig, log *slog.Logger) (driver.Conn, error) {
	backoff := 500 * time.Millisecond
	for {
		conn, err := store.Open(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		log.Warn("clickhouse not reachable; retrying", "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)))):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}
