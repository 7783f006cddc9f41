package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const goodRule = `title: Break-glass access
id: site-break-glass
status: stable
level: medium
logsource: {product: vigil, service: access}
detection:
  selection:
    action: break_glass
  condition: selection
tests:
  base:
    occurred_at: 2026-11-04T10:00:00Z
    org: hosp-1
    actor: {id: staff-7, type: doctor}
    action: break_glass
    subject: {id: pt-1, type: patient}
    categories: [health]
    outcome: success
  match: [{}]
  nomatch: [{action: read}]
---
title: Denied read (feeder)
id: site-denied
name: denied
status: stable
logsource: {product: vigil, service: access}
detection:
  selection:
    outcome: denied
  condition: selection
tests:
  base:
    occurred_at: 2026-11-04T10:00:00Z
    org: hosp-1
    actor: {id: staff-7, type: doctor}
    action: read
    subject: {id: pt-1, type: patient}
    categories: [health]
    outcome: denied
  match: [{}]
  nomatch: [{outcome: success}]
---
title: Denied burst
id: site-denied-burst
status: stable
level: high
correlation:
  type: event_count
  rules: [denied]
  group-by: [actor.id]
  timespan: 10m
  condition: {gte: 8}
`

// failingRule's second nomatch case matches: the rule forgot prints.
const failingRule = `title: Export without purpose
id: site-export-no-purpose
status: test
level: low
logsource: {product: vigil, service: access}
detection:
  selection:
    action: [export, print]
    purpose|exists: false
  condition: selection
tests:
  base:
    occurred_at: 2026-11-04T10:00:00Z
    org: hosp-1
    actor: {id: staff-3, type: staff}
    action: export
    subject: {id: pt-9, type: patient}
    categories: [contact]
    outcome: success
  match: [{}]
  nomatch:
    - {purpose: court order}
    - {action: print}
`

// brokenRule has a bad level, a misspelt enum value and a field that
// does not exist.
const brokenRule = `title: Broken
id: site-broken
level: severe
logsource: {product: vigil, service: access}
detection:
  selection:
    action: exprot
    actor.rol: nurse
  condition: selection
`

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRulesCommand(t *testing.T) {
	good := writeRules(t, map[string]string{"site/good.yml": goodRule})
	failing := writeRules(t, map[string]string{"good.yml": goodRule, "export.yaml": failingRule})
	broken := writeRules(t, map[string]string{"good.yml": goodRule, "broken.yml": brokenRule})
	empty := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // regular expressions, each must match
		stderr []string
		not    []string // must not match stdout
	}{
		{name: "good dir", args: []string{"rules", "test", good}, code: ExitOK,
			stdout: []string{`(?m)^ok   site-break-glass "Break-glass access" \(2 cases\) .*site/good\.yml:1$`,
				`(?m)^ok   site-denied "Denied read \(feeder\)" \(2 cases\)`,
				`(?m)^2 rules, 4 cases: 0 cases failed in 0 rules$`},
			not: []string{`tests\.match\[0\]`}},
		{name: "good file", args: []string{"rules", "test", filepath.Join(good, "site", "good.yml")}, code: ExitOK,
			stdout: []string{`2 rules, 4 cases: 0 cases failed in 0 rules`}},
		{name: "verbose lists passing cases", args: []string{"rules", "test", "-v", good}, code: ExitOK,
			stdout: []string{`(?m)^ok   site-break-glass `,
				`(?m)^    ok   .*good\.yml:\d+ tests\.match\[0\]$`,
				`(?m)^    ok   .*good\.yml:\d+ tests\.nomatch\[0\]$`,
				`(?m)^2 rules, 4 cases: 0 cases failed in 0 rules$`}},
		{name: "failing case", args: []string{"rules", "test", failing}, code: ExitFailure,
			stdout: []string{`(?m)^FAIL site-export-no-purpose "Export without purpose" \(3 cases\) .*export\.yaml:1$`,
				`(?m)^    .*export\.yaml:23 tests\.nomatch\[1\]: want no match, the rule matched: condition "selection" with selection=true$`,
				`(?m)^ok   site-break-glass`,
				`(?m)^3 rules, 7 cases: 1 cases failed in 1 rules$`}},
		{name: "failing case verbose", args: []string{"rules", "test", failing, "-v"}, code: ExitFailure,
			stdout: []string{`(?m)^    FAIL .*export\.yaml:23 tests\.nomatch\[1\]: want no match`,
				`(?m)^    ok   .*export\.yaml:22 tests\.nomatch\[0\]$`}},
		{name: "--run skips the failing rule", args: []string{"rules", "test", "--run", "break", failing}, code: ExitOK,
			stdout: []string{`(?m)^1 rules, 2 cases: 0 cases failed in 0 rules$`}, not: []string{`site-export`}},
		{name: "--run by title", args: []string{"rules", "test", "--run", "^Export without", failing}, code: ExitFailure,
			stdout: []string{`(?m)^1 rules, 3 cases: 1 cases failed in 1 rules$`}},
		{name: "--run matches nothing", args: []string{"rules", "test", "--run", "nope", good}, code: ExitUsage,
			stderr: []string{`no rule of .* matches --run "nope"`}},
		{name: "bad --run", args: []string{"rules", "test", "--run", "(", good}, code: ExitUsage,
			stderr: []string{`--run: error parsing regexp`}},
		{name: "broken rule", args: []string{"rules", "test", broken}, code: ExitUsage,
			stderr: []string{`(?m)^.*broken\.yml:3:8: rule site-broken: level: "severe" is not one of`,
				`(?m)^.*broken\.yml:7:13: rule site-broken: detection\.selection\.action: "exprot" matches no value of action`,
				`(?m)^.*broken\.yml:8:5: rule site-broken: detection\.selection\.actor\.rol: unknown field "actor\.rol" .*did you mean "actor\.role"`,
				`vigil rules: 3 problems in .*; nothing was tested`}},
		{name: "broken rule list", args: []string{"rules", "list", broken}, code: ExitUsage,
			stderr: []string{`broken\.yml:3:8: `}},
		{name: "missing dir", args: []string{"rules", "test", filepath.Join(good, "nope")}, code: ExitUsage,
			stderr: []string{`cannot read .*nope: no such file or directory`}},
		{name: "empty dir", args: []string{"rules", "test", empty}, code: ExitUsage,
			stderr: []string{`no rule files \(\*\.yml, \*\.yaml\)`, `1 problem in .*; nothing was tested`}},
		{name: "list", args: []string{"rules", "list", good}, code: ExitOK,
			stdout: []string{`(?m)^ID +LEVEL +SERVICE +TYPE +TITLE$`,
				`(?m)^site-break-glass +medium +access +detection +Break-glass access$`,
				`(?m)^site-denied +- +access +feeder +Denied read \(feeder\)$`,
				`(?m)^site-denied-burst +high +access +event_count +Denied burst$`}},
		{name: "list --run", args: []string{"rules", "list", "--run", "burst", good}, code: ExitOK,
			stdout: []string{`site-denied-burst`}, not: []string{`site-break-glass`}},
		{name: "list -v", args: []string{"rules", "list", "-v", good}, code: ExitUsage,
			stderr: []string{`-v belongs to the test action`}},
		{name: "no action", args: []string{"rules"}, code: ExitUsage, stderr: []string{`want an action, test, list or backfill`}},
		{name: "unknown action", args: []string{"rules", "check"}, code: ExitUsage, stderr: []string{`want an action, test, list or backfill`}},
		{name: "two dirs", args: []string{"rules", "test", good, good}, code: ExitUsage, stderr: []string{`takes at most one DIR or FILE`}},
		{name: "help", args: []string{"rules", "--help"}, code: ExitOK,
			stdout: []string{`Usage: vigil rules test\|list`, `Examples:`, `--run REGEX`}},
		{name: "shipped pack", args: []string{"rules", "test"}, code: ExitOK,
			stdout: []string{`(?m)^ok   vigil-access-001 `, `(?m)^\d+ rules, \d+ cases: 0 cases failed in 0 rules$`}},
		{name: "shipped pack list", args: []string{"rules", "list"}, code: ExitOK,
			stdout: []string{`(?m)^vigil-access-c06 +high +access +event_count +Burst of denied accesses$`,
				`(?m)^vigil-device-001 +critical +device +detection `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, re := range tt.stdout {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout does not match %s:\n%s", re, out)
				}
			}
			for _, re := range tt.stderr {
				if !regexp.MustCompile(re).MatchString(errOut) {
					t.Errorf("stderr does not match %s:\n%s", re, errOut)
				}
			}
			for _, re := range tt.not {
				if regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout matches %s, it should not:\n%s", re, out)
				}
			}
			if code == ExitOK && errOut != "" {
				t.Errorf("stderr on success: %s", errOut)
			}
		})
	}
}

// The shipped pack's report has a line per detection rule, each ok.
func TestRulesShippedPackAllOK(t *testing.T) {
	code, out, errOut := run(t, nil, "rules", "test")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "none") {
			t.Errorf("shipped pack: %s", line)
		}
	}
}
