package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/telemetry"
)

func storeCommand() *command {
	var (
		keep string
		yes  bool
	)
	return &command{
		name:    "store",
		summary: "Manage the ClickHouse store: apply migrations, drop data past retention",
		usage:   "migrate | retention --keep PERIOD [--yes]",
		help: `vigil store migrate
    Creates clickhouse.database if needed and applies the pending schema
    migrations. Idempotent and safe to run from several hosts at once
    ('vigil sink' does the same on start).

vigil store retention --keep PERIOD [--yes]
    Drops whole monthly partitions older than PERIOD (e.g. 180d, 12mo, 2y)
    from every table. Periods under six months are refused: network logs
    must be kept at least six months. Without --yes it only prints what it
    would drop.`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("clickhouse", "clickhouse.addr", "ClickHouse native `addresses`, comma-separated")
			fs.key("database", "clickhouse.database", "ClickHouse `database` holding Vigil's tables")
			fs.fs.StringVar(&keep, "keep", "", "retention: keep this `period` (180d, 12mo, 2y; at least six months)")
			fs.fs.BoolVar(&yes, "yes", false, "retention: really drop the partitions listed")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) != 1 || (c.args[0] != "migrate" && c.args[0] != "retention") {
				return c.fail(ExitUsage, "want one action, migrate or retention (see vigil store --help)")
			}
			action := c.args[0]
			var k store.Keep
			if action == "retention" {
				if keep == "" {
					return c.fail(ExitUsage, "retention needs --keep PERIOD (for example 180d or 12mo)")
				}
				var err error
				if k, err = store.ParseKeep(keep); err != nil {
					return c.fail(ExitUsage, "--keep: %v", err)
				}
				if _, err := store.RetentionCutoff(time.Now(), k); err != nil {
					return c.fail(ExitUsage, "--keep %s: %v", keep, err)
				}
			} else if keep != "" || yes {
				return c.fail(ExitUsage, "--keep and --yes belong to the retention action")
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			if len(cfg.ClickHouse.Addr) == 0 {
				fmt.Fprintf(c.stderr(), "vigil store: %v\n", &config.Error{Problems: []config.Problem{{Key: "clickhouse.addr", Reason: "required"}}})
				return ExitUsage
			}
			log, err := telemetry.NewLogger(cfg.Log, c.stderr())
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			octx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			conn, err := store.Open(octx, store.ClickHouseConfig{Addr: cfg.ClickHouse.Addr, Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password, DialTimeout: cfg.ClickHouse.DialTimeout})
			if err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			defer conn.Close()
			db := cfg.ClickHouse.Database
			if action == "migrate" {
				applied, err := store.Migrate(ctx, conn, db)
				if err != nil {
					return c.fail(ExitFailure, "%v", err)
				}
				if len(applied) == 0 {
					fmt.Fprintf(c.stdout(), "Database %s is up to date.\n", db)
				} else {
					fmt.Fprintf(c.stdout(), "Applied to %s: %v\n", db, applied)
				}
				log.Info("migrations applied", "database", db, "applied", applied)
				return ExitOK
			}
			now := time.Now()
			parts, err := store.ListPartitions(ctx, conn, db)
			if err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			plan, err := store.PlanRetention(now, k, parts)
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			cutoff, _ := store.RetentionCutoff(now, k)
			if len(plan) == 0 {
				fmt.Fprintf(c.stdout(), "Nothing to drop: no partition of %s ends before %s (keep %s).\n", db, cutoff.Format("2006-01-02"), k)
				return ExitOK
			}
			fmt.Fprintf(c.stdout(), "Partitions of %s that end before %s (keep %s):\n", db, cutoff.Format("2006-01-02"), k)
			tw := tabwriter.NewWriter(c.stdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  table\tmonth\trows\tbytes")
			var rows, bytes uint64
			for _, p := range plan {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\n", p.Table, p.Month.Format("2006-01"), p.Rows, p.Bytes)
				rows += p.Rows
				bytes += p.Bytes
			}
			tw.Flush()
			fmt.Fprintf(c.stdout(), "  %d partitions, %d rows, %d bytes\n", len(plan), rows, bytes)
			if !yes {
				fmt.Fprintln(c.stdout(), "Nothing was dropped: run again with --yes to drop them.")
				return ExitOK
			}
			if err := store.DropPartitions(ctx, conn, db, plan); err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			fmt.Fprintf(c.stdout(), "Dropped %d partitions.\n", len(plan))
			log.Info("retention applied", "database", db, "keep", k.String(), "partitions", len(plan), "rows", rows)
			return ExitOK
		},
	}
}
