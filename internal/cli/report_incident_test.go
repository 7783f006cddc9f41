package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// TestReportIncident: the latest record of an incident on the incidents
// topic of a running 'vigil up' (found through --data) becomes its
// regulator report, with recorded, derived and pending fields.
func TestReportIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	broker, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, brokerAddrFile), []byte(broker.Addr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := bus.NewJSONLog(broker.Config(), bus.TopicIncidents, func(i *event.Incident) string { return i.IncidentID })
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	aware := event.NewTimestamp(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC))
	inc := event.Incident{IncidentID: "inc-report-1", State: event.IncidentDetected, Org: "hosp-1", DetectedAt: aware}
	confirmed := inc
	confirmed.State, confirmed.AwareAt = event.IncidentConfirmed, aware
	confirmed.Scope = event.Scope{People: 1_000_000, Minors: 12}
	confirmed.Fields = map[string]string{"incident_type": "bulk export by a staff account"}
	confirmed.Obligations = []event.Obligation{{ID: "cac.initial", Regime: "pipl", Kind: "regulator_report", Status: event.ObligationOpen,
		StartsAt: aware, DueAt: event.NewTimestamp(aware.Add(4 * time.Hour)), Fields: []string{"reporting_unit", "discovery_time", "incident_type", "impact", "people_affected"}}}
	if err := log.Append(ctx, inc, confirmed); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "cac.json")
	code, _, stderr := run(t, nil, "report", "incident", "inc-report-1", "--regime", "cac", "--format", "json", "--data", data, "--output", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "1 cac report(s) of incident inc-report-1, 1 field(s) pending") {
		t.Errorf("stderr %q", stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Obligation string
		Items      []struct {
			Field, Value string
			Pending      bool
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"reporting_unit": "hosp-1", "discovery_time": "2026-12-05T08:00:00.000Z",
		"incident_type": "bulk export by a staff account", "impact": "PENDING", "people_affected": "1000000"}
	if len(got) != 1 || got[0].Obligation != "cac.initial" || len(got[0].Items) != len(want) {
		t.Fatalf("report %s", b)
	}
	for _, it := range got[0].Items {
		if want[it.Field] != it.Value || it.Pending != (it.Value == "PENDING") {
			t.Errorf("field %s = %q (pending %v), want %q", it.Field, it.Value, it.Pending, want[it.Field])
		}
	}

	// The same report as a printable PDF.
	pdfOut := filepath.Join(t.TempDir(), "cac.pdf")
	if code, _, stderr := run(t, nil, "report", "incident", "inc-report-1", "--regime", "cac", "--format", "pdf", "--data", data, "--output", pdfOut); code != ExitOK {
		t.Fatalf("pdf: exit %d: %s", code, stderr)
	}
	p, err := os.ReadFile(pdfOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"%PDF-1.4", "(== cac.initial \\(regulator report\\))", "(Impact: PENDING)", "%%EOF"} {
		if !strings.Contains(string(p), w) {
			t.Errorf("PDF lacks %q", w)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"report", "incident", "inc-report-1", "--data", data}, ExitUsage, "--regime is required"},
		{[]string{"report", "incident", "inc-report-1", "--regime", "ccpa", "--data", data}, ExitUsage, `--regime "ccpa"`},
		{[]string{"report", "incident", "inc-report-1", "--regime", "cac", "--format", "ndjson", "--data", data}, ExitUsage, "json, csv or pdf"},
		{[]string{"report", "incident", "--regime", "cac", "--data", data}, ExitUsage, "exactly one incident ID"},
		{[]string{"report", "incident", "inc-nope", "--regime", "cac", "--data", data}, ExitFailure, "incident inc-nope: not found"},
		{[]string{"report", "incident", "inc-report-1", "--regime", "gdpr", "--data", data}, ExitFailure, "no gdpr report obligation"},
		{[]string{"report", "subject", "--token", "p_x", "--regime", "cac"}, ExitUsage, "--regime and --version belong to the incident report"},
	} {
		code, _, stderr := run(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}
