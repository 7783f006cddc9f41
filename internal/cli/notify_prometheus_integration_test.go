//go:build integration

package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestNotifyDeadlinesInPrometheus: a real Prometheus (its own process,
// scraping `vigil notify` every second and evaluating the shipped rule
// file dashboards/alerts/vigil-rules.yml) sees an incident's legal clock.
// The incident is confirmed with an awareness time 13 hours back, so its
// 24-hour PIPL obligations are past half their time: Prometheus holds
// vigil_notifier_obligation_deadline_seconds for them at about 11 hours
// left, with only regime and kind as labels (no incident ids), and fires
// VigilObligationHalfTime.
func TestNotifyDeadlinesInPrometheus(t *testing.T) {
	smtpAddr := testenv.SMTP(t)
	promBin := filepath.Join(filepath.Dir(testenv.Promtool(t)), "prometheus")
	if _, err := os.Stat(promBin); err != nil {
		t.Fatalf("prometheus next to promtool: %v", err)
	}
	rules, err := filepath.Abs("../../dashboards/alerts/vigil-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	now := time.Now().UTC()
	f := newNotifyFixtureAt(t, ctx, []string{fmt.Sprintf("p_prom_%d", now.UnixNano())}, now.Add(-14*time.Hour))
	dir := t.TempDir()
	contacts := filepath.Join(dir, "contacts.yaml")
	writeFile(t, contacts, "{}\n")
	cfgFile := f.config(t, dir, contacts, smtpAddr, "")

	var out, errb syncBuffer
	nctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(nctx, []string{"notify", "--config", cfgFile}, Env{Stdout: &out, Stderr: &errb, Environ: f.env})
	}()
	defer func() { stop(); <-done }()
	var addr string
	for deadline := time.Now().Add(60 * time.Second); addr == ""; time.Sleep(50 * time.Millisecond) {
		if m := notifyAddr.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("vigil notify did not start:\n%s\n%s", out.String(), errb.String())
		}
	}
	api := "http://" + addr
	f.sendAlert(t, ctx)
	id := f.awaitIncident(t, api)
	aware := now.Add(-13 * time.Hour).Format(time.RFC3339)
	f.incident(t, api, "confirm", id, "--reason", "found in the weekly access review", "--aware-at", aware)

	// Prometheus, on a free port, scraping the notifier.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := l.Addr().String()
	l.Close()
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: vigil-notify
    static_configs: [{targets: [%q]}]
`, rules, addr))
	prom := exec.Command(promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr)
	var promLog syncBuffer
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = prom.Process.Kill(); _ = prom.Wait() }()

	type sample struct {
		Metric map[string]string
		Value  [2]any
	}
	var left []sample
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		var r struct {
			Data struct{ Result []sample }
		}
		if getJSON(fmt.Sprintf("http://%s/api/v1/query?query=%s", promAddr, "vigil_notifier_obligation_deadline_seconds%7Bregime%3D%22pipl%22%7D"), &r) == nil && len(r.Data.Result) > 0 {
			left = r.Data.Result
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has no vigil_notifier_obligation_deadline_seconds within 90 s:\n%s", promLog.String())
		}
	}
	for _, s := range left {
		for k := range s.Metric {
			switch k {
			case "__name__", "regime", "kind", "job", "instance":
			default:
				t.Errorf("series %v has label %q: only regime and kind may name an obligation", s.Metric, k)
			}
		}
		v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		t.Logf("Prometheus: %v = %.0f s left", s.Metric, v)
		if err != nil || v < 10.5*3600 || v > 11.5*3600 {
			t.Errorf("%v: %v s left, want about 11 h (%v)", s.Metric, s.Value[1], err)
		}
	}

	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string
					State  string
				}
			}
		}
		firing := false
		if getJSON(fmt.Sprintf("http://%s/api/v1/alerts", promAddr), &r) == nil {
			for _, a := range r.Data.Alerts {
				firing = firing || (a.Labels["alertname"] == "VigilObligationHalfTime" && a.Labels["regime"] == "pipl" && a.State == "firing")
				if a.Labels["alertname"] == "VigilObligationNinetyPercent" || a.Labels["alertname"] == "VigilObligationOverdue" {
					t.Fatalf("%s fired at 54%% of the time: %v", a.Labels["alertname"], a.Labels)
				}
			}
		}
		if firing {
			t.Logf("Prometheus fires VigilObligationHalfTime for pipl")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("VigilObligationHalfTime did not fire within 60 s: %+v\n%s", r.Data.Alerts, promLog.String())
		}
	}
}
