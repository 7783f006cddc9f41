package collector

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-audit/vigil/collector/filetail"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/collector/spool"
)

func testOptions(t *testing.T, writers map[string]*flakyWriter) Options {
	t.Helper()
	key := make(pseudo.Key, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	sp := spool.Defaults()
	sp.Dir = filepath.Join(t.TempDir(), "spool")
	return Options{
		Sources:      []SourceConfig{{Name: "ehr", TokenSHA256: HashToken(testToken)}},
		Spool:        sp,
		Key:          key,
		Pseudonymise: pseudo.Defaults(),
		Producer:     ProducerConfig{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond},
		NewWriter: func(topic string) (MessageWriter, error) {
			w := &flakyWriter{topic: topic}
			writers[topic] = w
			return w, nil
		},
	}
}

func TestCollectorShutdownWithoutStart(t *testing.T) {
	c, err := New(testOptions(t, map[string]*flakyWriter{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := c.Start(context.Background()); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
}

// TestCollectorLifecycle: start, one event over HTTP and one from a file,
// shutdown drains them to the writers; metrics pass the linter.
func TestCollectorLifecycle(t *testing.T) {
	writers := map[string]*flakyWriter{}
	o := testOptions(t, writers)
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	dir := t.TempDir()
	logFile := filepath.Join(dir, "access.ndjson")
	writeFile(t, logFile, strings.Replace(goodAccess, "e-1", "file-1", 1)+"\n")
	ft := filetail.Defaults()
	ft.Paths = []string{filepath.Join(dir, "*.ndjson")}
	ft.Kind = "access"
	ft.PositionsFile = filepath.Join(dir, "positions.json")
	ft.PollInterval = 10 * time.Millisecond
	o.Files = []FileConfig{{Source: "ehr-files", Config: ft}}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Mount(http.NewServeMux()))
	defer srv.Close()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/access", strings.NewReader(goodAccess))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest status %d", resp.StatusCode)
	}
	if err := c.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := writers[topicAccess].snapshot()
		if len(got) == 2 {
			joined := strings.Join(got, "\n")
			if !strings.Contains(joined, `"source":"ehr"`) || !strings.Contains(joined, `"source":"ehr-files"`) || strings.Contains(joined, "p-secret") {
				t.Errorf("produced: %s", joined)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("produced %d of 2 events", len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(ctx); err == nil {
		t.Error("Ready after Shutdown")
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	for _, name := range []string{"vigil_collector_events_received_total", "vigil_collector_produced_total", "vigil_collector_spool_bytes", "vigil_collector_spool_events", "vigil_collector_produce_duration_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("metric %s not exported (%d, %v)", name, n, err)
		}
	}
}

func TestCollectorRefusesBadOptions(t *testing.T) {
	o := testOptions(t, map[string]*flakyWriter{})
	o.Key = pseudo.Key("short")
	if _, err := New(o); err == nil {
		t.Error("short key accepted")
	}
	o = testOptions(t, map[string]*flakyWriter{})
	o.Sources = []SourceConfig{{Name: "x", TokenSHA256: "token"}}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "sources[0].token_sha256") {
		t.Errorf("bad source: %v", err)
	}
	o = testOptions(t, map[string]*flakyWriter{})
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second collector on one spool: %v", err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
