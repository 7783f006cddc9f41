package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/report"
)

// reportIncident runs `vigil report incident ID --regime R`.
func reportIncident(ctx context.Context, c *invocation, args []string, rf reportFlags, regime, version string) int {
	var probs []string
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		probs = append(probs, fmt.Sprintf("incident takes exactly one incident ID, got %d arguments", len(args)))
	}
	switch regime {
	case "cac", "gdpr", "hipaa":
	case "":
		probs = append(probs, "--regime is required: cac, gdpr or hipaa")
	default:
		probs = append(probs, fmt.Sprintf("--regime %q: want cac, gdpr or hipaa", regime))
	}
	format := rf.format
	if format != "json" && format != "csv" && format != "pdf" {
		probs = append(probs, fmt.Sprintf("--format %q: the incident report is json, csv or pdf", format))
	}
	if rf.from != "" || rf.to != "" {
		probs = append(probs, "--from and --to belong to the subject and actor reports")
	}
	if len(probs) > 0 {
		return c.fail(ExitUsage, "%s", strings.Join(probs, "; "))
	}
	cfg := defaultConfig()
	if !c.fs.load(c, cfg) {
		return ExitUsage
	}
	if len(cfg.Bus.Brokers) == 0 {
		addr, err := embeddedBroker(rf.data)
		if err != nil {
			return c.fail(ExitUsage, "%v", err)
		}
		cfg.Bus.Brokers = []string{addr}
	}
	if ps := validateBus(cfg.Bus); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(c.stderr(), "vigil report: invalid configuration: %s\n", p)
		}
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	id := args[0]
	inc, err := findLatest(ctx, cfg.Bus, bus.TopicIncidents, id, func(i *event.Incident) string { return i.IncidentID })
	if err != nil {
		if errors.Is(err, errRecordNotFound) {
			return c.fail(ExitFailure, "incident %s: %v (give the full id, as 'vigil incident list' shows it)", id, err)
		}
		return c.fail(ExitFailure, "incident %s: %v", id, err)
	}
	rs, err := report.Build(&inc, regime, version, report.Options{})
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	out, finish, err := openOutput(c, rf.output)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	switch format {
	case "csv":
		err = report.WriteCSV(out, rs)
	case "pdf":
		err = report.WritePDF(out, rs)
	default:
		err = report.WriteJSON(out, rs)
	}
	if ferr := finish(err == nil); err == nil {
		err = ferr
	}
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	pending := 0
	for _, r := range rs {
		pending += r.PendingN
	}
	fmt.Fprintf(c.stderr(), "vigil report: %d %s report(s) of incident %s, %d field(s) pending\n", len(rs), regime, inc.IncidentID, pending)
	return ExitOK
}
