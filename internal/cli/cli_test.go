package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	code = Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: environ})
	return code, out.String(), errb.String()
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badCfg, []byte("http:\n  listn: x\nlog:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sourcesCfg := filepath.Join(dir, "sources.yml")
	if err := os.WriteFile(sourcesCfg, []byte("ingest:\n  sources:\n    - name: ehr\n      token_sha256: secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     []string
		args    []string
		code    int
		stdout  string // substring
		stderr  string // substring
		noStart bool
	}{
		{name: "no args", args: nil, code: ExitUsage, stderr: "Usage:\n  vigil <command>"},
		{name: "help", args: []string{"help"}, code: ExitOK, stdout: "tail      Print the records of a topic"},
		{name: "--help", args: []string{"--help"}, code: ExitOK, stdout: "Exit status: 0 success"},
		{name: "help up", args: []string{"help", "up"}, code: ExitOK, stdout: "key http.listen, env VIGIL_HTTP_LISTEN"},
		{name: "help unknown", args: []string{"help", "nope"}, code: ExitUsage, stderr: `unknown command "nope"`},
		{name: "unknown command", args: []string{"colect"}, code: ExitUsage, stderr: `vigil: unknown command "colect"`},
		{name: "unknown command suggestion", args: []string{"tai"}, code: ExitUsage, stderr: `(did you mean "tail"?)`},
		{name: "unknown flag", args: []string{"up", "--nope"}, code: ExitUsage, stderr: "flag provided but not defined: -nope"},
		{name: "up --help", args: []string{"up", "--help"}, code: ExitOK, stdout: "--kafka-listen address"},
		{name: "tail --help", args: []string{"tail", "-h"}, code: ExitOK, stdout: "Usage: vigil tail [flags] TOPIC"},
		{name: "collect nothing configured", args: []string{"collect"}, code: ExitUsage,
			stderr: "bus.brokers: required: the Kafka brokers to produce to\n  spool.dir: required: a folder on a persistent disk\n  ingest.sources: nothing to collect"},
		{name: "collect without key", env: []string{"VIGIL_BUS_BROKERS=127.0.0.1:1", "VIGIL_SPOOL_DIR=" + filepath.Join(dir, "spool"), "VIGIL_SYSLOG_UDP_LISTEN=127.0.0.1:0"},
			args: []string{"collect"}, code: ExitUsage, stderr: "refusing to start without a pseudonymisation key"},
		{name: "collect bad source hash", env: []string{"VIGIL_BUS_BROKERS=127.0.0.1:1", "VIGIL_SPOOL_DIR=/x"}, args: []string{"collect", "--config", sourcesCfg}, code: ExitUsage,
			stderr: "ingest.sources[0].token_sha256: must be 64 hex digits"},
		{name: "collect --help", args: []string{"collect", "--help"}, code: ExitOK, stdout: "refuses to start without one"},
		{name: "collect --hash-token", args: []string{"collect", "--hash-token", "abc"}, code: ExitOK, stdout: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"},
		{name: "detect nothing configured", args: []string{"detect"}, code: ExitUsage,
			stderr: "bus.brokers: required: the Kafka brokers to consume from and produce to\n"},
		{name: "detect --help", args: []string{"detect", "--help"}, code: ExitOK, stdout: "How state survives restarts and rebalances"},
		{name: "sink nothing configured", args: []string{"sink"}, code: ExitUsage,
			stderr: "bus.brokers: required: the Kafka brokers to consume from\n  clickhouse.addr: required"},
		{name: "sink bad clickhouse addr", env: []string{"VIGIL_BUS_BROKERS=127.0.0.1:1", "VIGIL_CLICKHOUSE_ADDR=nohost"}, args: []string{"sink"}, code: ExitUsage,
			stderr: `clickhouse.addr[0]: "nohost" is not host:port`},
		{name: "notify needs config", args: []string{"notify"}, code: ExitUsage, stderr: "notify.operators: required"},
		{name: "notify hash-token", args: []string{"notify", "hash-token", "abc"}, code: ExitOK, stdout: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "notify bad operator", env: []string{"VIGIL_NOTIFY_OPERATOR=big"}, args: []string{"notify"}, code: ExitUsage, stderr: `notify.operator: "big" is not one of`},
		{name: "report no kind", args: []string{"report"}, code: ExitUsage, stderr: "want one report, subject, actor or incident"},
		{name: "report subject no id", args: []string{"report", "subject", "--from", "2026-01-01"}, code: ExitUsage, stderr: "give exactly one of --id or --token"},
		{name: "report subject id and token", args: []string{"report", "subject", "--id", "a", "--token", "p_x", "--from", "2026-01-01"}, code: ExitUsage, stderr: "give exactly one of --id or --token"},
		{name: "report subject no from", args: []string{"report", "subject", "--token", "p_x"}, code: ExitUsage, stderr: "--from is required"},
		{name: "report bad time", args: []string{"report", "subject", "--token", "p_x", "--from", "yesterday"}, code: ExitUsage, stderr: `--from: "yesterday" is neither an RFC 3339 time`},
		{name: "report reversed", args: []string{"report", "subject", "--token", "p_x", "--from", "2026-02-01", "--to", "2026-01-01"}, code: ExitUsage, stderr: "--from 2026-02-01T00:00:00Z is not before --to 2026-01-01T00:00:00Z"},
		{name: "report bad format", args: []string{"report", "subject", "--token", "p_x", "--from", "2026-01-01", "--format", "xml"}, code: ExitUsage, stderr: `--format: unknown format "xml"`},
		{name: "report bad progress", args: []string{"report", "subject", "--token", "p_x", "--from", "2026-01-01", "--progress", "loud"}, code: ExitUsage, stderr: `--progress "loud": want auto, always or never`},
		{name: "report actor flags on subject", args: []string{"report", "subject", "--token", "p_x", "--org", "o", "--from", "2026-01-01"}, code: ExitUsage, stderr: "belong to the actor report"},
		{name: "report actor no org", args: []string{"report", "actor", "--actor", "a", "--from", "2026-01-01"}, code: ExitUsage, stderr: "--org is required"},
		{name: "report actor no actor", args: []string{"report", "actor", "--org", "o", "--from", "2026-01-01"}, code: ExitUsage, stderr: "give exactly one of --actor or --actor-token"},
		{name: "report no store", args: []string{"report", "subject", "--token", "p_x", "--from", "2026-01-01"}, code: ExitUsage, stderr: "no store to read: give --data DIR"},
		{name: "report missing data", args: []string{"report", "subject", "--token", "p_x", "--from", "2026-01-01", "--data", filepath.Join(dir, "nope")}, code: ExitUsage, stderr: "no embedded store there"},
		{name: "report id without key", args: []string{"report", "subject", "--id", "P-1", "--from", "2026-01-01", "--data", filepath.Join(dir, "nope")}, code: ExitUsage, stderr: "pseudonymisation key (needed to turn --id or --actor into a token"},
		{name: "verify not built", args: []string{"verify"}, code: ExitNotBuilt, stderr: "not built yet"},
		{name: "simulate without a destination", args: []string{"simulate"}, code: ExitUsage, stderr: "give exactly one destination"},
		{name: "up extra arg", args: []string{"up", "now"}, code: ExitUsage, stderr: `takes no arguments, got ["now"]`},
		{name: "up bad config file", args: []string{"up", "--config", badCfg}, code: ExitUsage,
			stderr: "bad.yml:2: http.listn: unknown key (did you mean \"listen\"?)\n  log.level: \"loud\" is not one of debug|info|warn|error"},
		{name: "up config from VIGIL_CONFIG", env: []string{"VIGIL_CONFIG=" + badCfg}, args: []string{"up"}, code: ExitUsage, stderr: "http.listn: unknown key"},
		{name: "up missing config file", args: []string{"up", "--config", filepath.Join(dir, "none.yml")}, code: ExitUsage, stderr: "none.yml: cannot read config file: no such file or directory"},
		{name: "up bad listen flag", args: []string{"up", "--listen", "8080"}, code: ExitUsage, stderr: `http.listen: "8080" is not host:port`},
		{name: "up empty listen env", env: []string{"VIGIL_HTTP_LISTEN="}, args: []string{"up"}, code: ExitUsage, stderr: "http.listen: required"},
		{name: "up short token", env: []string{"VIGIL_INGEST_TOKEN=abc"}, args: []string{"up"}, code: ExitUsage, stderr: "ingest.token: shorter than 16 characters"},
		{name: "up empty data", args: []string{"up", "--data", ""}, code: ExitUsage, stderr: "data: required"},
		{name: "tail no topic", args: []string{"tail"}, code: ExitUsage, stderr: "takes exactly one TOPIC, got 0 arguments"},
		{name: "tail bad from", args: []string{"tail", "--from", "middle", "t"}, code: ExitUsage, stderr: `--from: "middle" is not one of first|last`},
		{name: "tail bad brokers", args: []string{"tail", "--brokers", "nohost", "t"}, code: ExitUsage, stderr: "bus.brokers[0]"},
		{name: "tail bad env type", env: []string{"VIGIL_BUS_WRITER_BATCH_SIZE=big"}, args: []string{"tail", "t"}, code: ExitUsage,
			stderr: `env VIGIL_BUS_WRITER_BATCH_SIZE: bus.writer.batch_size: wrong type: want an integer, got "big"`},
		{name: "store no action", args: []string{"store"}, code: ExitUsage, stderr: "want one action, migrate or retention"},
		{name: "store retention without keep", args: []string{"store", "retention"}, code: ExitUsage, stderr: "retention needs --keep PERIOD"},
		{name: "store retention too short", args: []string{"store", "--keep", "179d", "retention"}, code: ExitUsage, stderr: "below the legal minimum of six months"},
		{name: "store retention 5 months", args: []string{"store", "--keep", "5mo", "retention"}, code: ExitUsage, stderr: "below the legal minimum of six months"},
		{name: "store retention bad period", args: []string{"store", "--keep", "half a year", "retention"}, code: ExitUsage, stderr: "--keep:"},
		{name: "store migrate with keep", args: []string{"store", "--keep", "1y", "migrate"}, code: ExitUsage, stderr: "belong to the retention action"},
		{name: "store no clickhouse", args: []string{"store", "migrate"}, code: ExitUsage, stderr: "clickhouse.addr: required"},
		{name: "version", args: []string{"version"}, code: ExitOK, stdout: "vigil "},
		{name: "--version", args: []string{"--version"}, code: ExitOK, stdout: "vigil "},
		{name: "version json", args: []string{"version", "--json"}, code: ExitOK, stdout: `"go_version":"go`},
		{name: "version extra", args: []string{"version", "x"}, code: ExitUsage, stderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectRun(t, tt.env, tt.args, tt.code, tt.stdout, tt.stderr) })
	}
}

// expectRun runs vigil with args and checks its exit status and that
// stdout and stderr contain the given substrings.
func expectRun(t *testing.T, env, args []string, code int, stdout, stderr string) {
	t.Helper()
	got, out, errOut := run(t, env, args...)
	if got != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", got, code, out, errOut)
	}
	if !strings.Contains(out, stdout) {
		t.Errorf("stdout does not contain %q:\n%s", stdout, out)
	}
	if !strings.Contains(errOut, stderr) {
		t.Errorf("stderr does not contain %q:\n%s", stderr, errOut)
	}
}

// TestUpTailRestart runs `vigil up` on free ports, checks /healthz and
// /metrics, writes a record to the embedded broker, reads it back with
// `vigil tail`, stops, restarts on the same data folder and finds the record
// and the ingest token still there.
func TestUpTailRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	httpAddr, kafkaAddr, stdout, stop := startUp(t, data)

	if !strings.Contains(stdout, "Generated an ingest token") {
		t.Errorf("first start did not announce a generated token:\n%s", stdout)
	}
	token, err := os.ReadFile(filepath.Join(data, "ingest-token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(data, "ingest-token")); fi.Mode().Perm() != 0o600 {
		t.Errorf("ingest-token mode %v, want 0600", fi.Mode().Perm())
	}
	if !regexp.MustCompile(`^vgl_[A-Za-z0-9_-]{43}\n$`).Match(token) {
		t.Errorf("token %q has an unexpected form", token)
	}

	resp := get(t, "http://"+httpAddr+"/healthz")
	if resp.code != http.StatusOK || !strings.Contains(resp.body, `{"name":"kafka","ok":true}`) {
		t.Errorf("/healthz: %d %s", resp.code, resp.body)
	}
	resp = get(t, "http://"+httpAddr+"/metrics")
	for _, want := range []string{"vigil_build_info{", `vigil_health_check_up{check="kafka"} 1`, "go_goroutines"} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Ingest over HTTP: the event reaches the broker pseudonymised.
	body := `{"event_id":"http-1","occurred_at":"2026-11-28T09:30:00Z","org":"h1","actor":{"id":"u1","type":"doctor"},"action":"read","subject":{"id":"110101199003071234","type":"patient"},"categories":["health"],"outcome":"success"}`
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/access", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	hresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hbody, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	if hresp.StatusCode != 200 || !strings.Contains(string(hbody), `"status":"accepted"`) {
		t.Fatalf("ingest: %d %s", hresp.StatusCode, hbody)
	}
	code, out, errOut := run(t, nil, "tail", "--brokers", kafkaAddr, "--from", "first", "--max", "1", "--idle", "20s", "vigil.access.v1")
	if code != ExitOK || !strings.Contains(out, `"event_id":"http-1"`) || !strings.Contains(out, `"source":"default"`) || strings.Contains(out, "110101199003071234") {
		t.Fatalf("ingested event on the broker: exit %d, %q, %q", code, out, errOut)
	}
	// The sink of `vigil up` stores it in the embedded store, where a
	// report finds it by the raw id (pseudonymised with the data folder's
	// key) while up runs.
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, out, errOut = run(t, nil, "report", "subject", "--data", data, "--id", "110101199003071234",
			"--from", "2026-11-28", "--to", "2026-11-29", "--format", "ndjson")
		if code == ExitOK && strings.Contains(out, `"event_id":"http-1"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event did not reach the embedded store in 20s: exit %d, %q, %q", code, out, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp := get(t, "http://"+httpAddr+"/healthz"); !strings.Contains(resp.body, `{"name":"sink","ok":true}`) {
		t.Errorf("/healthz lacks the sink: %s", resp.body)
	}
	if fi, err := os.Stat(filepath.Join(data, "pseudonymise.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("pseudonymise.key: %v %v", fi, err)
	}

	cfg := bus.Defaults()
	cfg.Brokers = []string{kafkaAddr}
	w, err := bus.NewWriter(cfg, "vigil.access.v1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	value := `{"event_id":"e-1","org":"h1"}`
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("actor-tok"), Value: []byte(value)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = run(t, nil, "tail", "--brokers", kafkaAddr, "--from", "first", "--max", "2", "vigil.access.v1")
	if code != ExitOK || !strings.Contains(out, value+"\n") || strings.Count(out, "\n") != 2 {
		t.Fatalf("tail: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = run(t, nil, "tail", "--brokers", kafkaAddr, "--from", "first", "--max", "2", "--meta", "vigil.access.v1")
	var rec tailRecord
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"actor-tok"`) && json.Unmarshal([]byte(l), &rec) != nil {
			t.Fatal(l)
		}
	}
	if code != ExitOK || rec.Key != "actor-tok" || string(rec.Value) != value {
		t.Fatalf("tail --meta: exit %d, %q", code, out)
	}
	code, out, _ = run(t, nil, "tail", "--brokers", kafkaAddr, "--idle", "300ms", "vigil.access.v1")
	if code != ExitOK || out != "" {
		t.Errorf("tail --from last on a quiet topic: exit %d, %q", code, out)
	}
	code, _, errOut = run(t, nil, "tail", "--brokers", kafkaAddr, "vigil.nosuch.v1")
	if code != ExitFailure || !strings.Contains(errOut, "list partitions of vigil.nosuch.v1") {
		t.Errorf("tail of a missing topic: exit %d, %q", code, errOut)
	}

	if code := stop(); code != ExitOK {
		t.Fatalf("up exited %d", code)
	}

	_, kafkaAddr, stdout, stop = startUp(t, data)
	defer stop()
	if !strings.Contains(stdout, "Ingest token: read from") || strings.Contains(stdout, string(token[:10])) {
		t.Errorf("restart should reuse the saved token without printing it:\n%s", stdout)
	}
	code, out, errOut = run(t, nil, "tail", "--brokers", kafkaAddr, "--from", "first", "--max", "2", "vigil.access.v1")
	if code != ExitOK || !strings.Contains(out, value+"\n") || !strings.Contains(out, `"event_id":"http-1"`) {
		t.Fatalf("tail after restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

var upAddrs = regexp.MustCompile(`HTTP:   http://([^/]+)/[\s\S]*Kafka:  (\S+)`)

// startUp runs `vigil up` in the background and returns its addresses and a
// function that stops it and returns its exit status.
func startUp(t *testing.T, data string, extra ...string) (httpAddr, kafkaAddr, stdout string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"up", "--data", data, "--listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0"}, extra...),
			Env{Stdout: &out, Stderr: &errb})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := upAddrs.FindStringSubmatch(out.String()); m != nil {
			httpAddr, kafkaAddr = m[1], m[2]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("up exited %d before it was up:\n%s\n%s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("up did not come up in 20s:\n%s\n%s", out.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("up did not stop within 20s:\n%s", errb.String())
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return httpAddr, kafkaAddr, out.String(), stop
}

type response struct {
	code int
	body string
}

func get(t *testing.T, url string) response {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, string(b)}
}

// --help prints the usage once, to stdout; a bad flag prints the error and
// the usage once, to stderr.
func TestHelpPrintedOnce(t *testing.T) {
	code, out, errOut := run(t, nil, "tail", "--help")
	if code != ExitOK || strings.Count(out, "Usage: vigil tail") != 1 || errOut != "" {
		t.Errorf("--help: exit %d, %d usages on stdout, stderr %q", code, strings.Count(out, "Usage: vigil tail"), errOut)
	}
	code, out, errOut = run(t, nil, "tail", "--nope")
	if code != ExitUsage || out != "" || strings.Count(errOut, "Usage: vigil tail") != 1 || !strings.HasPrefix(errOut, "flag provided but not defined: -nope\n") {
		t.Errorf("bad flag: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestUpDemo: a fresh data folder with --demo shows alerts within a minute
// (the simulator's first incidents start after 10 s) and lists the injected
// incidents in DATA/demo-labels.jsonl.
func TestUpDemo(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	_, kafkaAddr, stdout, stop := startUp(t, data, "--demo")
	defer stop()
	if !strings.Contains(stdout, "Alerts: vigil tail") {
		t.Errorf("banner lacks the alerts hint:\n%s", stdout)
	}
	var alert event.Alert
	for deadline := time.Now().Add(90 * time.Second); ; {
		code, out, _ := run(t, nil, "tail", "--brokers", kafkaAddr, "--from", "first", "--max", "1", "--idle", "2s", "vigil.alerts.v1")
		if code == ExitOK && strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &alert); err != nil {
				t.Fatalf("alert record %q: %v", out, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert within 90 s of a fresh --demo start")
		}
		time.Sleep(time.Second)
	}
	if alert.AlertID == "" || alert.RuleID == "" || alert.Explanation == "" || len(alert.Evidence) == 0 {
		t.Errorf("alert = %+v", alert)
	}
	// The alerts open incidents that wait for triage: none is confirmed,
	// no obligation exists and the outbox stays empty.
	var incidents []notifier.IncidentSummary
	for deadline := time.Now().Add(30 * time.Second); len(incidents) == 0; time.Sleep(time.Second) {
		code, out, errOut := run(t, nil, "incident", "list", "--json", "--data", data)
		if code != ExitOK {
			t.Fatalf("vigil incident list: exit %d %s", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &incidents); err != nil {
			t.Fatalf("incident list %q: %v", out, err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo's alerts opened no incident within 30 s")
		}
	}
	for _, inc := range incidents {
		if inc.State != event.IncidentDetected || !inc.AwareAt.IsZero() || inc.Open > 0 || inc.Alerts == 0 {
			t.Errorf("incident %+v; the demo must not confirm anything", inc)
		}
	}
	if files, _ := os.ReadDir(filepath.Join(data, "outbox")); len(files) > 0 {
		t.Errorf("the outbox holds %d files before any confirmation", len(files))
	}
	if code := stop(); code != ExitOK {
		t.Errorf("up --demo exited %d", code)
	}
	// Labels are written when an incident ends, or as partial ones when
	// the simulator stops.
	labels, err := os.ReadFile(filepath.Join(data, "demo-labels.jsonl"))
	if err != nil || !strings.Contains(string(labels), `"kind"`) {
		t.Errorf("demo labels: %v %q", err, labels)
	}
}
