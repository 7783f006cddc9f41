//go:build integration

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
	"github.com/vigil-audit/vigil/notifier/channel"
)

var notifyAddr = regexp.MustCompile(`API and console on http://([^/]+)/console/`)

// TestNotifyMailpit runs `vigil notify` against the real Kafka 4.x,
// ClickHouse 18.16 and Mailpit: an alert on vigil.alerts.v1 opens an
// incident, the DPO confirms it (scope from ClickHouse), records its
// content and approves the individual notice; the Chinese and English
// notices arrive at Mailpit once each — read back through its API and
// checked field by field (decoded UTF-8 subject, recipient, Message-ID
// derived from the notice id, body) — and a third person with only a
// phone number gets an SMS through a webhook provider that verifies the
// HMAC signature.
func TestNotifyMailpit(t *testing.T) {
	kafkaAddr, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	smtpAddr, mailpit := testenv.SMTP(t), testenv.MailpitAPI(t)
	run0 := fmt.Sprintf("%d", time.Now().UnixNano())
	db := "vigil_notify_" + run0
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := []string{"VIGIL_CLICKHOUSE_ADDR=" + chAddr, "VIGIL_CLICKHOUSE_DATABASE=" + db, "VIGIL_BUS_BROKERS=" + kafkaAddr,
		"VIGIL_NOTIFY_WEBHOOK_SECRET=provider-secret", "VIGIL_TOKEN=dpo-token-" + run0}
	conn, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	if code, out, errOut := run(t, env, "store", "migrate"); code != ExitOK {
		t.Fatalf("migrate: exit %d %q %q", code, out, errOut)
	}

	// A nurse read three patients' health records.
	actor := "nurse-" + run0
	pZh, pEn, pSMS := "p_zh_"+run0, "p_en_"+run0, "p_sms_"+run0
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var b store.Batch
	for i, subj := range []string{pZh, pEn, pSMS} {
		at := event.NewTimestamp(base.Add(time.Duration(i) * time.Minute))
		b.Access = append(b.Access, event.AccessEvent{EventID: fmt.Sprintf("n%s-%d", run0, i), OccurredAt: at, ReceivedAt: at,
			Source: "emr", Org: "h1", Actor: event.Actor{ID: actor, Type: event.ActorStaff, Role: "nurse"}, Action: event.ActionRead,
			Subject: event.Subject{ID: subj, Type: event.SubjectPatient}, Categories: []event.Category{event.CategoryHealth},
			RecordCount: 1, Relationship: event.RelationshipFalse, Outcome: event.OutcomeSuccess})
	}
	if err := store.NewClickHouseWriter(conn, db).Write(ctx, &b); err != nil {
		t.Fatal(err)
	}

	// The SMS provider: verifies every request's signature.
	var mu sync.Mutex
	var sms []map[string]string
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := channel.VerifySignature([]byte("provider-secret"), r.Header.Get("X-Vigil-Signature"), r.Header.Get("X-Vigil-Timestamp"), body, time.Minute); err != nil {
			t.Errorf("webhook request with a bad signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		m["idempotency_key"] = r.Header.Get("Idempotency-Key")
		mu.Lock()
		sms = append(sms, m)
		mu.Unlock()
	}))
	defer provider.Close()

	dir := t.TempDir()
	contacts := filepath.Join(dir, "contacts.yaml")
	writeFile(t, contacts, fmt.Sprintf(`
%s: {name: 王芳, language: zh-CN, email: zh-%s@example.org}
%s: {name: Li Lei, language: en, email: en-%s@example.org}
%s: {name: Zhao Min, language: en, phone: "+8613800000000"}
`, pZh, run0, pEn, run0, pSMS))
	cfgFile := filepath.Join(dir, "vigil.yaml")
	writeFile(t, cfgFile, fmt.Sprintf(`
notify:
  listen: 127.0.0.1:0
  group: notify-test-%s
  dpo: dpo@h1.example
  operators:
    - {name: dpo-test, roles: [dpo, analyst], token_sha256: %s}
  org_names: {h1: 示例医院}
  directory_file: %s
  smtp_addr: %s
  smtp_mode: plain
  from: Hospital DPO <dpo@h1.example>
  webhook_url: %s
  dispatch_every: 200ms
`, run0, auth.Hash("dpo-token-"+run0), contacts, smtpAddr, provider.URL))

	var out, errb syncBuffer
	nctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	var exit int
	go func() {
		defer close(done)
		exit = Run(nctx, []string{"notify", "--config", cfgFile}, Env{Stdout: &out, Stderr: &errb, Environ: env})
	}()
	defer func() {
		stop()
		<-done
		if exit != ExitOK {
			t.Errorf("vigil notify exited %d:\n%s", exit, errb.String())
		}
	}()
	var api string
	for deadline := time.Now().Add(60 * time.Second); api == ""; time.Sleep(50 * time.Millisecond) {
		if m := notifyAddr.FindStringSubmatch(out.String()); m != nil {
			api = "http://" + m[1]
		}
		select {
		case <-done:
			t.Fatalf("vigil notify stopped before it served")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vigil notify did not start:\n%s\n%s", out.String(), errb.String())
		}
	}

	// The detector's alert.
	a := event.Alert{AlertID: "al-" + run0, RuleID: "vigil-access-020", RuleTitle: "No-relationship reading", Severity: event.SeverityHigh,
		GroupKey: "h1/" + actor, Org: "h1", ActorID: actor, Status: event.AlertOpen, Count: 3, DistinctSubjects: 3,
		WindowStart: event.NewTimestamp(base), WindowEnd: event.NewTimestamp(base.Add(time.Hour)),
		FirstSeen: event.NewTimestamp(base), LastSeen: event.NewTimestamp(base.Add(2 * time.Minute)), Evidence: []string{"x"}, Explanation: "x"}
	v, _ := json.Marshal(a)
	bcfg := bus.Defaults()
	bcfg.Brokers = []string{kafkaAddr}
	w, err := bus.NewWriter(bcfg, bus.TopicAlerts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(a.GroupKey), Value: v}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	cli := func(args ...string) string {
		t.Helper()
		code, o, e := run(t, env, append([]string{"incident"}, append(args, "--server", api)...)...)
		if code != ExitOK {
			t.Fatalf("vigil incident %v: exit %d\n%s%s", args, code, o, e)
		}
		return o
	}
	// Find the incident of this actor.
	var id string
	for deadline := time.Now().Add(60 * time.Second); id == ""; time.Sleep(200 * time.Millisecond) {
		var list []struct {
			IncidentID string `json:"incident_id"`
		}
		_ = json.Unmarshal([]byte(cli("list", "--json")), &list)
		for _, l := range list {
			var inc event.Incident
			if json.Unmarshal([]byte(cli("show", l.IncidentID, "--json")), &inc) == nil && inc.ActorID == actor {
				id = inc.IncidentID
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no incident for the alert within 60 s")
		}
	}
	shown := cli("confirm", id, "--reason", "confirmed with the ward manager")
	if !strings.Contains(shown, "scope: 3 people") || !strings.Contains(shown, "pipl.individual") {
		t.Fatalf("after confirm:\n%s", shown)
	}
	cli("set", id, "facts=A nurse read three patients' records she had no care relationship with.", "cause=misuse of access rights",
		"impact=your health record was seen by someone without a care relationship", "measures_taken=access suspended and reviewed",
		"self_protection=no action is needed", "remedies=ask us for the access log of your record", "contact=dpo@h1.example, 400-000-0000")
	cli("approve", id, "pipl.individual")

	type msg struct {
		ID, MessageID, Subject string
		To                     []struct{ Address string }
	}
	search := func(addr string) []msg {
		resp, err := http.Get(mailpit + "/api/v1/search?query=" + url.QueryEscape("to:"+addr))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ Messages []msg }
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r.Messages
	}
	for _, tc := range []struct{ subj, addr, subject, body string }{
		{pZh, "zh-" + run0 + "@example.org", "示例医院个人信息安全事件告知书", "王芳"},
		{pEn, "en-" + run0 + "@example.org", "示例医院: notice of a personal information security incident", "Dear Li Lei"},
	} {
		var got []msg
		for deadline := time.Now().Add(30 * time.Second); len(got) == 0; time.Sleep(200 * time.Millisecond) {
			got = search(tc.addr)
			if time.Now().After(deadline) {
				t.Fatalf("no mail to %s within 30 s:\n%s", tc.addr, errb.String())
			}
		}
		time.Sleep(time.Second) // a duplicate would show by now
		if got = search(tc.addr); len(got) != 1 {
			t.Fatalf("%d mails to %s, want exactly 1", len(got), tc.addr)
		}
		m := got[0]
		noticeID := event.NoticeID(id, tc.subj, "pipl.individual")
		if m.Subject != tc.subject {
			t.Errorf("subject %q, want %q", m.Subject, tc.subject)
		}
		if "<"+m.MessageID+">" != channel.MessageID(noticeID, "h1.example") && m.MessageID != channel.MessageID(noticeID, "h1.example") {
			t.Errorf("Message-ID %q, want %s", m.MessageID, channel.MessageID(noticeID, "h1.example"))
		}
		resp, err := http.Get(mailpit + "/api/v1/message/" + m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var full struct {
			Text string
			From struct{ Address string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&full)
		resp.Body.Close()
		if !strings.Contains(full.Text, tc.body) || !strings.Contains(full.Text, "ask us for the access log") || full.From.Address != "dpo@h1.example" {
			t.Errorf("mail to %s: from %q, text:\n%s", tc.addr, full.From.Address, full.Text)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		n := len(sms)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(time.Second) // a duplicate would show by now
	mu.Lock()
	defer mu.Unlock()
	if len(sms) != 1 || sms[0]["to"] != "+8613800000000" || sms[0]["idempotency_key"] != event.NoticeID(id, pSMS, "pipl.individual") {
		t.Fatalf("SMS requests %v", sms)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
