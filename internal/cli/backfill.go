package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/vigil-audit/vigil/detector/backfill"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// backfillHelp documents `vigil rules backfill` for the rules command's
// --help.
const backfillHelp = `vigil rules backfill RULES --from TIME --to TIME [--source kafka|store] [--data DIR] [--format table|json] [--emit]
    Runs the rules of RULES (a directory or a file) with the detector
    'vigil detect' builds (detect.behaviours, detect.time_zones,
    detect.default_time_zone, detect.options) over past events and
    reports the alerts they would have raised with a window start in
    [--from, --to), per rule: how many it would raise, how many of those
    were already raised (same alert id), and how many are new. Reading
    starts the longest correlation timespan before --from, so windows open
    at --from are complete. --format json prints every alert with its
    status (new or existing). Progress goes to stderr.
    --source says where the past events come from:
      kafka  the events still retained on detect.access_topic and
             detect.device_topic, each partition up to its end when the
             backfill started; already raised = on detect.alerts_topic.
      store  the events of the store: the embedded store of 'vigil up'
             with --data DIR, else ClickHouse (clickhouse.addr,
             clickhouse.database), up to the longest correlation timespan
             after --to; already raised = in the store's alerts table.
             The store keeps every field of the events, but not events
             it never got (dead letters, not yet written by the sink) nor
             months that retention dropped.
    Default: store when --data is given, else kafka.
    Nothing is produced unless --emit, which produces the new alerts only
    to detect.alerts_topic (keyed by their group key, as the detector
    does), so a second run of the same range finds them already raised
    (with --source store, once the sink has written them).`

// backfillFlags are the flags of `vigil rules backfill`.
type backfillFlags struct {
	from, to, format, source, data string
	emit                           bool
}

// register adds the backfill flags (and --config, --brokers) to fs.
func (b *backfillFlags) register(fs *flagSet) {
	fs.configFlags()
	fs.key("clickhouse", "clickhouse.addr", "backfill --source store: ClickHouse native `addresses`, comma-separated")
	fs.key("database", "clickhouse.database", "backfill --source store: ClickHouse `database` holding Vigil's tables")
	fs.key("brokers", "bus.brokers", "backfill: Kafka bootstrap `brokers`, comma-separated (default the embedded broker, 127.0.0.1:9092)")
	fs.fs.StringVar(&b.from, "from", "", "backfill: first window start, RFC 3339 `time` or YYYY-MM-DD (required)")
	fs.fs.StringVar(&b.to, "to", "", "backfill: end of the window starts, exclusive, RFC 3339 `time` or YYYY-MM-DD (required)")
	fs.fs.StringVar(&b.format, "format", "table", "backfill: output `format`, table or json")
	fs.fs.BoolVar(&b.emit, "emit", false, "backfill: produce the new alerts to the alerts topic (default: dry run)")
	fs.fs.StringVar(&b.source, "source", "", "backfill: where past events come from, `kafka or store` (default: store with --data, else kafka)")
	fs.fs.StringVar(&b.data, "data", "", "backfill: read the embedded store of 'vigil up' in this data `folder` (implies --source store)")
}

// backfillRow is the count of one rule.
type backfillRow struct {
	Rule     string `json:"rule_id"`
	Would    int    `json:"would_raise"`
	Existing int    `json:"already_raised"`
	New      int    `json:"new"`
}

// backfillAlert is one alert of the JSON output.
type backfillAlert struct {
	Status backfill.Status `json:"status"`
	Alert  event.Alert     `json:"alert"`
}

// rulesBackfill runs `vigil rules backfill RULES` (c.args[0] is "backfill").
func rulesBackfill(ctx context.Context, c *invocation, b *backfillFlags) int {
	if len(c.args) != 2 {
		return c.fail(ExitUsage, "backfill takes exactly one RULES directory or file, got %q", c.args[1:])
	}
	if b.format != "table" && b.format != "json" {
		return c.fail(ExitUsage, "--format: %q is not one of table|json", b.format)
	}
	if b.from == "" || b.to == "" {
		return c.fail(ExitUsage, "backfill needs --from and --to (RFC 3339 time or YYYY-MM-DD)")
	}
	from, err := parseTime(b.from)
	if err != nil {
		return c.fail(ExitUsage, "--from: %v", err)
	}
	to, err := parseTime(b.to)
	if err != nil {
		return c.fail(ExitUsage, "--to: %v", err)
	}
	if !from.Before(to) {
		return c.fail(ExitUsage, "--from %s is not before --to %s", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	source := b.source
	switch {
	case source == "" && b.data != "":
		source = "store"
	case source == "":
		source = "kafka"
	case source != "kafka" && source != "store":
		return c.fail(ExitUsage, "--source: %q is not one of kafka|store", source)
	case source == "kafka" && b.data != "":
		return c.fail(ExitUsage, "--data reads the embedded store: it goes with --source store, not kafka")
	}
	cfg := defaultConfig()
	if !c.fs.load(c, cfg) {
		return ExitUsage
	}
	if ps := cfg.Detect.problems(); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(c.stderr(), "vigil %s: invalid configuration: %s\n", c.cmd.name, p)
		}
		return ExitUsage
	}
	if len(cfg.Bus.Brokers) == 0 {
		cfg.Bus.Brokers = []string{bus.DefaultEmbeddedListen}
	}
	if source == "kafka" || b.emit {
		if ps := validateBus(cfg.Bus); len(ps) > 0 {
			for _, p := range ps {
				fmt.Fprintf(c.stderr(), "vigil %s: invalid configuration: %s\n", c.cmd.name, p)
			}
			return ExitUsage
		}
	}
	build := cfg.Detect.detectorBuild()
	src := c.args[1]
	set, status := loadRulesWith(c, src, "backfill", build.Rules)
	if set == nil {
		return status
	}

	var (
		results []backfill.Result
		sum     backfill.Summary
	)
	collect := func(r backfill.Result) { results = append(results, r) }
	if source == "kafka" {
		sum, err = backfill.Run(ctx, backfill.Config{
			Bus:         cfg.Bus,
			Set:         set,
			Options:     build.Options,
			Behaviours:  build.Behaviours,
			From:        from,
			To:          to,
			AccessTopic: cfg.Detect.AccessTopic,
			DeviceTopic: cfg.Detect.DeviceTopic,
			AlertsTopic: cfg.Detect.AlertsTopic,
			Progress: func(topic string, partition int, n int64) {
				fmt.Fprintf(c.stderr(), "vigil %s: backfill: read %d records of %s[%d]\n", c.cmd.name, n, topic, partition)
			},
		}, collect)
	} else {
		rd, closeStore, where, status := openReport(ctx, c, cfg, b.data)
		if rd == nil {
			return status
		}
		defer closeStore()
		fmt.Fprintf(c.stderr(), "vigil %s: backfill: reading %s\n", c.cmd.name, where)
		sum, err = backfill.RunStore(ctx, backfill.StoreConfig{
			Store:      rd,
			Set:        set,
			Options:    build.Options,
			Behaviours: build.Behaviours,
			From:       from,
			To:         to,
			Progress: func(n int64) {
				fmt.Fprintf(c.stderr(), "vigil %s: backfill: read %d events from the store\n", c.cmd.name, n)
			},
		}, collect)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return c.fail(ExitFailure, "interrupted: %v", err)
		}
		return c.fail(ExitFailure, "%v", err)
	}
	for _, topic := range slices.Sorted(maps.Keys(sum.Events)) {
		n := sum.Events[topic]
		fmt.Fprintf(c.stderr(), "vigil %s: backfill: %d events read from %s\n", c.cmd.name, n, topic) // a topic, or access/device of the store
	}
	if sum.BadEvents > 0 {
		fmt.Fprintf(c.stderr(), "vigil %s: backfill: %d records did not decode and were skipped\n", c.cmd.name, sum.BadEvents)
	}

	if b.emit {
		var fresh []event.Alert
		for _, r := range results {
			if r.Status == backfill.New {
				fresh = append(fresh, r.Alert)
			}
		}
		topic := cmp.Or(cfg.Detect.AlertsTopic, bus.TopicAlerts)
		if err := backfill.Emit(ctx, cfg.Bus, topic, fresh); err != nil {
			return c.fail(ExitFailure, "%v", err)
		}
		fmt.Fprintf(c.stderr(), "vigil %s: backfill: produced %d new alerts to %s\n", c.cmd.name, len(fresh), topic)
	}

	// Per rule, in the order of the results (rule id).
	var rows []backfillRow
	for _, r := range results {
		if len(rows) == 0 || rows[len(rows)-1].Rule != r.Alert.RuleID {
			rows = append(rows, backfillRow{Rule: r.Alert.RuleID})
		}
		row := &rows[len(rows)-1]
		row.Would++
		if r.Status == backfill.Existing {
			row.Existing++
		} else {
			row.New++
		}
	}
	if b.format == "json" {
		out := struct {
			From   time.Time       `json:"from"`
			To     time.Time       `json:"to"`
			Rules  []backfillRow   `json:"rules"`
			Alerts []backfillAlert `json:"alerts"`
		}{From: from, To: to, Rules: rows, Alerts: []backfillAlert{}}
		if out.Rules == nil {
			out.Rules = []backfillRow{}
		}
		for _, r := range results {
			out.Alerts = append(out.Alerts, backfillAlert{Status: r.Status, Alert: r.Alert})
		}
		enc := json.NewEncoder(c.stdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return c.fail(ExitFailure, "writing the output: %v", err)
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(c.stdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tWOULD RAISE\tALREADY RAISED\tNEW")
	total := backfillRow{Rule: "total"}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", r.Rule, r.Would, r.Existing, r.New)
		total.Would += r.Would
		total.Existing += r.Existing
		total.New += r.New
	}
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", total.Rule, total.Would, total.Existing, total.New)
	if err := tw.Flush(); err != nil {
		return c.fail(ExitFailure, "writing the output: %v", err)
	}
	return ExitOK
}
