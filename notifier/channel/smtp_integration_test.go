//go:build integration

package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/directory"
)

type mpAddr struct{ Name, Address string }

type mpMessage struct {
	ID        string
	MessageID string
	Subject   string
	From      mpAddr
	To        []mpAddr
	Text      string
	HTML      string
}

func mpGet(t *testing.T, api, path string, v any) {
	t.Helper()
	resp, err := http.Get(api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestSMTPMailpit sends through a real SMTP server (Mailpit) and reads the result back
// through Mailpit's API.
func TestSMTPMailpit(t *testing.T) {
	addr, api := os.Getenv("VIGIL_TEST_SMTP"), os.Getenv("VIGIL_TEST_MAILPIT_API")
	if addr == "" || api == "" {
		t.Skip("VIGIL_TEST_SMTP / VIGIL_TEST_MAILPIT_API not set (eval \"$(scripts/services.sh env)\")")
	}
	host, portS, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	from := mail.Address{Name: "Vigil Health", Address: "notices@channel-test.example"}
	s, err := NewSMTP(SMTPConfig{Host: host, Port: port, Mode: ModePlain, From: from})
	if err != nil {
		t.Fatal(err)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, tt := range []struct{ lang, subject, text, name string }{
		{"zh-CN", "个人信息安全事件告知", "尊敬的张三：\n我们发现了一起个人信息安全事件。\n", "张三"},
		{"zh-TW", strings.Repeat("个人信息安全事件告知", 6), "长主题。\n", "李四"},
		{"en", "Notice of a personal data incident", "Dear Ann,\nWe discovered an incident.\n", "Ann Lee"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			id := event.NoticeID("channel-it-"+run, "tok-"+tt.lang, "pipl.individual")
			to := "channel-it-" + run + "-" + strings.ToLower(tt.lang) + "@example.org"
			m := Message{NoticeID: id, Channel: event.ChannelEmail, Language: tt.lang,
				To: directory.Contact{Name: tt.name, Email: to}, Subject: tt.subject, Text: tt.text, HTML: "<p>" + tt.name + "</p>"}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rc, err := s.Send(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			wantMID := MessageID(id, "channel-test.example")
			if rc.MessageID != wantMID {
				t.Fatalf("receipt id %s want %s", rc.MessageID, wantMID)
			}
			var list struct{ Messages []mpMessage }
			var found *mpMessage
			for i := 0; i < 50 && found == nil; i++ {
				mpGet(t, api, "/api/v1/search?query="+url.QueryEscape("to:"+to), &list)
				if len(list.Messages) > 0 {
					found = &list.Messages[0]
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if found == nil {
				t.Fatalf("message to %s not found in Mailpit", to)
			}
			if len(list.Messages) != 1 {
				t.Errorf("want 1 message, got %d", len(list.Messages))
			}
			var full mpMessage
			mpGet(t, api, "/api/v1/message/"+found.ID, &full)
			if full.Subject != tt.subject {
				t.Errorf("subject %q want %q", full.Subject, tt.subject)
			}
			if "<"+full.MessageID+">" != wantMID {
				t.Errorf("Message-ID %q want %s", full.MessageID, wantMID)
			}
			if full.From.Address != from.Address || full.From.Name != from.Name {
				t.Errorf("from %+v", full.From)
			}
			if len(full.To) != 1 || full.To[0].Address != to || full.To[0].Name != tt.name {
				t.Errorf("to %+v", full.To)
			}
			if strings.TrimSpace(strings.ReplaceAll(full.Text, "\r\n", "\n")) != strings.TrimSpace(tt.text) {
				t.Errorf("text %q", full.Text)
			}
			if !strings.Contains(full.HTML, tt.name) {
				t.Errorf("html %q", full.HTML)
			}
			var headers map[string][]string
			mpGet(t, api, "/api/v1/message/"+found.ID+"/headers", &headers)
			if got := headers["X-Vigil-Notice-Id"]; fmt.Sprint(got) != fmt.Sprint([]string{id}) {
				if got = headers["X-Vigil-Notice-ID"]; fmt.Sprint(got) != fmt.Sprint([]string{id}) {
					t.Errorf("X-Vigil-Notice-ID header %v (all: %v)", got, headers)
				}
			}
			if got := headers["Content-Language"]; len(got) != 1 || got[0] != tt.lang {
				t.Errorf("Content-Language %v", got)
			}
		})
	}
}
