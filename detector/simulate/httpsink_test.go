package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// fakeCollector answers like the collector's HTTP ingest: it validates
// every line with the collector's decoders and answers 200, 207 or 422 —
// unless its script says to answer something else first.
type fakeCollector struct {
	t         *testing.T
	token     string
	maxEvents int // above: 413
	mu        sync.Mutex
	script    []int // answers for the next requests: 503, 500, 502, 207 (rejects line 1), -1 (drops the connection)
	retry     []string
	accepted  map[string]int
	requests  int
}

func newFakeCollector(t *testing.T, script []int, retry []string) (*fakeCollector, *httptest.Server) {
	f := &fakeCollector{t: t, token: "s3cret-token-for-tests", script: script, retry: retry, accepted: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type lineResult struct {
	Line    int      `json:"line"`
	Status  string   `json:"status"`
	EventID string   `json:"event_id,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

func (f *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	answer := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		answer(http.StatusUnauthorized, map[string]string{"error": "unknown bearer token"})
		return
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	lines := bytes.Split(bytes.TrimRight(body.Bytes(), "\n"), []byte("\n"))
	if f.maxEvents > 0 && len(lines) > f.maxEvents {
		answer(http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("more than http.max_events (%d) events in one request", f.maxEvents)})
		return
	}
	step := 200
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	switch step {
	case -1:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case http.StatusServiceUnavailable:
		if len(f.retry) > 0 {
			w.Header().Set("Retry-After", f.retry[0])
			f.retry = f.retry[1:]
		}
		answer(step, map[string]string{"error": "the collector's spool is full"})
		return
	case http.StatusInternalServerError, http.StatusBadGateway:
		answer(step, map[string]string{"error": "boom"})
		return
	}
	var results []lineResult
	acc, rej := 0, 0
	for i, l := range lines {
		var id string
		var probs event.Problems
		if strings.HasSuffix(r.URL.Path, "/v1/device") {
			e, p := event.DecodeDevice(l)
			id, probs = e.EventID, p
		} else {
			e, p := event.DecodeAccess(l)
			id, probs = e.EventID, p
		}
		res := lineResult{Line: i + 1, EventID: id, Status: "accepted"}
		switch {
		case len(probs) > 0:
			res.Status, res.Reason, res.Errors = "rejected", "invalid_event", probs.Strings()
		case step == http.StatusMultiStatus && i == 0:
			res.Status, res.Reason, res.Errors = "rejected", "invalid_event", []string{"test: rejected on purpose"}
		}
		if res.Status == "accepted" {
			f.accepted[id]++
			acc++
		} else {
			rej++
		}
		results = append(results, res)
	}
	code := http.StatusOK
	switch {
	case acc == 0:
		code = http.StatusUnprocessableEntity
	case rej > 0:
		code = http.StatusMultiStatus
	}
	answer(code, map[string]any{"accepted": acc, "rejected": rej, "results": results})
}

func TestHTTPSink(t *testing.T) {
	tests := []struct {
		name       string
		script     []int
		retry      []string
		maxEvents  int
		token      string
		attempts   int
		wantErr    string        // from Run or Close
		rejected   int           // events the collector refused
		wantSleeps time.Duration // one of the waits
	}{
		{name: "accepted at once"},
		{name: "spool full, retry after", script: []int{503, 503, 503}, retry: []string{"1", "0", ""}, wantSleeps: time.Second},
		{name: "server errors and a dropped connection", script: []int{500, -1, 502}, wantSleeps: 500 * time.Millisecond},
		{name: "one line rejected", script: []int{207}, rejected: 1, wantErr: "the collector rejected 1 events"},
		{name: "batch over the collector's limit", maxEvents: 7},
		{name: "wrong token", token: "nope", wantErr: "unknown bearer token"},
		{name: "gives up", script: []int{500, 500, 500}, attempts: 3, wantErr: "gave up after 3 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, srv := newFakeCollector(t, tt.script, tt.retry)
			fc.maxEvents = tt.maxEvents
			token := fc.token
			if tt.token != "" {
				token = tt.token
			}
			var sleeps []time.Duration
			hs, err := NewHTTPSink(HTTPConfig{URL: srv.URL + "/", Token: token, BatchSize: 20, MaxAttempts: tt.attempts,
				Client: srv.Client(),
				Sleep:  func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Seed: 8, Rate: 0.2, Duration: 30 * time.Minute, Orgs: 1, FirstIncidentsAfter: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			err = s.Run(context.Background(), Tee(hs, &rec))
			if err == nil {
				err = hs.Close(context.Background())
			}
			srv.Client().CloseIdleConnections()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if tt.rejected == 0 {
					// A batch failed for good: what is left is counted, not tried.
					requests := hs.Stats().Requests
					_ = hs.Close(context.Background())
					if st := hs.Stats(); st.Requests != requests || st.Unsent < 20 || st.Accepted != 0 {
						t.Errorf("after the failure: requests %d → %d, %d unsent, %d accepted", requests, st.Requests, st.Unsent, st.Accepted)
					}
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			sent := len(rec.acc) + len(rec.dev)
			if sent < 100 {
				t.Fatalf("only %d events sent", sent)
			}
			fc.mu.Lock()
			defer fc.mu.Unlock()
			var lost []string
			for _, id := range recIDs(&rec) {
				if n := fc.accepted[id]; n > 1 {
					t.Fatalf("event %s accepted %d times", id, n)
				} else if n == 0 {
					lost = append(lost, id)
				}
			}
			rejected := hs.Rejected()
			if len(lost) != tt.rejected || len(rejected) != tt.rejected {
				t.Fatalf("%d events not accepted, %d reported rejected; want %d", len(lost), len(rejected), tt.rejected)
			}
			for i, r := range rejected {
				if r.EventID != lost[i] || r.Reason != "invalid_event" || len(r.Errors) == 0 {
					t.Errorf("rejection %+v, lost %s", r, lost[i])
				}
			}
			st := hs.Stats()
			if st.Accepted != int64(sent-tt.rejected) || st.Rejected != int64(tt.rejected) {
				t.Errorf("stats %+v for %d events sent", st, sent)
			}
			if st.Retries != int64(len(sleeps)) {
				t.Errorf("%d retries, %d sleeps", st.Retries, len(sleeps))
			}
			if tt.wantSleeps > 0 && !slices.Contains(sleeps, tt.wantSleeps) {
				t.Errorf("waits %v, want one of %s", sleeps, tt.wantSleeps)
			}
			if tt.maxEvents > 0 && fc.requests <= (sent+19)/20 {
				t.Errorf("%d requests for %d events: the batches were not split", fc.requests, sent)
			}
		})
	}
}

func recIDs(r *recorder) []string {
	var ids []string
	for _, e := range r.acc {
		ids = append(ids, e.EventID)
	}
	for _, e := range r.dev {
		ids = append(ids, e.EventID)
	}
	return ids
}

func TestNewHTTPSinkChecks(t *testing.T) {
	tests := []struct {
		cfg  HTTPConfig
		want string
	}{
		{HTTPConfig{URL: "127.0.0.1:8080", Token: "t"}, "want http(s)://host:port"},
		{HTTPConfig{URL: "ftp://x", Token: "t"}, "want http(s)://host:port"},
		{HTTPConfig{URL: "http://127.0.0.1:8080"}, "token is empty"},
		{HTTPConfig{URL: "http://127.0.0.1:8080", Token: "t", BatchSize: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		if _, err := NewHTTPSink(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewHTTPSink(%+v): %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"5", 5 * time.Second},
		{" 0 ", 0},
		{"Sat, 28 Nov 2026 12:00:30 GMT", 30 * time.Second},
		{"Sat, 28 Nov 2026 11:00:00 GMT", 0},
		{"soon", 0},
		{"-3", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
