package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
)

func simulateCommand() *command {
	var (
		o        simulateFlags
		describe bool
	)
	return &command{
		name:    "simulate",
		summary: "Generate realistic access and device traffic with labelled anomalies",
		usage:   "(--out DIR | --collector URL | --brokers ADDRS) [--seed N] [--rate R] [--duration D | --real-time] [flags]",
		help: `Generates the traffic of a few hospitals and their patients' app: staff of
every role on day, night and on-call shifts reading, searching, updating,
printing and exporting records in each hospital's own time zone (quiet
nights, busy mornings), service accounts, and app users logging in, paying
and passing real-name and face checks. Into it go labelled incidents of ten
kinds, each once an hour by default:

  vip_snooping                      staff outside a VIP's care read their record
  bulk_export                       thousands of records, or a hundred patients, exported
  off_hours_browsing                a day-shift person reads sensitive records at night
  no_relationship_access            health/prescription/biometric data read, relationship
                                    false, no break-glass
  denied_burst                      dozens of denied accesses within minutes
  compromised_account               the same account in two far-apart places within
                                    minutes, on a new device and network
  device_farm                       one phone used by a dozen or more accounts
  emulator_realname                 an emulator or hook framework in real-name or face checks
  departing_employee_exfiltration   a person on notice touches 150+ patients in two hours
  dormant_account                   an account idle for weeks reads dozens of sensitive records

The background also holds the benign look-alikes a detector must let pass:
legitimate break-glass, night-shift and on-call staff at night, ward rounds,
nightly service exports, staff working abroad after a day off, shared family
phones, rooted phones. Each incident's label (labels.jsonl) gives its kind,
actor or device, subjects and accounts — raw and, with the pseudonymisation
key, as the collector's tokens — and the event_id of every event, so alerts
can be scored against it. docs/SIMULATOR.md describes every pattern.

Where the events go (exactly one):
  --out DIR          access.ndjson, device.ndjson and labels.jsonl in DIR
  --collector URL    POST /v1/access and /v1/device in NDJSON batches with the
                     bearer token (--token, VIGIL_INGEST_TOKEN, or DATA/ingest-token
                     of 'vigil up'); 503 is retried after Retry-After; rejected
                     events are reported and make the exit status 1
  --brokers ADDRS    straight to Kafka, pseudonymised first with the collector's
                     key exactly as the collector would (VIGIL_PSEUDONYMISE_KEY(_FILE),
                     pseudonymise.key_file, or DATA/pseudonymise.key)
Labels go to DIR/labels.jsonl with --out, else to --labels FILE or stdout.

Time: a simulated clock from --start for --duration, as fast as the output
takes it; or with --real-time, events at wall-clock speed (occurred_at is
now) until interrupted or for --duration. The same --seed and flags give
byte-identical files in simulated mode.

Examples:
  vigil simulate --out sim/                              # a day, 20 events/s, 10 kinds
  vigil simulate --out sim/ --seed 7 --rate 100 --duration 72h --incidents-per-hour 2
  vigil simulate --collector http://127.0.0.1:8080 --real-time --rate 5 \
      --first-incidents 10s --labels labels.jsonl      # a demo against 'vigil up'
  vigil simulate --brokers kafka-1:9092 --kinds bulk_export,denied_burst --labels l.jsonl
  vigil simulate --describe --rate 100                   # the population, nothing sent`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.fs.StringVar(&o.out, "out", "", "write access.ndjson, device.ndjson and labels.jsonl to this `folder`")
			fs.fs.StringVar(&o.collector, "collector", "", "post events to the collector at this base `URL` (http://127.0.0.1:8080)")
			fs.key("brokers", "bus.brokers", "produce events straight to Kafka at these `brokers`, comma-separated, pseudonymised first")
			fs.key("token", "ingest.token", "bearer `token` for --collector (prefer VIGIL_INGEST_TOKEN; default DATA/ingest-token)")
			fs.key("data", "data", "data `folder` of 'vigil up', for its ingest-token and pseudonymise.key")
			fs.fs.StringVar(&o.labels, "labels", "", "write labels to this `file` (- for stdout; default stdout, or DIR/labels.jsonl with --out)")
			fs.fs.Uint64Var(&o.seed, "seed", 1, "random seed `N`: the same seed and flags give the same traffic")
			fs.fs.StringVar(&o.start, "start", "", "`TIME` the simulated clock starts, RFC 3339 or a date (default "+simulate.DefaultStart.Format(time.RFC3339)+")")
			fs.fs.Var((*optDuration)(&o.duration), "duration", "how much `time` to generate (default 24h; with --real-time, until interrupted)")
			fs.fs.BoolVar(&o.realTime, "real-time", false, "pace events at wall-clock speed, occurred_at now (a live demo)")
			fs.fs.Float64Var(&o.rate, "rate", simulate.DefaultRate, "mean `events` per second over a week (nights are quieter); the population grows with it")
			fs.fs.IntVar(&o.orgs, "orgs", simulate.DefaultOrgs, "number of hospitals (`N`), each in its own time zone, up to 32")
			fs.fs.Float64Var(&o.perHour, "incidents-per-hour", simulate.DefaultIncidentsPerHour, "`N` incidents of each kind per hour (0: none)")
			fs.fs.StringVar(&o.kinds, "kinds", "all", "incident `kinds` to inject, comma-separated (see above)")
			fs.fs.Var((*optDuration)(&o.first), "first-incidents", "also play one incident of each kind, 30 times faster, this `duration` after the start (a demo)")
			fs.fs.IntVar(&o.batch, "batch", 0, "`events` per request (--collector, default 500) or produce call (--brokers, default 1000)")
			fs.fs.StringVar(&o.source, "source", "simulate", "the events' `source` with --brokers (the collector sets it from the token otherwise)")
			fs.fs.StringVar(&o.progress, "progress", "auto", "progress on stderr: `auto` (a line on a terminal, else every 10s for long runs), always, never")
			fs.fs.BoolVar(&describe, "describe", false, "print the population and the plan, and generate nothing")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments, got %q (see vigil simulate --help)", c.args)
			}
			o.kafka = c.fs.isSet("brokers")
			scfg, probs := o.config(describe)
			if len(probs) > 0 {
				return c.fail(ExitUsage, "%s", strings.Join(probs, "; "))
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			if describe {
				s, err := simulate.New(scfg)
				if err != nil {
					return c.fail(ExitUsage, "%v", err)
				}
				s.Describe(c.stdout())
				return ExitOK
			}
			return runSimulate(ctx, c, cfg, o, scfg)
		},
	}
}

// optDuration is a duration flag whose zero means "not given" and is not
// shown as a default.
type optDuration time.Duration

func (d *optDuration) String() string {
	if d == nil || *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *optDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 90s, 30m or 72h")
	}
	*d = optDuration(v)
	return nil
}

type simulateFlags struct {
	out, collector, labels, start, kinds, source, progress string
	seed                                                   uint64
	duration, first                                        time.Duration
	realTime, kafka                                        bool
	rate, perHour                                          float64
	orgs, batch                                            int
}

// config checks the flags and builds the simulator's configuration.
func (o *simulateFlags) config(describe bool) (simulate.Config, []string) {
	var probs []string
	n := 0
	for _, set := range []bool{o.out != "", o.collector != "", o.kafka} {
		if set {
			n++
		}
	}
	if n != 1 && !describe {
		probs = append(probs, "give exactly one destination: --out DIR, --collector URL or --brokers ADDRS")
	}
	if o.out != "" && o.labels != "" {
		probs = append(probs, "--labels is for --collector and --brokers; with --out, labels go to DIR/"+simulate.LabelsFile)
	}
	cfg := simulate.Config{Seed: o.seed, Duration: o.duration, RealTime: o.realTime, Rate: o.rate, Orgs: o.orgs,
		IncidentsPerHour: o.perHour, NoIncidents: o.perHour == 0, FirstIncidentsAfter: o.first}
	if cfg.NoIncidents {
		cfg.IncidentsPerHour = 0
	}
	if o.rate <= 0 {
		probs = append(probs, fmt.Sprintf("--rate: %v is not a positive number of events per second", o.rate))
	}
	if o.orgs <= 0 || o.orgs > simulate.MaxOrgs {
		probs = append(probs, fmt.Sprintf("--orgs: %d is not between 1 and %d", o.orgs, simulate.MaxOrgs))
	}
	if o.start != "" {
		if o.realTime {
			probs = append(probs, "--start and --real-time exclude each other: in real time the clock starts now")
		} else if t, err := parseTime(o.start); err != nil {
			probs = append(probs, "--start: "+err.Error())
		} else {
			cfg.Start = t
		}
	}
	kinds, err := simulate.ParseKinds(o.kinds)
	if err != nil {
		probs = append(probs, "--kinds: "+err.Error())
	}
	cfg.Kinds = kinds
	switch o.progress {
	case "auto", "always", "never":
	default:
		probs = append(probs, fmt.Sprintf("--progress %q: want auto, always or never", o.progress))
	}
	if o.batch < 0 {
		probs = append(probs, fmt.Sprintf("--batch: %d is negative", o.batch))
	}
	if len(probs) == 0 {
		if err := cfg.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				probs = append(probs, flagName(line))
			}
		}
	}
	return cfg, probs
}

// flagName turns the simulator's field names into the flags that set them.
func flagName(msg string) string {
	r := strings.NewReplacer("incidents_per_hour:", "--incidents-per-hour:", "first_incidents_after:", "--first-incidents:",
		"duration:", "--duration:", "rate:", "--rate:", "orgs:", "--orgs:", "start:", "--start:")
	return r.Replace(msg)
}

// isSet reports whether the keyed flag name was given on the command line.
func (f *flagSet) isSet(name string) bool {
	for _, k := range f.keyed {
		if k.name == name && k.set {
			return true
		}
	}
	return false
}

func runSimulate(ctx context.Context, c *invocation, cfg *Config, o simulateFlags, scfg simulate.Config) int {
	// The key: needed for --brokers, and gives labels the collector's tokens.
	key, keyErr := simulateKey(c, cfg)
	switch {
	case o.kafka && keyErr != nil:
		return c.fail(ExitUsage, "--brokers: the events must be pseudonymised with the collector's key before they reach Kafka: %v", keyErr)
	case keyErr != nil && !errors.Is(keyErr, pseudo.ErrNoKey):
		return c.fail(ExitUsage, "%v", keyErr)
	case keyErr != nil:
		fmt.Fprintf(c.stderr(), "vigil simulate: no pseudonymisation key found (VIGIL_PSEUDONYMISE_KEY, pseudonymise.key_file or %s): labels carry raw ids only, without the collector's tokens\n",
			filepath.Join(cfg.Data, "pseudonymise.key"))
	default:
		scfg.Key = key
	}
	scfg.Logger = slog.New(slog.NewTextHandler(c.stderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	sim, err := simulate.New(scfg)
	if err != nil {
		return c.fail(ExitUsage, "%v", err)
	}

	var (
		sink    simulate.Sink
		finish  []func(context.Context) error
		dest    string
		summary func() string
	)
	labels := func() (simulate.Sink, error) {
		if o.labels == "" || o.labels == "-" {
			return simulate.NewWriterSink(nil, nil, c.stdout()), nil
		}
		f, err := os.OpenFile(o.labels, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("--labels %s exists; remove it or choose another file", o.labels)
			}
			return nil, fmt.Errorf("--labels: %w", err)
		}
		ws := simulate.NewWriterSink(nil, nil, f)
		finish = append(finish, func(ctx context.Context) error { return errors.Join(ws.Flush(ctx), f.Close()) })
		return ws, nil
	}
	switch {
	case o.out != "":
		d, err := simulate.NewDirSink(o.out)
		if err != nil {
			return c.fail(ExitFailure, "--out: %v", err)
		}
		sink, dest = d, o.out
		finish = append(finish, func(context.Context) error { return d.Close() })
	case o.collector != "":
		token, err := simulateToken(cfg)
		if err != nil {
			return c.fail(ExitUsage, "%v", err)
		}
		hs, err := simulate.NewHTTPSink(simulate.HTTPConfig{URL: o.collector, Token: token, BatchSize: o.batch,
			Logger: slog.New(slog.NewTextHandler(c.stderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return c.fail(ExitUsage, "--collector: %v", err)
		}
		ls, err := labels()
		if err != nil {
			return c.fail(ExitFailure, "%v", err)
		}
		sink, dest = simulate.Tee(hs, ls), "the collector at "+o.collector
		finish = append([]func(context.Context) error{hs.Close}, finish...)
		summary = func() string {
			st := hs.Stats()
			s := fmt.Sprintf("; %d requests, %d retries, %d accepted, %d rejected", st.Requests, st.Retries, st.Accepted, st.Rejected)
			if st.Unsent > 0 {
				s += fmt.Sprintf(", %d not sent", st.Unsent)
			}
			return s
		}
	default:
		if len(cfg.Bus.Brokers) == 0 {
			return c.fail(ExitUsage, "--brokers: give at least one host:port")
		}
		if ps := validateBus(cfg.Bus); len(ps) > 0 {
			for _, p := range ps {
				fmt.Fprintf(c.stderr(), "vigil simulate: invalid configuration: %s\n", p)
			}
			return ExitUsage
		}
		p, err := pseudo.New(key, cfg.Pseudonymise)
		if err != nil {
			return c.fail(ExitUsage, "%v", err)
		}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = bus.EnsureTopics(tctx, cfg.Bus, mustTopic(bus.TopicAccess), mustTopic(bus.TopicDevice))
		cancel()
		if err != nil {
			return c.fail(ExitFailure, "%v", err)
		}
		ks, err := simulate.NewKafkaSink(simulate.KafkaConfig{Bus: cfg.Bus, Pseudonymiser: p, Source: o.source, BatchSize: o.batch})
		if err != nil {
			return c.fail(ExitFailure, "%v", err)
		}
		ls, err := labels()
		if err != nil {
			ks.Close(ctx)
			return c.fail(ExitFailure, "%v", err)
		}
		sink, dest = simulate.Tee(ks, ls), "Kafka at "+strings.Join(cfg.Bus.Brokers, ",")
		finish = append([]func(context.Context) error{ks.Close}, finish...)
		summary = func() string { return fmt.Sprintf("; %d records acknowledged by Kafka", ks.Written()) }
	}

	sim.Describe(c.stderr())
	fmt.Fprintf(c.stderr(), "output:     %s\n", dest)
	stopProgress := startSimProgress(c, sim, o.progress)
	began := time.Now()
	runErr := sim.Run(ctx, sink)
	stopProgress()
	interrupted := runErr != nil && ctx.Err() != nil
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var finishErr error
	for _, f := range finish {
		finishErr = errors.Join(finishErr, f(fctx))
	}
	st := sim.Stats()
	line := fmt.Sprintf("vigil simulate: %s events (%s access, %s device) and %s in %s to %s",
		group(st.Access+st.Device), group(st.Access), group(st.Device), plural(st.Labels, "labelled incident"),
		time.Since(began).Round(time.Millisecond), dest)
	if st.Partial > 0 {
		line += fmt.Sprintf("; %s cut short, labelled partial", plural(st.Partial, "incident"))
	}
	if st.Skipped > 0 {
		line += fmt.Sprintf("; %s not placed (no one suitable at work, or too close to the end)", plural(st.Skipped, "incident"))
	}
	if summary != nil {
		line += summary()
	}
	fmt.Fprintln(c.stderr(), line)
	switch {
	case interrupted && scfg.RealTime && finishErr == nil:
		return ExitOK // a live run ends when it is stopped
	case interrupted:
		return c.fail(ExitFailure, "interrupted%s", errSuffix(finishErr))
	case runErr != nil:
		return c.fail(ExitFailure, "%v%s", runErr, errSuffix(finishErr))
	case finishErr != nil:
		return c.fail(ExitFailure, "%v", finishErr)
	}
	return ExitOK
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return "; then: " + err.Error()
}

func mustTopic(name string) bus.TopicSpec {
	t, _ := bus.LookupTopic(name)
	return t
}

// simulateKey loads the collector's pseudonymisation key: from the
// environment or configuration, else from the data folder of 'vigil up'.
func simulateKey(c *invocation, cfg *Config) (pseudo.Key, error) {
	key, err := pseudo.LoadKey(c.env.Environ, cfg.Pseudonymise)
	if errors.Is(err, pseudo.ErrNoKey) {
		path := filepath.Join(cfg.Data, "pseudonymise.key")
		if _, statErr := os.Stat(path); statErr == nil {
			pc := cfg.Pseudonymise
			pc.KeyFile = path
			return pseudo.LoadKey(nil, pc)
		}
	}
	return key, err
}

// simulateToken returns the ingest token: configured, or saved by 'vigil
// up' in its data folder.
func simulateToken(cfg *Config) (string, error) {
	if cfg.Ingest.Token != "" {
		return cfg.Ingest.Token, nil
	}
	path := filepath.Join(cfg.Data, "ingest-token")
	t, err := config.ReadSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("--collector needs the bearer token of a source: give --token or VIGIL_INGEST_TOKEN, or --data DIR of 'vigil up' (no token in %s: %v)", path, err)
	}
	if t = strings.TrimSpace(t); t == "" {
		return "", fmt.Errorf("%s is empty: give --token or VIGIL_INGEST_TOKEN", path)
	}
	return t, nil
}

// startSimProgress prints progress on stderr until the returned function
// is called: a redrawn line on a terminal, else a line every 10 seconds.
func startSimProgress(c *invocation, sim *simulate.Simulator, mode string) func() {
	if mode == "never" {
		return func() {}
	}
	terminal := false
	if f, ok := c.stderr().(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			terminal = true
		}
	}
	every := 10 * time.Second
	if terminal {
		every = 500 * time.Millisecond
	}
	if mode == "auto" && !terminal && sim.ExpectedEvents() > 0 && sim.ExpectedEvents() < 1_000_000 {
		return func() {} // short runs to a log need no progress lines
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		began := time.Now()
		total := sim.ExpectedEvents()
		for {
			select {
			case <-done:
				if terminal {
					io.WriteString(c.stderr(), "\r\x1b[K")
				}
				return
			case <-t.C:
				st := sim.Stats()
				n := st.Access + st.Device
				var b strings.Builder
				if terminal {
					b.WriteString("\r\x1b[K")
				}
				fmt.Fprintf(&b, "vigil simulate: %s events, %d incidents", group(n), st.Labels)
				if !st.SimTime.IsZero() {
					fmt.Fprintf(&b, ", clock at %s", event.NewTimestamp(st.SimTime))
				}
				if el := time.Since(began).Seconds(); el > 0 {
					fmt.Fprintf(&b, ", %s events/s", group(int64(float64(n)/el)))
				}
				if total > 0 {
					if end := sim.End(); !end.IsZero() && !st.SimTime.IsZero() {
						frac := float64(st.SimTime.Sub(sim.Start())) / float64(end.Sub(sim.Start()))
						fmt.Fprintf(&b, ", %.0f%%", 100*min(frac, 1))
					}
				}
				if !terminal {
					b.WriteString("\n")
				}
				io.WriteString(c.stderr(), b.String())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return group(n) + " " + what + "s"
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
