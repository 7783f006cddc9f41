package testenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildVigil builds ./cmd/vigil of the module under test into a temporary
// folder and returns the binary's path, for tests that run `vigil` as a
// separate process (to SIGKILL it).
func BuildVigil(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v %q", err, out)
	}
	bin := filepath.Join(t.TempDir(), "vigil")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vigil")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vigil: %v\n%s", err, b)
	}
	t.Logf("built vigil in %v", time.Since(start).Round(100*time.Millisecond))
	return bin
}
