//go:build integration

package dashboards

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-audit/vigil/internal/testenv"
)

// promtool runs the promtool scripts/services.sh installed (Debian package
// prometheus) with args in alerts/.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(testenv.Promtool(t), args...)
	cmd.Dir = "alerts"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) { promtool(t, "check", "rules", filepath.Base(rulesFile)) }

func TestRulesUnitTests(t *testing.T) { promtool(t, "test", "rules", "vigil-rules.test.yml") }
