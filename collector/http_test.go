package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// memSpool is an Appender that keeps records in memory, or fails.
type memSpool struct {
	mu   sync.Mutex
	recs [][]byte
	err  error
}

func (m *memSpool) Append(ctx context.Context, recs ...[]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	for _, r := range recs {
		m.recs = append(m.recs, bytes.Clone(r))
	}
	return nil
}

type record struct {
	topic      string
	key, value string
}

func (m *memSpool) records(t *testing.T) []record {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]record, len(m.recs))
	for i, r := range m.recs {
		topic, k, v, err := decodeEnvelope(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = record{topic, string(k), string(v)}
	}
	return out
}

// upperPseudo is a visible stand-in for the pseudonymiser: it marks the
// fields it would tokenise.
type upperPseudo struct{}

func (upperPseudo) Access(e *event.AccessEvent) {
	if e.Subject.ID != "" {
		e.Subject.ID = "tok-" + e.Subject.ID
	}
}
func (upperPseudo) Device(e *event.DeviceEvent) {
	e.DeviceID = "tok-" + e.DeviceID
	e.AccountID = "tok-" + e.AccountID
}
func (upperPseudo) ScrubText(s string) string {
	return strings.ReplaceAll(s, "p-secret", "tok-scrubbed")
}
func (upperPseudo) ScrubRaw(b []byte, max int) []byte {
	b = bytes.ReplaceAll(b, []byte("p-secret"), []byte("tok-scrubbed"))
	if len(b) > max {
		b = b[:max]
	}
	return b
}

var errFull = errors.New("spool full")

const testToken = "test-token-0123456789"

func newTestHandler(t *testing.T, sp *memSpool, cfg HTTPConfig) *HTTPHandler {
	t.Helper()
	srcs, err := NewSources([]SourceConfig{
		{Name: "ehr", TokenSHA256: HashToken(testToken)},
		{Name: "sdk", TokenSHA256: HashToken("sdk-token-0123456789"), Kinds: []string{"device"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC) }
	in := NewIngester(sp, upperPseudo{}, nil, IngesterOptions{Now: now})
	return NewHTTPHandler(in, srcs, cfg, func(err error) bool { return errors.Is(err, errFull) }, nil, nil)
}

const goodAccess = `{"event_id":"e-1","occurred_at":"2026-11-28T09:30:00.123+08:00","org":"h1","actor":{"id":"u1","type":"doctor"},"action":"read","subject":{"id":"p-secret","type":"patient"},"categories":["health"],"outcome":"success"}`

func post(t *testing.T, h http.Handler, path, token string, body []byte, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	return resp, m
}

func TestHTTPIngestMixedBatch(t *testing.T) {
	sp := &memSpool{}
	h := newTestHandler(t, sp, HTTPConfig{})
	bad := strings.Replace(goodAccess, `"action":"read"`, `"action":"exfil"`, 1)
	noID := strings.Replace(goodAccess, `"event_id":"e-1",`, ``, 1)
	body := goodAccess + "\n\n" + bad + "\r\n" + noID + "\n"
	resp, m := post(t, h, "/v1/access", testToken, []byte(body), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %v", resp.StatusCode, m)
	}
	if m["accepted"] != 2.0 || m["rejected"] != 1.0 {
		t.Errorf("counts: %v", m)
	}
	res := m["results"].([]any)
	r1, r2, r3 := res[0].(map[string]any), res[1].(map[string]any), res[2].(map[string]any)
	if r1["status"] != "accepted" || r1["event_id"] != "e-1" || r1["line"] != 1.0 {
		t.Errorf("line 1: %v", r1)
	}
	if r2["status"] != "rejected" || r2["line"] != 2.0 || r2["reason"] != "invalid_event" ||
		r2["errors"].([]any)[0] != `action: "exfil" is not one of read|search|export|print|download|update|delete|share|login|break_glass` {
		t.Errorf("line 2: %v", r2)
	}
	if r3["status"] != "accepted" || len(r3["event_id"].(string)) != 36 {
		t.Errorf("line 3 should get an assigned id: %v", r3)
	}

	recs := sp.records(t)
	if len(recs) != 3 {
		t.Fatalf("%d spool records, want 3", len(recs))
	}
	if recs[0].topic != "vigil.access.v1" || recs[0].key != "h1/u1" {
		t.Errorf("record 1: %s %s", recs[0].topic, recs[0].key)
	}
	var e event.AccessEvent
	if err := json.Unmarshal([]byte(recs[0].value), &e); err != nil {
		t.Fatal(err)
	}
	if e.Source != "ehr" || e.Subject.ID != "tok-p-secret" || e.Relationship != event.RelationshipUnknown ||
		e.OccurredAt.Format(time.RFC3339Nano) != "2026-11-28T01:30:00.123Z" || e.ReceivedAt.Format(time.RFC3339) != "2026-11-28T10:00:00Z" {
		t.Errorf("normalised event: %+v", e)
	}
	if !strings.Contains(recs[0].value, `"occurred_at":"2026-11-28T01:30:00.123Z"`) {
		t.Errorf("timestamp form: %s", recs[0].value)
	}
	var dl event.DeadLetter
	if recs[1].topic != "vigil.deadletter.v1" || json.Unmarshal([]byte(recs[1].value), &dl) != nil {
		t.Fatalf("record 2: %+v", recs[1])
	}
	if dl.Source != "ehr" || dl.Receiver != "http" || dl.Kind != "access" || dl.Reason != "invalid_event" || dl.Location != "line 3" ||
		strings.Contains(dl.Raw, "p-secret") || !strings.Contains(dl.Raw, "tok-scrubbed") || dl.RawBytes != len(bad) || dl.EventID != "e-1" {
		t.Errorf("dead letter: %+v", dl)
	}
}

func TestHTTPIngestArrayAndGzip(t *testing.T) {
	sp := &memSpool{}
	h := newTestHandler(t, sp, HTTPConfig{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintf(zw, "[%s, %s]", goodAccess, strings.Replace(goodAccess, "e-1", "e-2", 1))
	zw.Close()
	resp, m := post(t, h, "/v1/access", testToken, buf.Bytes(), map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"})
	if resp.StatusCode != 200 || m["accepted"] != 2.0 {
		t.Fatalf("status %d: %v", resp.StatusCode, m)
	}
	if recs := sp.records(t); len(recs) != 2 || !strings.Contains(recs[1].value, `"event_id":"e-2"`) {
		t.Errorf("records: %+v", recs)
	}
}

func TestHTTPIngestRefusals(t *testing.T) {
	device := `{"occurred_at":"2026-11-28T09:30:00Z","org":"h1","account_id":"a1","device_id":"d1","kind":"login","outcome":"success"}`
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, s)
		zw.Close()
		return b.Bytes()
	}
	tests := []struct {
		name       string
		path       string
		method     string
		token      string
		body       []byte
		hdr        map[string]string
		cfg        HTTPConfig
		spoolErr   error
		status     int
		errText    string
		deadLetter string // reason of the dead letter kept, if any
	}{
		{name: "no token", path: "/v1/access", body: []byte(goodAccess), status: 401, errText: "missing Authorization header"},
		{name: "basic auth", path: "/v1/access", token: "-", hdr: map[string]string{"Authorization": "Basic dTpw"}, body: []byte(goodAccess), status: 401, errText: "malformed Authorization header"},
		{name: "unknown token", path: "/v1/access", token: "nope-nope-nope-nope", body: []byte(goodAccess), status: 401, errText: "unknown bearer token"},
		{name: "kind not allowed", path: "/v1/access", token: "sdk-token-0123456789", body: []byte(goodAccess), status: 403, errText: `source "sdk" may not send access events`},
		{name: "device allowed", path: "/v1/device", token: "sdk-token-0123456789", body: []byte(device), status: 200},
		{name: "GET", path: "/v1/access", method: "GET", token: testToken, status: 405, errText: "GET /v1/access: use POST"},
		{name: "bad content type", path: "/v1/access", token: testToken, body: []byte(goodAccess), hdr: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, status: 415, errText: "Content-Type"},
		{name: "bad encoding", path: "/v1/access", token: testToken, body: []byte(goodAccess), hdr: map[string]string{"Content-Encoding": "br"}, status: 415, errText: `Content-Encoding "br"`},
		{name: "gzip lie", path: "/v1/access", token: testToken, body: []byte(goodAccess), hdr: map[string]string{"Content-Encoding": "gzip"}, status: 400, errText: "Content-Encoding is gzip but the body is not", deadLetter: "too_large"},
		{name: "body too large", path: "/v1/access", token: testToken, body: []byte(goodAccess + "\n" + goodAccess), cfg: HTTPConfig{MaxBodyBytes: 300}, status: 413, errText: "request body exceeds http.max_body_bytes (300 bytes)", deadLetter: "too_large"},
		{name: "gzip bomb", path: "/v1/access", token: testToken, body: gz(strings.Repeat(" ", 5000)), hdr: map[string]string{"Content-Encoding": "gzip"}, cfg: HTTPConfig{MaxBodyBytes: 1000}, status: 413, errText: "http.max_body_bytes (1000 bytes)", deadLetter: "too_large"},
		{name: "event too large", path: "/v1/access", token: testToken, body: []byte(goodAccess + "\n" + strings.Replace(goodAccess, "h1", strings.Repeat("h", 300), 1)), cfg: HTTPConfig{MaxEventBytes: 400}, status: 413, errText: "line 2 is 514 bytes, over http.max_event_bytes (400 bytes)", deadLetter: "too_large"},
		{name: "too many events", path: "/v1/access", token: testToken, body: []byte(goodAccess + "\n" + goodAccess + "\n" + goodAccess), cfg: HTTPConfig{MaxEvents: 2}, status: 413, errText: "more than http.max_events (2) events", deadLetter: "too_many_events"},
		{name: "array too many", path: "/v1/access", token: testToken, body: []byte("[" + goodAccess + "," + goodAccess + "]"), cfg: HTTPConfig{MaxEvents: 1}, status: 413, errText: "more than http.max_events (1)", deadLetter: "too_many_events"},
		{name: "broken array", path: "/v1/access", token: testToken, body: []byte("[" + goodAccess + ",{"), status: 400, errText: "the body is not a JSON array: element 2", deadLetter: "not_json"},
		{name: "trailing data after array", path: "/v1/access", token: testToken, body: []byte("[" + goodAccess + "] x"), status: 400, errText: "data after the closing ]", deadLetter: "not_json"},
		{name: "empty body", path: "/v1/access", token: testToken, body: []byte("\n \n"), status: 400, errText: "the body holds no event"},
		{name: "all rejected", path: "/v1/access", token: testToken, body: []byte("not json\n{}"), status: 422},
		{name: "spool full", path: "/v1/access", token: testToken, body: []byte(goodAccess), spoolErr: fmt.Errorf("append: %w", errFull), status: 503, errText: "spool is full"},
		{name: "spool broken", path: "/v1/access", token: testToken, body: []byte(goodAccess), spoolErr: errors.New("disk on fire"), status: 500, errText: "could not store the events"},
		{name: "unknown path", path: "/v1/alerts", token: testToken, body: []byte(goodAccess), status: 404, errText: "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := &memSpool{err: tt.spoolErr}
			h := newTestHandler(t, sp, tt.cfg)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, tt.path, bytes.NewReader(tt.body))
			if tt.token != "" && tt.token != "-" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("response is not JSON: %s", rec.Body.String())
			}
			if !strings.Contains(body.Error, tt.errText) {
				t.Errorf("error %q does not contain %q", body.Error, tt.errText)
			}
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.status == 503 && rec.Header().Get("Retry-After") != "5" {
				t.Errorf("Retry-After %q, want 5", rec.Header().Get("Retry-After"))
			}
			if tt.spoolErr != nil {
				return
			}
			recs := sp.records(t)
			if tt.deadLetter != "" {
				if len(recs) != 1 || recs[0].topic != "vigil.deadletter.v1" || !strings.Contains(recs[0].value, `"reason":"`+tt.deadLetter+`"`) {
					t.Errorf("want one %s dead letter, got %+v", tt.deadLetter, recs)
				}
			} else if tt.status >= 400 && tt.status != 422 && len(recs) != 0 {
				t.Errorf("refused request left records: %+v", recs)
			}
		})
	}
}

func TestNewSourcesErrors(t *testing.T) {
	_, err := NewSources([]SourceConfig{
		{Name: "", TokenSHA256: HashToken("a")},
		{Name: "x y", TokenSHA256: "abc"},
		{Name: "ok", TokenSHA256: HashToken("a"), Kinds: []string{"alerts"}},
		{Name: "ok", TokenSHA256: HashToken("b")},
	})
	want := []string{
		"sources[0].name: required",
		"sources[1].name: must be at most 256 bytes of UTF-8 without spaces or control characters",
		"sources[1].token_sha256: must be 64 hex digits: the SHA-256 of the token, not the token",
		"sources[2].token_sha256: the same token is configured for another source",
		`sources[2].kinds[0]: "alerts" is not one of access|device`,
		`sources[3].name: "ok" is already used by another source`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
