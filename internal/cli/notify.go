package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/telemetry"
	"github.com/vigil-audit/vigil/notifier"
	"github.com/vigil-audit/vigil/notifier/console"
)

func notifyCommand() *command {
	return &command{
		name:    "notify",
		summary: "Run the notifier: incidents, obligations, notices and regulator reports",
		usage:   "[--listen ADDR] [--brokers BROKERS] [--clickhouse ADDRS] [flags] | hash-token TOKEN",
		help: `Runs the notifier as its own process: it turns alerts (vigil.alerts.v1) into
incidents, keeps their lifecycle (commands over its API: 'vigil incident', the
console), computes each confirmed incident's scope from the store (ClickHouse),
plans the obligations of every legal regime that applies (regime files), and
sends approved notices exactly once through the configured channels. Incidents
and notices are kept on vigil.incidents.v1 and vigil.notices.v1 and rebuilt
from them on start; run one notifier.

Configuration (the notify: section; see docs/NOTIFIER.md):
  notify.operators        [{name, roles: [analyst|dpo|admin], token_sha256}]
                          ('vigil notify hash-token TOKEN' prints the hash)
  notify.dpo              the DPO contact quoted in notices (required)
  notify.operator         ordinary | cii | state_organ (CAC deadlines)
  notify.covered_entity   true for a HIPAA covered entity
  notify.default_regimes  regimes for orgs the incidents file does not list
  notify.incidents        grouping, role permissions, org → regimes (YAML)
  notify.regimes, notify.templates   folders replacing the built-in ones
  notify.directory_file | notify.directory_url (+ VIGIL_NOTIFY_DIRECTORY_TOKEN)
  notify.smtp_addr, smtp_mode, smtp_user (+ VIGIL_NOTIFY_SMTP_PASSWORD), from
  notify.webhook_url (+ VIGIL_NOTIFY_WEBHOOK_SECRET) for SMS and push
  notify.letters, notify.call_list, notify.outbox
  notify.escalation_webhook   where deadline escalations go
It serves the API (/api/v1/…), the console (/console/), /metrics and
/healthz on notify.listen (default 127.0.0.1:8090).

Exit status: 0 stopped on a signal, 1 failed while running, 2 configuration error.`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("listen", "notify.listen", "HTTP `address` for the API, console, /metrics and /healthz")
			fs.key("brokers", "bus.brokers", "Kafka bootstrap `brokers`, comma-separated")
			fs.key("clickhouse", "clickhouse.addr", "ClickHouse native `addresses` (the store the scope comes from)")
			fs.key("database", "clickhouse.database", "ClickHouse `database` holding Vigil's tables")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) == 2 && c.args[0] == "hash-token" {
				fmt.Fprintln(c.stdout(), auth.Hash(c.args[1]))
				return ExitOK
			}
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments (or: hash-token TOKEN), got %q", c.args)
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			var ps []config.Problem
			if len(cfg.Bus.Brokers) == 0 {
				ps = append(ps, config.Problem{Key: "bus.brokers", Reason: "required: the Kafka brokers of the alerts, incidents and notices topics"})
			} else {
				ps = append(ps, validateBus(cfg.Bus)...)
			}
			if len(cfg.Notify.Operators) == 0 {
				ps = append(ps, config.Problem{Key: "notify.operators", Reason: "required: nobody could confirm an incident or approve a notice"})
			}
			if cfg.Notify.DPO == "" {
				ps = append(ps, config.Problem{Key: "notify.dpo", Reason: "required: the DPO contact quoted in notices and reports"})
			}
			if len(ps) > 0 {
				fmt.Fprintf(c.stderr(), "vigil notify: %v\n", &config.Error{Problems: ps})
				return ExitUsage
			}
			log, err := telemetry.NewLogger(cfg.Log, c.stderr())
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			rd, closeStore, where, code := openReport(ctx, c, cfg, "")
			if rd == nil {
				return code
			}
			defer closeStore()
			reg := telemetry.NewRegistry()
			nt, err := notifier.Assemble(ctx, cfg.Notify, notifier.Deps{Bus: cfg.Bus, Store: rd, Logger: log, Registerer: reg,
				Getenv: func(k string) string { return lookupEnv(c.env.Environ, k) }})
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			defer nt.Close()
			health := telemetry.NewHealth(reg, 2*time.Second,
				telemetry.Check{Name: "kafka", Fn: func(ctx context.Context) error { return bus.Ping(ctx, cfg.Bus) }})
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", telemetry.MetricsHandler(reg))
			mux.Handle("GET /healthz", health)
			mux.Handle("/api/", nt.API.Handler())
			mux.Handle("/console/", console.Handler("/console/"))
			srv, ln, err := listenHTTP(cfg.Notify.Listen, mux, log)
			if err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			go func() { _ = srv.Serve(ln) }()
			fmt.Fprintf(c.stdout(), "Vigil notifier is running: alerts from %v, scope from %s; API and console on http://%s/console/\n",
				cfg.Bus.Brokers, where, ln.Addr())
			runErr := nt.Run(ctx)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			_ = srv.Shutdown(sctx)
			if runErr != nil {
				return c.fail(ExitFailure, "%v", runErr)
			}
			return ExitOK
		},
	}
}
