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
const backfillHelp = `vigil rules backfill RULES --from TIME --to TIME [--format table|json]
    Runs the rules of RULES (a directory or a file) over the past events
    still retained in Kafka and reports the alerts they would have raised
    with a window start in [--from, --to), per rule: how many it would
    raise, how many of those are already on the alerts topic (same alert
    id), and how many are new. Reading starts the longest correlation
    timespan before --from, so windows open at --from are complete, and
    stops at each partition's end when the backfill started. Nothing is
    produced unless --emit, which produces the new alerts only (keyed by
    their group key, as the detector does), so a second run of the same
    range finds them already raised. --format json prints every alert with
    its status (new or existing). Progress goes to stderr. Topics are those
    of detect.access_topic, detect.device_topic and detect.alerts_topic.`

// backfillFlags are the flags of `vigil rules backfill`.
type backfillFlags struct {
	from, to, format string
	emit             bool
}

// register adds the backfill flags (and --config, --brokers) to fs.
func (b *backfillFlags) register(fs *flagSet) {
	fs.configFlags()
	fs.key("brokers", "bus.brokers", "backfill: Kafka bootstrap `brokers`, comma-separated (default the embedded broker, 127.0.0.1:9092)")
	fs.fs.StringVar(&b.from, "from", "", "backfill: first window start, RFC 3339 `time` or YYYY-MM-DD (required)")
	fs.fs.StringVar(&b.to, "to", "", "backfill: end of the window starts, exclusive, RFC 3339 `time` or YYYY-MM-DD (required)")
	fs.fs.StringVar(&b.format, "format", "table", "backfill: output `format`, table or json")
	fs.fs.BoolVar(&b.emit, "emit", false, "backfill: produce the new alerts to the alerts topic (default: dry run)")
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
	cfg := defaultConfig()
	if !c.fs.load(c, cfg) {
		return ExitUsage
	}
	if len(cfg.Bus.Brokers) == 0 {
		cfg.Bus.Brokers = []string{bus.DefaultEmbeddedListen}
	}
	if ps := validateBus(cfg.Bus); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(c.stderr(), "vigil %s: invalid configuration: %s\n", c.cmd.name, p)
		}
		return ExitUsage
	}
	src := c.args[1]
	set, status := loadRules(c, src, "backfill")
	if set == nil {
		return status
	}

	var results []backfill.Result
	sum, err := backfill.Run(ctx, backfill.Config{
		Bus:         cfg.Bus,
		Set:         set,
		Options:     cfg.Detect.Options,
		From:        from,
		To:          to,
		AccessTopic: cfg.Detect.AccessTopic,
		DeviceTopic: cfg.Detect.DeviceTopic,
		AlertsTopic: cfg.Detect.AlertsTopic,
		Progress: func(topic string, partition int, n int64) {
			fmt.Fprintf(c.stderr(), "vigil %s: backfill: read %d records of %s[%d]\n", c.cmd.name, n, topic, partition)
		},
	}, func(r backfill.Result) { results = append(results, r) })
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return c.fail(ExitFailure, "interrupted: %v", err)
		}
		return c.fail(ExitFailure, "%v", err)
	}
	for _, topic := range slices.Sorted(maps.Keys(sum.Events)) {
		n := sum.Events[topic]
		fmt.Fprintf(c.stderr(), "vigil %s: backfill: %d events read from %s\n", c.cmd.name, n, topic)
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
