package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/vigil-audit/vigil/detector/behave"
	"github.com/vigil-audit/vigil/detector/rules"
	"github.com/vigil-audit/vigil/detector/runner"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/telemetry"
)

// DefaultRulesDir is where `vigil detect` looks for the shipped rule pack
// when detect.rules is empty: relative to the working directory, as in a
// checkout or an installation that keeps the pack beside the binary's
// working directory.
const DefaultRulesDir = "detector/rules"

// DetectConfig is the `detect:` section: the rules and behaviours, and
// how the detector runs on Kafka (runner.Config: group, topics, snapshots,
// commits, detector options).
type DetectConfig struct {
	// Rules is the directory of rule files (*.yml, *.yaml, read
	// recursively). Empty means the shipped pack: DefaultRulesDir if it
	// exists in the working directory, else the copy built into the
	// binary.
	Rules string `yaml:"rules"`
	// TimeZones maps an org to its IANA time zone ("Asia/Shanghai"): the
	// rules' time modifiers (hour, day, …) and the off_hours behaviour
	// read that org's events in local time. Orgs not listed use
	// DefaultTimeZone. Empty means every org uses DefaultTimeZone.
	TimeZones map[string]string `yaml:"time_zones"`
	// DefaultTimeZone is the IANA time zone of orgs not in TimeZones.
	// Empty means UTC.
	DefaultTimeZone string `yaml:"default_time_zone"`
	// Behaviours configures the built-in behaviours (baselines, first
	// seen, impossible travel, …), each enabled by default; set
	// behaviours.<name>.enabled: false to turn one off. The off_hours
	// behaviour takes detect.time_zones unless its own are set.
	Behaviours behave.Config `yaml:"behaviours"`
	// Config is the runtime: group, access_topic, device_topic,
	// alerts_topic, state_topic, snapshot_interval, snapshot_events,
	// commit_interval, max_batch, write_timeout, restore_timeout,
	// unready_after and options (lateness, suppression, limits,
	// exceptions).
	runner.Config `yaml:",inline"`
}

// defaultDetect returns the defaults of the detect section.
func defaultDetect() DetectConfig {
	return DetectConfig{Behaviours: behave.Defaults(), Config: runner.Defaults()}
}

// problems checks the section; the rules directory is checked when the
// rules are loaded.
func (d *DetectConfig) problems() []config.Problem {
	var ps []config.Problem
	for _, p := range config.FromError(d.Config.Validate(), "detect.") {
		if p.Key != "" {
			p.Key = "detect." + p.Key
		}
		ps = append(ps, p)
	}
	for _, org := range slices.Sorted(maps.Keys(d.TimeZones)) {
		if _, err := time.LoadLocation(d.TimeZones[org]); err != nil || d.TimeZones[org] == "" {
			ps = append(ps, config.Problem{Key: "detect.time_zones." + org, Reason: fmt.Sprintf("%q is not an IANA time zone (e.g. Asia/Shanghai)", d.TimeZones[org])})
		}
	}
	if _, err := time.LoadLocation(d.DefaultTimeZone); err != nil {
		ps = append(ps, config.Problem{Key: "detect.default_time_zone", Reason: fmt.Sprintf("%q is not an IANA time zone (e.g. Asia/Shanghai)", d.DefaultTimeZone)})
	}
	for _, p := range config.FromError(d.behaviours().Validate(), behave.KeyPrefix) {
		if p.Key != "" {
			p.Key = "detect." + behave.KeyPrefix + p.Key
		}
		ps = append(ps, p)
	}
	return ps
}

// behaviours returns the behaviours' configuration with the detector's
// time zones given to off_hours when it has none of its own.
func (d *DetectConfig) behaviours() behave.Config {
	b := d.Behaviours
	if len(b.OffHours.TimeZones) == 0 && len(d.TimeZones) > 0 {
		b.OffHours.TimeZones = d.TimeZones
	}
	if d.DefaultTimeZone != "" && (b.OffHours.DefaultTimeZone == "" || b.OffHours.DefaultTimeZone == "UTC") {
		b.OffHours.DefaultTimeZone = d.DefaultTimeZone
	}
	return b
}

// sigmaOptions returns the rule loader's options: the time zones.
func (d *DetectConfig) sigmaOptions() sigma.Options {
	var o sigma.Options
	if d.DefaultTimeZone != "" {
		o.DefaultTimeZone, _ = time.LoadLocation(d.DefaultTimeZone)
	}
	for org, name := range d.TimeZones {
		if loc, err := time.LoadLocation(name); err == nil {
			if o.TimeZones == nil {
				o.TimeZones = map[string]*time.Location{}
			}
			o.TimeZones[org] = loc
		}
	}
	return o
}

func detectCommand() *command {
	return &command{
		name:    "detect",
		summary: "Run the detector: rules, correlations and behaviours over the event topics",
		usage:   "[--config FILE] [flags]",
		help: `Reads vigil.access.v1 and vigil.device.v1 as one consumer group (detect.group),
evaluates the Sigma-compatible rules in detect.rules (detection rules and
correlations: counts, distinct values, sums and sequences over time windows)
and the built-in behaviours (detect.behaviours: baselines, first seen,
impossible travel, care relationship, off hours, device risk), and produces
alerts to vigil.alerts.v1, keyed by the alert's group (org/actor or
org/device). Every alert has a deterministic id (rule, group, window start);
repeats fold into it, so a record is the alert's full current state and
consumers keep the latest.

Windows run on each event's occurred_at, per Kafka partition (one actor's or
one device's events are all on one partition), so the same events always
give the same alerts. Start more instances with the same detect.group to
scale out: Kafka splits the partitions between them.

How state survives restarts and rebalances: each partition's detection state
(open windows, behaviours' baselines, open alerts) is snapshotted to the
compacted topic vigil.detector-state.v1 every detect.snapshot_interval or
detect.snapshot_events, and when the partition is revoked or the detector
stops; the committed offset points at the snapshot. The alerts of an event
are produced (acks=all) before its offset is committed. A partition that
moves to another instance, or comes back after a crash, is restored from its
snapshot and replays the events up to the committed offset with alerts
muted (they were produced before), then goes live: no correlation spanning
the move is missed, and an alert raised again has the same id.

Rule files that do not load are reported with file:line, all at once, and
the detector exits with status 2 without touching Kafka; check rules and
their test cases first with 'vigil rules test DIR'. /metrics and
/healthz are served on http.listen (docs: detector/runner package doc lists
every metric).

Configuration (YAML file, VIGIL_* env or flags):
  detect.rules               rule directory (default: ./detector/rules if present, else the pack built into the binary)
  detect.group               consumer group (default vigil-detector)
  detect.time_zones          org: IANA zone, for hour/day modifiers and off_hours
  detect.default_time_zone   zone of other orgs (default UTC)
  detect.snapshot_interval   1m; detect.snapshot_events 1000000
  detect.options             lateness, default_suppression, suppression,
                             max_groups, max_alerts, exceptions, ...
  detect.behaviours          per behaviour: enabled, thresholds, limits

Example:
  VIGIL_BUS_BROKERS=kafka-1:9092 VIGIL_HTTP_LISTEN=127.0.0.1:8083 \
    vigil detect --rules /etc/vigil/rules --config detect.yml
with detect.yml:
  detect:
    time_zones: {hosp-sh: Asia/Shanghai, hosp-be: Europe/Berlin}
    options:
      lateness: 2m
      suppression: {vigil-break-glass: 24h}`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("listen", "http.listen", "HTTP `address` for /metrics and /healthz")
			fs.key("brokers", "bus.brokers", "Kafka bootstrap `brokers`, comma-separated")
			fs.key("rules", "detect.rules", "rule `directory` (*.yml, *.yaml, recursively)")
			fs.key("group", "detect.group", "Kafka consumer `group` shared by the detector instances")
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
				ps = append(ps, config.Problem{Key: "bus.brokers", Reason: "required: the Kafka brokers to consume from and produce to"})
			} else {
				ps = append(ps, validateBus(cfg.Bus)...)
			}
			builtIn := false
			if cfg.Detect.Rules == "" {
				if st, err := os.Stat(DefaultRulesDir); err == nil && st.IsDir() {
					cfg.Detect.Rules = DefaultRulesDir
				} else {
					builtIn = true // the pack embedded in the binary
				}
			}
			ps = append(ps, cfg.Detect.problems()...)
			if len(ps) > 0 {
				fmt.Fprintf(c.stderr(), "vigil detect: %v\n", &config.Error{Problems: ps})
				return ExitUsage
			}
			var set *sigma.Set
			var err error
			if builtIn {
				cfg.Detect.Rules = "the built-in pack"
				set, err = sigma.LoadFS(rules.FS, cfg.Detect.sigmaOptions())
			} else {
				set, err = sigma.LoadDir(cfg.Detect.Rules, cfg.Detect.sigmaOptions())
			}
			if err != nil {
				var le *sigma.LoadError
				if errors.As(err, &le) {
					fmt.Fprintf(c.stderr(), "vigil detect: the rules in %s do not load (%d problems):\n", cfg.Detect.Rules, len(le.Problems))
					for _, p := range le.Problems {
						fmt.Fprintf(c.stderr(), "  %s\n", p)
					}
					return ExitUsage
				}
				return c.fail(ExitUsage, "rules: %v", err)
			}
			log, err := telemetry.NewLogger(cfg.Log, c.stderr())
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			return runDetect(ctx, c, cfg, set, log)
		},
	}
}

func runDetect(ctx context.Context, c *invocation, cfg *Config, set *sigma.Set, log *slog.Logger) int {
	reg := telemetry.NewRegistry()
	r, err := runner.New(cfg.Detect.Config, cfg.Bus, set,
		runner.WithLogger(log), runner.WithRegisterer(reg),
		runner.WithBehaviours(cfg.Detect.detectorBuild().Behaviours))
	if err != nil {
		return c.fail(ExitUsage, "%v", err)
	}
	health := telemetry.NewHealth(reg, 2*time.Second,
		telemetry.Check{Name: "kafka", Fn: func(ctx context.Context) error { return bus.Ping(ctx, cfg.Bus) }},
		telemetry.Check{Name: "detector", Fn: func(context.Context) error { return r.Ready() }},
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.MetricsHandler(reg))
	mux.Handle("GET /healthz", health)
	srv, ln, err := listenHTTP(cfg.HTTP.Listen, mux, log)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	go func() { _ = srv.Serve(ln) }()
	d := cfg.Detect.Config
	fmt.Fprintf(c.stdout(), "Vigil detector is running: %d rules and %d correlations from %s; group %s reads %s and %s on %v → %s; /metrics and /healthz on http://%s/\n",
		len(set.Rules), len(set.Correlations), cfg.Detect.Rules, d.Group, d.AccessTopic, d.DeviceTopic, cfg.Bus.Brokers, d.AlertsTopic, ln.Addr())

	runErr := r.Run(ctx) // on ctx's end it stops gracefully itself
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil {
		log.Warn("detector did not stop cleanly", "err", err)
	}
	_ = srv.Shutdown(sctx)
	if runErr != nil {
		return c.fail(ExitFailure, "%v", runErr)
	}
	return ExitOK
}
