//go:build integration

package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector/simulate"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
	"github.com/vigil-audit/vigil/notifier/channel"
)

// TestSimulatedIncidentToMailpit follows one simulated incident through
// every stage of `vigil up` to the real Mailpit: the simulator sends an
// hour of traffic with a labelled no-relationship incident to the
// collector; the detector alerts; the alert opens an incident, which
// waits; the DPO confirms it (scope from the store), fills in its content
// and approves the individual notice; every person in the scope gets one
// Chinese notice by SMTP — each labelled victim among them, checked by
// Message-ID and decoded UTF-8 subject in Mailpit.
func TestSimulatedIncidentToMailpit(t *testing.T) {
	smtpAddr, mailpit := testenv.SMTP(t), testenv.MailpitAPI(t)
	data := filepath.Join(t.TempDir(), "data")
	cfg := filepath.Join(t.TempDir(), "vigil.yaml")
	writeFile(t, cfg, fmt.Sprintf("notify:\n  smtp_addr: %s\n  smtp_mode: plain\n  from: Hospital DPO <dpo@h.example>\n  dispatch_every: 200ms\n", smtpAddr))
	httpAddr, _, _, stop := startUp(t, data, "--config", cfg)
	defer stop()

	labels := filepath.Join(t.TempDir(), "labels.jsonl")
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	if code, out, errOut := run(t, nil, "simulate", "--collector", "http://"+httpAddr, "--data", data, "--seed", "11", "--rate", "5",
		"--duration", "1h", "--start", start, "--kinds", "no_relationship_access", "--labels", labels, "--progress", "never"); code != ExitOK {
		t.Fatalf("simulate: exit %d\n%s%s", code, out, errOut)
	}
	f, err := os.Open(labels)
	if err != nil {
		t.Fatal(err)
	}
	var lb simulate.Label
	sc := bufio.NewScanner(f)
	for sc.Scan() && lb.ID == "" {
		if err := json.Unmarshal(sc.Bytes(), &lb); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if lb.ID == "" || len(lb.SubjectTokens) == 0 {
		t.Fatalf("no labelled incident with subject tokens in %s", labels)
	}

	incident := func(args ...string) string { t.Helper(); return upIncident(t, data, args...) }
	var id string
	for deadline := time.Now().Add(90 * time.Second); id == ""; time.Sleep(time.Second) {
		var list []struct {
			IncidentID string `json:"incident_id"`
		}
		_ = json.Unmarshal([]byte(incident("list", "--json")), &list)
		for _, l := range list {
			var inc event.Incident
			if json.Unmarshal([]byte(incident("show", l.IncidentID, "--json")), &inc) == nil &&
				(inc.ActorID == lb.ActorID || inc.ActorID == lb.ActorToken) {
				if inc.State != event.IncidentDetected {
					t.Fatalf("incident %s is %s before anyone triaged it", inc.IncidentID, inc.State)
				}
				id = inc.IncidentID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident for the labelled actor within 90 s (label %s)", lb.ID)
		}
	}
	incident("confirm", id, "--reason", "the nurse had no care relationship with these patients")
	incident("set", id, "facts=A nurse read patients' records without a care relationship.", "cause=misuse of access rights",
		"impact=your health record was seen", "measures_taken=access suspended", "self_protection=no action is needed",
		"remedies=ask us for the access log of your record", "contact=dpo@h.example")
	incident("approve", id, "pipl.individual")
	var inc event.Incident
	if err := json.Unmarshal([]byte(incident("show", id, "--json")), &inc); err != nil {
		t.Fatal(err)
	}
	if inc.Scope.People < int64(len(lb.SubjectTokens)) {
		t.Fatalf("scope %d people, fewer than the %d labelled victims", inc.Scope.People, len(lb.SubjectTokens))
	}

	for _, tok := range lb.SubjectTokens {
		addr := tok + "@recipients.invalid"
		for deadline := time.Now().Add(60 * time.Second); mailpitCount(t, mailpit, "to:"+addr) == 0; time.Sleep(250 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no notice to victim %s within 60 s", tok)
			}
		}
	}
	time.Sleep(time.Second) // a duplicate would show by now
	for _, tok := range lb.SubjectTokens {
		got := mailpitSearch(t, mailpit, "to:"+tok+"@recipients.invalid")
		want := channel.MessageID(event.NoticeID(id, tok, "pipl.individual"), "h.example")
		if len(got) != 1 || "<"+got[0].MessageID+">" != want {
			t.Fatalf("victim %s: %d mails %+v, want one with Message-ID %s", tok, len(got), got, want)
		}
		if !strings.HasSuffix(got[0].Subject, "个人信息安全事件告知书") {
			t.Errorf("subject %q", got[0].Subject)
		}
	}
	// Every person of the scope, not only the labelled victims, is notified.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if err := json.Unmarshal([]byte(incident("show", id, "--json")), &inc); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(inc.Obligations, func(o event.Obligation) bool { return o.ID == "pipl.individual" })
		if i >= 0 && inc.Obligations[i].Status == event.ObligationDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipl.individual not done within 60 s: %+v", inc.Obligations)
		}
	}
	t.Logf("incident %s: %d people in scope, %d labelled victims, all notified once", id, inc.Scope.People, len(lb.SubjectTokens))
}
