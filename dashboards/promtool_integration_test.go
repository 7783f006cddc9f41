//go:build integration

package dashboards

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtool runs promtool with args in alerts/. The integration suite runs
// after scripts/services.sh installed it (Debian package prometheus).
func promtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: scripts/services.sh up installs it (Debian package prometheus)")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = "alerts"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) { promtool(t, "check", "rules", filepath.Base(rulesFile)) }

func TestRulesUnitTests(t *testing.T) { promtool(t, "test", "rules", "vigil-rules.test.yml") }
