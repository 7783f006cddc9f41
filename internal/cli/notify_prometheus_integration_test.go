//go:build integration

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestNotifyDeadlinesInPrometheus: a real Prometheus (its own process,
// scraping `vigil notify` every second and evaluating the shipped rule
// file dashboards/alerts/vigil-rules.yml) sees an incident's legal clock.
// The incident is confirmed with an awareness time 13 hours back, so its
// 24-hour PIPL obligations are past half their time. Prometheus holds
// vigil_notifier_obligation_deadline_seconds with only regime and kind as
// labels (no incident ids), at the time left of the nearest open
// obligation of each kind in the notifier's book (this run's, or an
// earlier run's on the shared topic, read back through the API), and
// fires exactly the escalation alert that obligation's elapsed share
// calls for: VigilObligationHalfTime when this run's is the nearest.
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

	// The metrics cover every incident the notifier holds, and the
	// incidents topic is shared with earlier runs on this machine: the
	// expected series are those of the nearest open PIPL obligation of
	// each kind over the whole book, read back through the API.
	nearest := map[string]event.Obligation{} // kind → nearest open obligation
	var list []struct {
		IncidentID string `json:"incident_id"`
	}
	if err := json.Unmarshal([]byte(f.incident(t, api, "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		var inc event.Incident
		if err := json.Unmarshal([]byte(f.incident(t, api, "show", l.IncidentID, "--json")), &inc); err != nil {
			t.Fatal(err)
		}
		for _, o := range inc.Obligations {
			if cur, ok := nearest[o.Kind]; o.Regime == "pipl" && o.Status.Pending() && !o.DueAt.IsZero() && (!ok || o.DueAt.Before(cur.DueAt.Time)) {
				nearest[o.Kind] = o
			}
		}
	}
	if len(nearest) == 0 {
		t.Fatal("no open PIPL obligation after the confirmation")
	}

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
		o, ok := nearest[s.Metric["kind"]]
		if !ok {
			t.Errorf("series %v: no open PIPL obligation of that kind in the book", s.Metric)
			continue
		}
		want := time.Until(o.DueAt.Time).Seconds()
		t.Logf("Prometheus: %v = %.0f s left (nearest: %s, due %s, %.0f s)", s.Metric, v, o.ID, o.DueAt, want)
		if err != nil || math.Abs(v-want) > 120 {
			t.Errorf("%v: %v s left, want %.0f (%v)", s.Metric, s.Value[1], want, err)
		}
	}
	if len(left) != len(nearest) {
		t.Errorf("%d deadline series for pipl, want one per kind with an open obligation (%d)", len(left), len(nearest))
	}
	// Which escalation alert each kind's nearest obligation calls for.
	band := func(o event.Obligation) string {
		total, gone := o.DueAt.Sub(o.StartsAt.Time), time.Since(o.StartsAt.Time)
		switch r := gone.Seconds() / total.Seconds(); {
		case gone >= total:
			return "VigilObligationOverdue"
		case r >= 0.9:
			return "VigilObligationNinetyPercent"
		case r >= 0.5:
			return "VigilObligationHalfTime"
		}
		return ""
	}
	wantAlerts := map[string]string{} // kind → alert
	for k, o := range nearest {
		if b := band(o); b != "" {
			wantAlerts[k] = b
		}
	}
	if o := nearest["individual_notice"]; o.DueAt.Sub(o.StartsAt.Time) == 24*time.Hour && time.Until(o.DueAt.Time) > 11*time.Hour-2*time.Minute {
		// This run's obligation is the nearest: 13 h of 24 are gone.
		if wantAlerts["individual_notice"] != "VigilObligationHalfTime" {
			t.Fatalf("this run's obligation at 54%% of its time calls for %q", wantAlerts["individual_notice"])
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
		got := map[string]string{} // kind → firing escalation alert of pipl
		if getJSON(fmt.Sprintf("http://%s/api/v1/alerts", promAddr), &r) == nil {
			for _, a := range r.Data.Alerts {
				if a.Labels["regime"] == "pipl" && a.State == "firing" && strings.HasPrefix(a.Labels["alertname"], "VigilObligation") {
					if got[a.Labels["kind"]] != "" {
						t.Fatalf("two escalation alerts for pipl %s: %s and %s", a.Labels["kind"], got[a.Labels["kind"]], a.Labels["alertname"])
					}
					got[a.Labels["kind"]] = a.Labels["alertname"]
				}
			}
		}
		if maps.Equal(got, wantAlerts) && len(wantAlerts) > 0 {
			t.Logf("Prometheus fires %v", got)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("firing escalation alerts %v, want %v within 60 s\n%s", got, wantAlerts, promLog.String())
		}
	}
}
