package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpIncidentToOutbox runs a DPO's whole path on `vigil up`: access
// events raise an alert, the alert opens an incident, the operator
// confirms it and records its content with `vigil incident`, approves the
// individual notice, and one notice per affected person lands in
// DATA/outbox; the regulator report export marks what is unknown.
func TestUpIncidentToOutbox(t *testing.T) {
	data := t.TempDir()
	httpAddr, _, stdout, stop := startUp(t, data)
	defer stop()
	if !strings.Contains(stdout, "Console: http://") {
		t.Errorf("banner lacks the console:\n%s", stdout)
	}
	if r := get(t, "http://"+httpAddr+"/console/"); r.code != 200 || !strings.Contains(r.body, "app.js") {
		t.Errorf("GET /console/: %d", r.code)
	}
	token, err := os.ReadFile(filepath.Join(data, "ingest-token"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var body strings.Builder
	for i, pt := range []string{"pt-1", "pt-2", "pt-3"} {
		at := now.Add(time.Duration(i-10) * time.Second).Format(time.RFC3339Nano)
		body.WriteString(`{"event_id":"bg-` + pt + `","occurred_at":"` + at + `","org":"h1","actor":{"id":"u1","type":"doctor"},"action":"break_glass","subject":{"id":"` + pt + `","type":"patient"},"categories":["health"],"outcome":"success"}` + "\n")
	}
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/access", strings.NewReader(body.String()))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, rb)
	}

	incidentCLI := func(args ...string) string { t.Helper(); return upIncident(t, data, args...) }
	var id string
	for deadline := time.Now().Add(60 * time.Second); id == ""; {
		code, out, _ := run(t, nil, "incident", "list", "--json", "--data", data)
		var list []struct {
			IncidentID string `json:"incident_id"`
		}
		if code == ExitOK && json.Unmarshal([]byte(out), &list) == nil && len(list) > 0 {
			id = list[0].IncidentID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident 60 s after the events (last: exit %d %s)", code, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	shown := incidentCLI("confirm", id, "--reason", "break-glass without an emergency")
	// The scope comes from the store, which the sink fills in batches:
	// rescope until it holds the three events, as an operator would.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(shown, "scope: 3 people"); {
		if time.Now().After(deadline) {
			t.Fatalf("scope never reached 3 people:\n%s", shown)
		}
		time.Sleep(500 * time.Millisecond)
		shown = incidentCLI("rescope", id)
	}
	if !strings.Contains(shown, "[confirmed]") || !strings.Contains(shown, "pipl.individual") || !strings.Contains(shown, "scope: 3 people") {
		t.Fatalf("after confirm:\n%s", shown)
	}
	incidentCLI("set", id, "facts=A doctor used break-glass access on three records without an emergency.",
		"cause=misuse of emergency access", "impact=health records seen by someone without a care relationship",
		"measures_taken=access reviewed, the doctor's emergency access suspended", "self_protection=no action is needed",
		"remedies=contact us for a copy of the access log", "contact=dpo@h1.example")
	out := incidentCLI("approve", id, "pipl.individual")
	if !strings.Contains(out, "approved by local") {
		t.Errorf("approve printed:\n%s", out)
	}
	var files []string
	for deadline := time.Now().Add(30 * time.Second); len(files) < 3; {
		files, _ = filepath.Glob(filepath.Join(data, "outbox", "*.eml"))
		if time.Now().After(deadline) {
			t.Fatalf("%d notices in the outbox after 30 s, want 3", len(files))
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || !strings.Contains(string(b), "Subject: =?UTF-8?") || !strings.Contains(string(b), "@recipients.invalid") {
		t.Errorf("outbox notice:\n%s", b)
	}
	code, rep, errOut := run(t, nil, "report", "incident", id, "--regime", "cac", "--format", "json", "--data", data)
	if code != ExitFailure || !strings.Contains(errOut, "no cac report obligation") {
		// Three people: below the CAC threshold; the PIPL report is due.
		t.Errorf("cac report of a 3-person incident: exit %d %s %s", code, rep, errOut)
	}
}

// upIncident runs `vigil incident ARGS --data DATA` against a running
// `vigil up` and fails the test on a non-zero exit.
func upIncident(t *testing.T, data string, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, nil, append([]string{"incident"}, append(args, "--data", data)...)...)
	if code != ExitOK {
		t.Fatalf("vigil incident %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}
