package directory

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileDirectory(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "c.yaml")
	os.WriteFile(y, []byte("tok1:\n  name: 张三\n  language: zh-CN\n  email: a@example.org\n  preferred: [email, sms]\n"), 0o600)
	d, err := LoadFile(y)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Lookup(context.Background(), "tok1")
	if err != nil || c.Name != "张三" || len(c.Preferred) != 2 {
		t.Fatalf("got %+v %v", c, err)
	}
	if _, err := d.Lookup(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	os.WriteFile(y, []byte("tok2:\n  name: Ann\n"), 0o600)
	os.Chtimes(y, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if changed, err := d.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if _, err := d.Lookup(context.Background(), "tok2"); err != nil {
		t.Fatal(err)
	}
	if changed, err := d.Reload(); changed || err != nil {
		t.Fatalf("second reload: %v %v", changed, err)
	}
	os.WriteFile(y, []byte("tok3:\n  nmae: x\n"), 0o600)
	os.Chtimes(y, time.Now().Add(2*time.Hour), time.Now().Add(2*time.Hour))
	if _, err := d.Reload(); err == nil {
		t.Fatal("bad reload accepted")
	}
	if _, err := d.Lookup(context.Background(), "tok2"); err != nil {
		t.Fatalf("old contacts lost after failed reload: %v", err)
	}
	for name, body := range map[string]string{
		"bad.yaml": "tok1:\n  name: x\n  emial: y\n",
		"bad.json": "{\n\"tok1\": {\"name\": \"x\",\n \"emial\": \"y\"}}",
		"ch.yaml":  "tok1:\n  preferred: [fax]\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		_, err := LoadFile(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: want error naming file, got %v", name, err)
		}
		if name != "ch.yaml" && !strings.Contains(err.Error(), ":3") && !strings.Contains(err.Error(), "line 3") {
			t.Errorf("%s: want line 3 in %v", name, err)
		}
	}
}

func TestHTTPDirectory(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/contacts/ok":
			w.Write([]byte(`{"name":"Ann","language":"en","phone":"+100"}`))
		case "/contacts/missing":
			w.WriteHeader(http.StatusNotFound)
		case "/contacts/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/contacts/huge":
			w.Write([]byte(`{"name":"` + strings.Repeat("a", 1<<20) + `"}`))
		case "/contacts/types":
			w.Write([]byte(`{"name":42}`))
		case "/contacts/unknown":
			w.Write([]byte(`{"name":"a","ssn":"1"}`))
		case "/contacts/slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	d := &HTTPDirectory{Base: srv.URL, Token: "s3cret", Timeout: 200 * time.Millisecond, MaxBytes: 4096}
	ctx := context.Background()
	c, err := d.Lookup(ctx, "ok")
	if err != nil || c.Name != "Ann" || c.Phone != "+100" {
		t.Fatalf("ok: %+v %v", c, err)
	}
	tests := []struct {
		tok       string
		notFound  bool
		retryable bool
	}{
		{"missing", true, false},
		{"down", false, true},
		{"huge", false, false},
		{"types", false, false},
		{"unknown", false, false},
		{"slow", false, true},
	}
	for _, tt := range tests {
		_, err := d.Lookup(ctx, tt.tok)
		if err == nil {
			t.Errorf("%s: want error", tt.tok)
			continue
		}
		if errors.Is(err, ErrNotFound) != tt.notFound || Retryable(err) != tt.retryable {
			t.Errorf("%s: err %v notFound=%v retryable=%v", tt.tok, err, errors.Is(err, ErrNotFound), Retryable(err))
		}
	}
	bad := &HTTPDirectory{Base: srv.URL, Token: "wrong"}
	if _, err := bad.Lookup(ctx, "ok"); err == nil || Retryable(err) {
		t.Errorf("401: got %v", err)
	}
}
