package dashboards

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const rulesFile = "alerts/vigil-rules.yml"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string            `yaml:"alert"`
			Expr   string            `yaml:"expr"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestRulesNameRegisteredMetrics: a rule over a metric nobody exports
// never fires, silently. Every vigil_* name in an expression must be
// declared in the Go sources (as a quoted metric name), every alert must
// have a severity, and every alert rule must have a promtool test case.
func TestRulesNameRegisteredMetrics(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	declared := declaredMetrics(t)
	tests, err := os.ReadFile("alerts/vigil-rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	metricRE := regexp.MustCompile(`\bvigil_[a-z0-9_]+`)
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			for _, m := range metricRE.FindAllString(r.Expr, -1) {
				if !declared[m] {
					t.Errorf("%s: alert %s uses %s, which no Vigil stage registers", rulesFile, r.Alert, m)
				}
			}
			if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
				t.Errorf("%s: alert %s has severity %q, want warning or critical", rulesFile, r.Alert, sev)
			}
			if g.Name == "vigil-notifier-deadlines" && !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("alert %s has no promtool test case", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d rules parsed from %s", n, rulesFile)
	}
}

// declaredMetrics returns every vigil_… name in the module's non-test Go
// files: metric name literals, and the metric lists of package docs (the
// names built from Namespace/Subsystem/Name appear only there).
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	lit := regexp.MustCompile(`\b(vigil_[a-z0-9_]+)\b`)
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && slices.Contains([]string{".git", "testdata", "node_modules"}, d.Name()) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range lit.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
