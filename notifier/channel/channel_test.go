package channel

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/directory"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedDate = time.Date(2026, 12, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs:\n%s", p, got)
	}
}

func zhMessage() Message {
	return Message{
		NoticeID: event.NoticeID("inc-1", "tok-abc", "pipl.individual"),
		Channel:  event.ChannelEmail,
		Language: "zh-CN",
		To: directory.Contact{Name: "张三", Email: "zhang@example.org", Phone: "+8613800000000",
			Postal: []string{"北京市海淀区", "=HYPERLINK(\"x\")"}},
		Subject: "个人信息安全事件告知",
		Text:    "尊敬的张三：\n\n我们发现了一起个人信息安全事件。\n",
		SMS:     "【示例】个人信息安全事件告知",
		HTML:    "<p>尊敬的张三：</p>",
	}
}

func TestBuildEmail(t *testing.T) {
	from := mail.Address{Name: "Vigil Health", Address: "notices@health.example"}
	for _, tt := range []struct {
		name string
		m    Message
	}{
		{"zh", zhMessage()},
		{"en", Message{NoticeID: "n-en", Language: "en", To: directory.Contact{Name: "Ann Lee", Email: "ann@example.org"},
			Subject: "Notice of a data incident", Text: "Dear Ann,\nA line that is long enough to need soft wrapping in quoted printable encoding because it exceeds seventy six characters.\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := BuildEmail(tt.m, from, "health.example", fixedDate)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".eml", b)
			msg, err := mail.ReadMessage(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			subj, err := new(mimeDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subj != tt.m.Subject {
				t.Errorf("subject %q %v", subj, err)
			}
			if got := msg.Header.Get("Message-ID"); got != "<"+tt.m.NoticeID+"@health.example>" {
				t.Errorf("Message-ID %s", got)
			}
			if msg.Header.Get("X-Vigil-Notice-ID") != tt.m.NoticeID {
				t.Error("X-Vigil-Notice-ID missing")
			}
			body, _ := io.ReadAll(msg.Body)
			if !bytes.Contains(body, []byte("Content-Transfer-Encoding: quoted-printable")) {
				t.Error("not quoted-printable")
			}
		})
	}
	long := zhMessage()
	long.Subject = strings.Repeat("个人信息安全事件告知", 6)
	lb, err := BuildEmail(long, from, "health.example", fixedDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(lb), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line over 78 octets: %q", l)
		}
	}
	lm, _ := mail.ReadMessage(bytes.NewReader(lb))
	if subj, err := new(mimeDecoder).DecodeHeader(lm.Header.Get("Subject")); err != nil || subj != long.Subject {
		t.Errorf("long subject %q %v", subj, err)
	}
	inj := zhMessage()
	inj.Subject = "hi\r\nBcc: x@evil.example"
	ib, _ := BuildEmail(inj, from, "health.example", fixedDate)
	if bytes.Contains(ib, []byte("\r\nBcc:")) {
		t.Error("header injection through Subject")
	}
	if _, err := BuildEmail(Message{NoticeID: "x"}, from, "d", fixedDate); !IsPermanent(err) || !errors.Is(err, ErrNoAddress) {
		t.Errorf("no address: %v", err)
	}
}

// smtpServer is a minimal SMTP server for unit tests.
type smtpServer struct {
	ln       net.Listener
	rcptCode string
	mu       sync.Mutex
	data     [][]byte
	auth     []string // decoded credentials seen, "user:pass"
	starttls *tls.Config
	tlsSeen  bool
}

func newSMTPServer(t *testing.T, rcptCode string) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, rcptCode: rcptCode}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := func(l string) { io.WriteString(c, l+"\r\n") }
	w("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			w("250-test")
			if s.starttls != nil {
				w("250-STARTTLS")
			}
			w("250-AUTH PLAIN LOGIN")
			w("250 8BITMIME")
		case strings.HasPrefix(cmd, "AUTH PLAIN "):
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line)[11:])
			parts := strings.Split(string(raw), "\x00")
			s.mu.Lock()
			s.auth = append(s.auth, parts[1]+":"+parts[2])
			s.mu.Unlock()
			w("235 ok")
		case cmd == "STARTTLS" && s.starttls != nil:
			w("220 go ahead")
			tc := tls.Server(c, s.starttls)
			if err := tc.Handshake(); err != nil {
				return
			}
			s.mu.Lock()
			s.tlsSeen = true
			s.mu.Unlock()
			c, r = tc, bufio.NewReader(tc)
		case cmd == "AUTH LOGIN":
			w("334 VXNlcm5hbWU6")
			u, _ := r.ReadString('\n')
			w("334 UGFzc3dvcmQ6")
			pw, _ := r.ReadString('\n')
			du, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(u))
			dp, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(pw))
			s.mu.Lock()
			s.auth = append(s.auth, string(du)+":"+string(dp))
			s.mu.Unlock()
			w("235 ok")
		case strings.HasPrefix(cmd, "MAIL"):
			w("250 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			w(s.rcptCode + " rcpt " + strings.TrimSpace(line[8:]))
		case cmd == "DATA":
			w("354 go")
			var buf bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				buf.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.data = append(s.data, buf.Bytes())
			s.mu.Unlock()
			w("250 queued")
		case cmd == "QUIT":
			w("221 bye")
			return
		default:
			w("250 ok")
		}
	}
}

func TestSMTPSender(t *testing.T) {
	from := mail.Address{Name: "Vigil", Address: "notices@health.example"}
	if _, err := NewSMTP(SMTPConfig{Host: "mail.example", Port: 25, Mode: ModePlain, From: from}); err == nil {
		t.Error("plain mode allowed for non-loopback host")
	}
	for _, tt := range []struct {
		code      string
		wantErr   bool
		permanent bool
	}{{"250", false, false}, {"550", true, true}, {"451", true, false}} {
		srv := newSMTPServer(t, tt.code)
		port := srv.ln.Addr().(*net.TCPAddr).Port
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, Mode: ModePlain, From: from, Now: func() time.Time { return fixedDate }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m := zhMessage()
		rc, err := s.Send(ctx, m)
		cancel()
		if (err != nil) != tt.wantErr || IsPermanent(err) != tt.permanent {
			t.Fatalf("rcpt %s: err %v permanent=%v", tt.code, err, IsPermanent(err))
		}
		if err != nil {
			if strings.Contains(err.Error(), m.To.Email) {
				t.Errorf("error leaks recipient address: %v", err)
			}
			continue
		}
		want, _ := s.Build(m, fixedDate)
		srv.mu.Lock()
		got := srv.data[0]
		srv.mu.Unlock()
		if !bytes.Equal(got, want) {
			t.Errorf("submitted bytes differ from Build:\n%s", got)
		}
		if rc.MessageID != MessageID(m.NoticeID, "health.example") || rc.Channel != event.ChannelEmail {
			t.Errorf("receipt %+v", rc)
		}
	}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		srv := newSMTPServer(t, "250")
		port := srv.ln.Addr().(*net.TCPAddr).Port
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, Mode: ModePlain, Auth: mech, Username: "u", Password: "p w", From: from})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(context.Background(), zhMessage()); err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		srv.mu.Lock()
		if len(srv.auth) != 1 || srv.auth[0] != "u:p w" {
			t.Errorf("%s: auth seen %q", mech, srv.auth)
		}
		srv.mu.Unlock()
	}
	// TLS and STARTTLS with a test certificate valid for 127.0.0.1.
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	clientTLS := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	clientTLS.ServerName = "127.0.0.1"
	for _, mode := range []string{ModeTLS, ModeSTARTTLS} {
		srv := newSMTPServer(t, "250")
		if mode == ModeTLS {
			srv.ln.Close()
			ln, err := tls.Listen("tcp", "127.0.0.1:0", ts.TLS.Clone())
			if err != nil {
				t.Fatal(err)
			}
			srv.ln = ln
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					srv.mu.Lock()
					srv.tlsSeen = true
					srv.mu.Unlock()
					go srv.serve(c)
				}
			}()
		} else {
			srv.starttls = ts.TLS.Clone()
		}
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: srv.ln.Addr().(*net.TCPAddr).Port, Mode: mode,
			Auth: "PLAIN", Username: "u", Password: "p", From: from, TLS: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(context.Background(), zhMessage()); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		srv.mu.Lock()
		if !srv.tlsSeen || len(srv.data) != 1 {
			t.Errorf("%s: tls %v messages %d", mode, srv.tlsSeen, len(srv.data))
		}
		srv.mu.Unlock()
	}
	// server that never greets: the context deadline ends the attempt, retryable.
	hang, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	hs, _ := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: hang.Addr().(*net.TCPAddr).Port, Mode: ModePlain, From: from})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	_, err := hs.Send(ctx, zhMessage())
	cancel()
	if err == nil || IsPermanent(err) || time.Since(start) > 3*time.Second {
		t.Errorf("hanging server: %v after %v", err, time.Since(start))
	}
	// unreachable server: retryable
	s, _ := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: 1, Mode: ModePlain, From: from})
	if _, err := s.Send(context.Background(), zhMessage()); err == nil || IsPermanent(err) {
		t.Errorf("dial failure: %v", err)
	}
}

type provider struct {
	secret   []byte
	fail     atomic.Int32 // respond 503 this many times
	mu       sync.Mutex
	keys     map[string]int
	accepted int
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := VerifySignature(p.secret, r.Header.Get("X-Vigil-Signature"), r.Header.Get("X-Vigil-Timestamp"), body, time.Minute); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if p.fail.Add(-1) >= 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := r.Header.Get("Idempotency-Key")
	p.keys[k]++
	if p.keys[k] > 1 {
		w.WriteHeader(http.StatusConflict)
		return
	}
	p.accepted++
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhook(t *testing.T) {
	p := &provider{secret: []byte("k"), keys: map[string]int{}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	ws := &WebhookSender{URL: srv.URL, Secret: []byte("k")}
	m := zhMessage()
	m.Channel = event.ChannelSMS
	ctx := context.Background()
	for i := 0; i < 2; i++ { // second send hits 409: same receipt id
		rc, err := ws.Send(ctx, m)
		if err != nil || rc.MessageID != m.NoticeID {
			t.Fatalf("send %d: %+v %v", i, rc, err)
		}
	}
	if p.accepted != 1 || p.keys[m.NoticeID] != 2 {
		t.Fatalf("accepted %d keys %v", p.accepted, p.keys)
	}
	bad := &WebhookSender{URL: srv.URL, Secret: []byte("wrong")}
	if _, err := bad.Send(ctx, m); !IsPermanent(err) {
		t.Errorf("bad signature should be permanent 401, got %v", err)
	}
	m.To.Phone = ""
	if _, err := ws.Send(ctx, m); !errors.Is(err, ErrNoAddress) {
		t.Errorf("no phone: %v", err)
	}
}

func TestRetryWebhook(t *testing.T) {
	p := &provider{secret: []byte("k"), keys: map[string]int{}}
	p.fail.Store(2)
	srv := httptest.NewServer(p)
	defer srv.Close()
	s := Retry(&WebhookSender{URL: srv.URL, Secret: []byte("k")}, Policy{MaxAttempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond})
	m := zhMessage()
	m.Channel = event.ChannelPush
	m.To.PushID = "push-1"
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if p.accepted != 1 || p.keys[m.NoticeID] != 1 {
		t.Fatalf("accepted %d keys %v", p.accepted, p.keys)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"a":1}`)
	now := time.Now()
	ts := func(d time.Duration) string { return itoa(now.Add(d).Unix()) }
	for _, tt := range []struct {
		name, sig, ts string
		ok            bool
	}{
		{"ok", Sign([]byte("s"), ts(0), body), ts(0), true},
		{"wrong secret", Sign([]byte("x"), ts(0), body), ts(0), false},
		{"stale", Sign([]byte("s"), ts(-time.Hour), body), ts(-time.Hour), false},
		{"no prefix", strings.TrimPrefix(Sign([]byte("s"), ts(0), body), "sha256="), ts(0), false},
		{"bad ts", Sign([]byte("s"), "x", body), "x", false},
	} {
		if err := VerifySignature([]byte("s"), tt.sig, tt.ts, body, time.Minute); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

type fakeSender struct {
	calls int
	errs  []error
}

func (f *fakeSender) Send(ctx context.Context, m Message) (Receipt, error) {
	f.calls++
	if len(f.errs) > 0 {
		e := f.errs[0]
		f.errs = f.errs[1:]
		if e != nil {
			return Receipt{}, e
		}
	}
	return Receipt{MessageID: m.NoticeID, Channel: m.Channel}, nil
}

func TestRetryStops(t *testing.T) {
	pol := Policy{MaxAttempts: 5, Base: time.Millisecond, Max: time.Millisecond}
	f := &fakeSender{errs: []error{retryable("x"), permanent("bad")}}
	if _, err := Retry(f, pol).Send(context.Background(), Message{}); !IsPermanent(err) || f.calls != 2 {
		t.Errorf("permanent: %v calls %d", err, f.calls)
	}
	f = &fakeSender{errs: []error{retryable("1"), retryable("2"), retryable("3")}}
	if _, err := Retry(f, Policy{MaxAttempts: 3, Base: time.Millisecond}).Send(context.Background(), Message{}); err == nil || f.calls != 3 {
		t.Errorf("max attempts: %v calls %d", err, f.calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f = &fakeSender{errs: []error{retryable("1"), retryable("2")}}
	if _, err := Retry(f, Policy{Base: time.Hour}).Send(ctx, Message{}); !errors.Is(err, context.Canceled) || f.calls != 1 {
		t.Errorf("ctx: %v calls %d", err, f.calls)
	}
}

func TestFallback(t *testing.T) {
	email := &fakeSender{errs: []error{permanent("mailbox gone")}}
	sms := &fakeSender{}
	letter := &fakeSender{}
	fb := Fallback([]event.Channel{event.ChannelEmail, event.ChannelSMS, event.ChannelLetter},
		map[event.Channel]Sender{event.ChannelEmail: email, event.ChannelSMS: sms, event.ChannelLetter: letter})
	m := zhMessage()
	rc, err := fb.Send(context.Background(), m)
	if err != nil || rc.Channel != event.ChannelSMS || email.calls != 1 || sms.calls != 1 {
		t.Fatalf("%+v %v", rc, err)
	}
	m.To.Email, m.To.Phone = "", ""
	if rc, err = fb.Send(context.Background(), m); err != nil || rc.Channel != event.ChannelLetter {
		t.Fatalf("%+v %v", rc, err)
	}
	m.To.Postal = nil
	if _, err = fb.Send(context.Background(), m); !IsPermanent(err) || !errors.Is(err, ErrNoAddress) {
		t.Fatalf("none: %v", err)
	}
	sms.errs = []error{retryable("503")}
	m = zhMessage()
	m.To.Email = ""
	if _, err = fb.Send(context.Background(), m); err == nil || IsPermanent(err) || letter.calls != 1 {
		t.Fatalf("retryable should stop fallback: %v letter calls %d", err, letter.calls)
	}
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	o := &Outbox{Dir: dir, From: mail.Address{Name: "Vigil Health", Address: "notices@health.example"}, Domain: "health.example",
		Now: func() time.Time { return fixedDate }}
	m := zhMessage()
	rc1, err := o.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	o.Now = func() time.Time { return fixedDate.Add(time.Hour) }
	rc2, err := o.Send(context.Background(), m)
	if err != nil || rc1 != rc2 {
		t.Fatalf("not idempotent: %+v %+v %v", rc1, rc2, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, m.NoticeID+".eml"))
	want, _ := BuildEmail(m, o.From, o.Domain, fixedDate)
	if !bytes.Equal(got, want) {
		t.Fatal(".eml differs from the SMTP builder's bytes")
	}
	m.Channel = event.ChannelSMS
	if _, err := o.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("want 2 files, got %v", ents)
	}
	m.NoticeID = "../x"
	if _, err := o.Send(context.Background(), m); !IsPermanent(err) {
		t.Fatalf("unsafe id: %v", err)
	}
}

func TestLetterAndPhone(t *testing.T) {
	dir := t.TempDir()
	l := &LetterBatch{Dir: dir}
	p := &PhoneList{Path: filepath.Join(dir, "calls.csv")}
	m := zhMessage()
	m2 := Message{NoticeID: "n-en", Language: "en", To: directory.Contact{Name: "@Ann", Phone: "+1555", Postal: []string{"1 Main St", "Springfield"}},
		Subject: "Notice", Text: "Dear Ann,\n\nWe write to tell you."}
	for _, mm := range []Message{m, m2, m} {
		if _, err := l.Send(context.Background(), mm); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Send(context.Background(), mm); err != nil {
			t.Fatal(err)
		}
	}
	letters, _ := os.ReadFile(filepath.Join(dir, "letters.csv"))
	golden(t, "letters.csv", letters)
	calls, _ := os.ReadFile(filepath.Join(dir, "calls.csv"))
	golden(t, "calls.csv", calls)
	recs, err := csv.NewReader(bytes.NewReader(letters)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("rows %d %v", len(recs), err)
	}
	if !strings.HasPrefix(recs[1][2], "北京") || !strings.Contains(recs[1][2], "'=HYPERLINK") || recs[2][1] != "'@Ann" {
		t.Errorf("injection not neutralised: %q", recs)
	}
	pdfs, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(pdfs) != 2 {
		t.Fatalf("pdfs %v", pdfs)
	}
	b, _ := os.ReadFile(filepath.Join(dir, m.NoticeID+".pdf"))
	if !bytes.HasPrefix(b, []byte("%PDF-1.4")) || !bytes.Contains(b, []byte("STSong-Light")) {
		t.Error("letter pdf malformed")
	}
	golden(t, "letter-zh.pdf", b)
	m.To.Postal = nil
	m.NoticeID = "other"
	if _, err := l.Send(context.Background(), m); !errors.Is(err, ErrNoAddress) {
		t.Errorf("no postal: %v", err)
	}
}
