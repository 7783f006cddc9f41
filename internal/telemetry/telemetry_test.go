package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		cfg     LogConfig
		wantErr string
		check   func(t *testing.T, out string)
	}{
		{cfg: LogConfig{}, check: func(t *testing.T, out string) {
			if !strings.Contains(out, `level=INFO msg="stage started" stage=sink`) || strings.Contains(out, "hidden") {
				t.Errorf("text/info: %q", out)
			}
		}},
		{cfg: LogConfig{Level: "debug", Format: "json"}, check: func(t *testing.T, out string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &m); err != nil || m["msg"] != "hidden" {
				t.Errorf("json/debug: %q (%v)", out, err)
			}
		}},
		{cfg: LogConfig{Level: "ERROR"}, check: func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("error level logged info: %q", out)
			}
		}},
		{cfg: LogConfig{Level: "loud"}, wantErr: `log.level: "loud" is not one of debug|info|warn|error`},
		{cfg: LogConfig{Format: "xml"}, wantErr: `log.format: "xml" is not one of text|json`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l, err := NewLogger(tt.cfg, &buf)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%+v: error %v, want %q", tt.cfg, err, tt.wantErr)
			}
			if ps := tt.cfg.Validate(); len(ps) != 1 {
				t.Errorf("%+v: Validate returned %v", tt.cfg, ps)
			}
			continue
		}
		l.Debug("hidden")
		l.Info("stage started", "stage", "sink")
		tt.check(t, buf.String())
	}
	if OrDiscard(nil) == nil {
		t.Error("OrDiscard(nil) returned nil")
	}
}

func TestHealth(t *testing.T) {
	reg := NewRegistry()
	fail := errors.New("broker 127.0.0.1:9 refused the connection")
	healthy := true
	h := NewHealth(reg, 200*time.Millisecond,
		Check{Name: "kafka", Fn: func(ctx context.Context) error {
			if healthy {
				return nil
			}
			return fail
		}},
		Check{Name: "slow", Fn: func(ctx context.Context) error {
			if healthy {
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}},
	)
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status string   `json:"status"`
		Checks []Result `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || body.Status != "ok" || len(body.Checks) != 2 {
		t.Errorf("healthy: %d %+v", resp.StatusCode, body)
	}

	healthy = false
	start := time.Now()
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if time.Since(start) > 2*time.Second {
		t.Errorf("health did not honour its timeout: %s", time.Since(start))
	}
	want := []Result{
		{Name: "kafka", OK: false, Error: fail.Error()},
		{Name: "slow", OK: false, Error: context.DeadlineExceeded.Error()},
	}
	if resp.StatusCode != 503 || body.Status != "unavailable" || len(body.Checks) != 2 || body.Checks[0] != want[0] || body.Checks[1] != want[1] {
		t.Errorf("unhealthy: %d %+v", resp.StatusCode, body)
	}
	if got := testutil.ToFloat64(h.up.WithLabelValues("kafka")); got != 0 {
		t.Errorf("vigil_health_check_up{check=kafka} = %v, want 0", got)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := NewRegistry()
	NewHealth(reg, 0, Check{Name: "x", Fn: func(context.Context) error { return nil }}).Run(context.Background())
	problems, err := testutil.GatherAndLint(reg, "vigil_build_info", "vigil_health_check_up")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	rec := httptest.NewRecorder()
	MetricsHandler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `vigil_health_check_up{check="x"} 1`) {
		t.Errorf("exposition lacks the health gauge:\n%s", rec.Body.String())
	}
	if b := Build(); b.Version == "" || b.GoVersion == "" {
		t.Errorf("build info incomplete: %+v", b)
	}
}
