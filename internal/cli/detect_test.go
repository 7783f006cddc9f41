package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
)

func TestDetectConfigProblems(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rules, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two broken rule files: every problem is printed with file:line.
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(rules, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yml", "title: A\nid: r-a\nlevel: high\nlogsource: {product: vigil, service: access}\ndetection:\n  sel:\n    actoor.id: x\n  condition: sel\n")
	write("b.yml", "title: B\nid: r-b\nlevel: loud\nlogsource: {product: vigil, service: access}\ndetection:\n  sel:\n    action: read\n  condition: sel or missing\n")
	badCfg := filepath.Join(dir, "detect.yml")
	if err := os.WriteFile(badCfg, []byte("detect:\n  max_batch: -1\n  time_zones: {h1: Mars/Olympus}\n  options:\n    lateness: 1m\n    max_alerts: -2\n  behaviours:\n    impossible_travel:\n      max_speed_kmh: -5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The example of the help is a valid configuration: only the rules fail.
	exampleCfg := filepath.Join(dir, "example.yml")
	if err := os.WriteFile(exampleCfg, []byte("detect:\n  time_zones: {hosp-sh: Asia/Shanghai, hosp-be: Europe/Berlin}\n  options:\n    lateness: 2m\n    suppression: {vigil-break-glass: 24h}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	brokers := "VIGIL_BUS_BROKERS=127.0.0.1:1"
	for _, tt := range []struct {
		name   string
		env    []string
		args   []string
		stderr []string
	}{
		{name: "rule load errors", env: []string{brokers}, args: []string{"detect", "--rules", rules},
			stderr: []string{"do not load", "a.yml:7", "actoor.id", "b.yml:3", "level", "b.yml:8", "3 problems"}},
		{name: "config problems", env: []string{brokers}, args: []string{"detect", "--rules", rules, "--config", badCfg},
			stderr: []string{"detect.max_batch: -1 is negative", `detect.time_zones.h1: "Mars/Olympus" is not an IANA time zone`,
				"detect.options.max_alerts", "detect.behaviours.impossible_travel.max_speed_kmh"}},
		{name: "help example config", env: []string{brokers}, args: []string{"detect", "--rules", rules, "--config", exampleCfg},
			stderr: []string{"do not load (3 problems)"}},
		{name: "missing rules dir", env: []string{brokers}, args: []string{"detect", "--rules", filepath.Join(dir, "none")},
			stderr: []string{"none"}},
		{name: "extra argument", env: []string{brokers}, args: []string{"detect", "now"}, stderr: []string{"takes no arguments"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.env, tt.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d\n%s", code, ExitUsage, errOut)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr does not contain %q:\n%s", s, errOut)
				}
			}
		})
	}
}

// TestDetectRuns starts `vigil detect` against an embedded broker with the
// rules of the runner tests, checks /metrics and /healthz, and stops it.
func TestDetectRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", NoSync: true, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rules, err := filepath.Abs("../../detector/runner/testdata")
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(rctx, []string{"detect", "--rules", rules, "--listen", "127.0.0.1:0", "--group", "cli-test"},
			Env{Stdout: &out, Stderr: &errb, Environ: []string{"VIGIL_BUS_BROKERS=" + e.Addr()}})
	}()
	addrRE := regexp.MustCompile(`on http://([0-9.:]+)/`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no address printed\nstdout: %s\nstderr: %s", out.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "4 rules and 3 correlations") {
		t.Errorf("banner: %s", out.String())
	}
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); ; {
		metrics = httpGet(t, "http://"+addr+"/metrics")
		if strings.Contains(metrics, `vigil_detector_partitions{topic="vigil.access.v1"} 2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the detector never held the access partitions:\n%s\nstderr: %s", metrics, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h := httpGet(t, "http://"+addr+"/healthz"); !strings.Contains(h, `"detector"`) {
		t.Errorf("/healthz: %s", h)
	}
	stop()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d\nstderr: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vigil detect did not stop")
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Without detect.rules and without ./detector/rules, vigil detect runs the
// pack built into the binary.
func TestDetectBuiltInPack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", NoSync: true, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rctx, stop := context.WithCancel(ctx)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(rctx, []string{"detect", "--listen", "127.0.0.1:0", "--group", "cli-builtin"},
			Env{Stdout: &out, Stderr: &errb, Environ: []string{"VIGIL_BUS_BROKERS=" + e.Addr()}})
	}()
	banner := regexp.MustCompile(`(\d+) rules and (\d+) correlations from the built-in pack`)
	for deadline := time.Now().Add(20 * time.Second); banner.FindString(out.String()) == ""; {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no banner\nstdout: %s\nstderr: %s", out.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := banner.FindStringSubmatch(out.String()); m[1] == "0" || m[2] == "0" {
		t.Errorf("banner: %s", out.String())
	}
	stop()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d\nstderr: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vigil detect did not stop")
	}
}
