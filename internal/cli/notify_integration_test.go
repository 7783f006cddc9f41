//go:build integration

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
	"github.com/vigil-audit/vigil/notifier/channel"
)

var notifyAddr = regexp.MustCompile(`API and console on http://([^/]+)/console/`)

// rfc2047Subject matches a Subject header of base64 UTF-8 encoded words,
// folded or not.
var rfc2047Subject = regexp.MustCompile(`(?m)^Subject:\s+=\?UTF-8\?[bB]\?[A-Za-z0-9+/=]+\?=(\r\n\s+=\?UTF-8\?[bB]\?[A-Za-z0-9+/=]+\?=)*\r\n`)

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
	smtpAddr, mailpit := testenv.SMTP(t), testenv.MailpitAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run0 := fmt.Sprintf("%d", time.Now().UnixNano())
	pZh, pEn, pSMS := "p_zh_"+run0, "p_en_"+run0, "p_sms_"+run0
	f := newNotifyFixture(t, ctx, []string{pZh, pEn, pSMS})
	env := append(f.env, "VIGIL_NOTIFY_WEBHOOK_SECRET=provider-secret")

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
	cfgFile := f.config(t, dir, contacts, smtpAddr, "  webhook_url: "+provider.URL+"\n")

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

	f.sendAlert(t, ctx)
	id := f.awaitIncident(t, api)
	shown := f.confirmAndApprove(t, api, id)
	if !strings.Contains(shown, "scope: 3 people") || !strings.Contains(shown, "pipl.individual") {
		t.Fatalf("after confirm:\n%s", shown)
	}

	for _, tc := range []struct{ subj, addr, subject, body string }{
		{pZh, "zh-" + run0 + "@example.org", "示例医院个人信息安全事件告知书", "王芳"},
		{pEn, "en-" + run0 + "@example.org", "示例医院: notice of a personal information security incident", "Dear Li Lei"},
	} {
		for deadline := time.Now().Add(30 * time.Second); mailpitCount(t, mailpit, "to:"+tc.addr) == 0; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no mail to %s within 30 s:\n%s", tc.addr, errb.String())
			}
		}
		time.Sleep(time.Second) // a duplicate would show by now
		got := mailpitSearch(t, mailpit, "to:"+tc.addr)
		if len(got) != 1 {
			t.Fatalf("%d mails to %s, want exactly 1", len(got), tc.addr)
		}
		m := got[0]
		noticeID := event.NoticeID(id, tc.subj, "pipl.individual")
		if m.Subject != tc.subject {
			t.Errorf("subject %q, want %q", m.Subject, tc.subject)
		}
		if "<"+m.MessageID+">" != channel.MessageID(noticeID, "h1.example") {
			t.Errorf("Message-ID %q, want %s", m.MessageID, channel.MessageID(noticeID, "h1.example"))
		}
		var full struct {
			Text string
			From struct{ Address string }
			To   []struct{ Address string }
		}
		mailpitGet(t, mailpit+"/api/v1/message/"+m.ID, &full)
		if full.From.Address != "dpo@h1.example" || len(full.To) != 1 || full.To[0].Address != tc.addr {
			t.Errorf("mail to %s: from %q to %v", tc.addr, full.From.Address, full.To)
		}
		// Field by field: the recipient's name, every content field the
		// DPO recorded, the org's name and the DPO contact.
		for _, want := range append([]string{tc.body, "示例医院"}, slices.Collect(maps.Values(noticeContent))...) {
			if !strings.Contains(full.Text, want) {
				t.Errorf("mail to %s lacks %q; text:\n%s", tc.addr, want, full.Text)
			}
		}
		// The subject went over the wire RFC 2047-encoded as UTF-8.
		resp, err := http.Get(mailpit + "/api/v1/message/" + m.ID + "/raw")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		if !rfc2047Subject.MatchString(head) {
			t.Errorf("raw subject of the mail to %s is not RFC 2047 UTF-8:\n%s", tc.addr, head)
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
