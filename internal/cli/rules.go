package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/vigil-audit/vigil/detector/sigma"
)

// shippedPack names the embedded rule pack (rules.FS) in messages.
const shippedPack = "the shipped pack"

func rulesCommand() *command {
	var (
		runExpr string
		verbose bool
		bf      backfillFlags
	)
	return &command{
		name:    "rules",
		summary: "Check detection rules: run their test cases, list them, backfill them over past events",
		usage:   "test|list [--run REGEX] [-v] [DIR|FILE] | backfill RULES --from TIME [--to TIME] [--source kafka|store] [--data DIR] [--emit]",
		help: `vigil rules test [DIR|FILE]
    Loads the rules and runs every rule's test cases (the "tests" key: events
    that must and must not match), printing one line per rule — ok, FAIL, or
    none for a rule without cases — and, for each failed case, where it is
    and the value of every selection of the rule on that event. -v lists
    the passing cases too.

vigil rules list [DIR|FILE]
    Prints every rule: id, level, service, type and title. Type is
    "detection" for a rule that raises alerts, "feeder" for a detection rule
    that only feeds correlations, or the correlation type (event_count,
    value_count, value_sum, temporal, temporal_ordered).

Without DIR or FILE both use the rule pack shipped in this binary (the files
of detector/rules). DIR is read recursively (*.yml, *.yaml). Loading checks
every rule first — YAML, keys, fields, values, modifiers, conditions,
correlation references and thresholds, test events — and prints every
problem as file:line:column: rule: key: reason; nothing is tested while any
problem remains. Test cases run in UTC (write test times in UTC), as the
rule language documents. docs/RULES.md is the rule author's reference.

--run REGEX keeps the rules whose id, name or title matches the regular
expression (Go syntax, unanchored, like go test -run).

Exit status: 0 every case passed; 1 a case failed; 2 a load problem or a
usage error.

Examples:
  vigil rules test                              # the shipped pack
  vigil rules test ./my-rules/                  # your own rules
  vigil rules test -v --run 'vigil-access-00[1-4]' detector/rules
  vigil rules test site/vip.yml                 # one file
  vigil rules list --run device

` + backfillHelp,
		flags: func(fs *flagSet) {
			fs.fs.StringVar(&runExpr, "run", "", "only the rules whose id, name or title match this `REGEX`")
			fs.fs.BoolVar(&verbose, "v", false, "test: list the passing cases too")
			bf.register(fs)
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 && c.args[0] == "backfill" {
				return rulesBackfill(ctx, c, &bf)
			}
			if len(c.args) == 0 || (c.args[0] != "test" && c.args[0] != "list") {
				return c.fail(ExitUsage, "want an action, test, list or backfill (see vigil rules --help)")
			}
			action := c.args[0]
			if len(c.args) > 2 {
				return c.fail(ExitUsage, "%s takes at most one DIR or FILE, got %q", action, c.args[1:])
			}
			var filter *regexp.Regexp
			if runExpr != "" {
				re, err := regexp.Compile(runExpr)
				if err != nil {
					return c.fail(ExitUsage, "--run: %v", err)
				}
				filter = re
			}
			if verbose && action != "test" {
				return c.fail(ExitUsage, "-v belongs to the test action")
			}
			src := "" // the shipped pack
			if len(c.args) == 2 {
				src = c.args[1]
			}
			set, status := loadRules(c, src, action)
			if set == nil {
				return status
			}
			if action == "list" {
				return listRules(c, set, src, filter)
			}
			return testRules(c, set, src, filter, verbose)
		},
	}
}

// loadRules loads the rules of src (a directory or a file; "" is the
// shipped pack) for action (test or list), printing every load problem to
// stderr. It returns nil and the exit status when they cannot be used.
func loadRules(c *invocation, src, action string) (*sigma.Set, int) {
	return loadRulesWith(c, src, action, sigma.Options{})
}

// srcName names a rule source in messages.
func srcName(src string) string {
	if src == "" {
		return shippedPack
	}
	return src
}

// unwrapPathError drops the path an *fs.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func selected(filter *regexp.Regexp, m sigma.Meta) bool {
	return filter == nil || filter.MatchString(m.ID) || m.Name != "" && filter.MatchString(m.Name) || filter.MatchString(m.Title)
}

func testRules(c *invocation, set *sigma.Set, src string, filter *regexp.Regexp, verbose bool) int {
	var results []sigma.TestResult
	for _, r := range set.RunTests() {
		if selected(filter, r.Rule.Meta) {
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		return noRules(c, src, filter)
	}
	failed, err := writeTestReport(c.stdout(), results, verbose)
	if err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	if failed > 0 {
		return ExitFailure
	}
	return ExitOK
}

// writeTestReport writes sigma's test report; verbose adds a line for
// every case, passing or failing ("ok" or "FAIL"), under its rule.
func writeTestReport(w io.Writer, results []sigma.TestResult, verbose bool) (int, error) {
	if !verbose {
		return sigma.WriteTestReport(w, results)
	}
	var b strings.Builder
	for _, r := range results {
		// The rule line, as sigma writes it (its first line).
		var one strings.Builder
		if _, err := sigma.WriteTestReport(&one, []sigma.TestResult{r}); err != nil {
			return 0, err
		}
		head, _, _ := strings.Cut(one.String(), "\n")
		b.WriteString(head + "\n")
		for _, tc := range r.Cases {
			if tc.Passed {
				fmt.Fprintf(&b, "    ok   %s:%d %s\n", tc.File, tc.Line, tc.Key())
			} else {
				fmt.Fprintf(&b, "    FAIL %s:%d %s: %s\n", tc.File, tc.Line, tc.Key(), tc.Reason)
			}
		}
	}
	// The summary line, as sigma writes it (its last line).
	var all strings.Builder
	failed, err := sigma.WriteTestReport(&all, results)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	b.WriteString(lines[len(lines)-1] + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return failed, fmt.Errorf("writing test report: %w", err)
	}
	return failed, nil
}

// listRow is one line of `vigil rules list`.
type listRow struct {
	id, level, service, typ, title string
}

func listRules(c *invocation, set *sigma.Set, src string, filter *regexp.Regexp) int {
	var rows []listRow
	for _, r := range set.Rules {
		if !selected(filter, r.Meta) {
			continue
		}
		typ := "detection"
		if !r.Standalone {
			typ = "feeder"
		}
		if !r.Status.Active() {
			typ += " (" + string(r.Status) + ")"
		}
		rows = append(rows, listRow{r.ID, orDash(r.Level), string(r.Service), typ, r.Title})
	}
	for _, co := range set.Correlations {
		if !selected(filter, co.Meta) {
			continue
		}
		svc := ""
		if len(co.Inputs) > 0 && co.Inputs[0].Rule != nil {
			svc = string(co.Inputs[0].Rule.Service)
		}
		rows = append(rows, listRow{co.ID, orDash(co.Level), svc, string(co.Type), co.Title})
	}
	if len(rows) == 0 {
		return noRules(c, src, filter)
	}
	slices.SortStableFunc(rows, func(a, b listRow) int { return strings.Compare(a.id, b.id) })
	tw := tabwriter.NewWriter(c.stdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLEVEL\tSERVICE\tTYPE\tTITLE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.id, r.level, r.service, r.typ, r.title)
	}
	if err := tw.Flush(); err != nil {
		return c.fail(ExitFailure, "%v", err)
	}
	return ExitOK
}

// noRules reports that nothing was selected: an empty rule set is as
// likely a mistake as a filter that matches nothing.
func noRules(c *invocation, src string, filter *regexp.Regexp) int {
	if filter != nil {
		return c.fail(ExitUsage, "no rule of %s matches --run %q", srcName(src), filter)
	}
	return c.fail(ExitUsage, "no rules in %s", srcName(src))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
