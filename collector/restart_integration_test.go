//go:build integration

package collector_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// itPoster posts access events with ids rid-tag-N and remembers which ids
// the collector answered "accepted" for and which it was sent.
type itPoster struct {
	url, token, rid, tag string
	base                 time.Time
	client               *http.Client

	mu       sync.Mutex
	n        int
	sent     map[string]bool
	accepted map[string]bool
	failures int
	lastErr  string
}

func newITPoster(url, token, rid, tag string) *itPoster {
	return &itPoster{url: url, token: token, rid: rid, tag: tag, base: time.Now().Add(-time.Hour).Truncate(time.Second),
		client: &http.Client{Timeout: 30 * time.Second}, sent: map[string]bool{}, accepted: map[string]bool{}}
}

// batch posts size events; it returns how many were accepted.
func (p *itPoster) batch(ctx context.Context, size int) (int, error) {
	p.mu.Lock()
	first := p.n
	p.n += size
	p.mu.Unlock()
	var body bytes.Buffer
	ids := make([]string, size)
	for j := range size {
		e := itAccessEvent(p.rid, p.base, (first+j)%1000)
		ids[j] = fmt.Sprintf("%s-%s-%d", p.rid, p.tag, first+j)
		e["event_id"] = ids[j]
		line, _ := json.Marshal(e)
		body.Write(line)
		body.WriteByte('\n')
	}
	p.mu.Lock()
	for _, id := range ids {
		p.sent[id] = true
	}
	p.mu.Unlock()
	r, err := itPost(ctx, p.client, p.url+"/v1/access", p.token, body.Bytes(), size > 100)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || r.Status != http.StatusOK {
		p.failures++
		if err != nil {
			p.lastErr = err.Error()
		} else {
			p.lastErr = fmt.Sprintf("HTTP %d: %s", r.Status, r.Error)
		}
		return 0, fmt.Errorf("post %d events: %s", size, p.lastErr)
	}
	n := 0
	for j, res := range r.Results {
		if res.Status == "accepted" {
			if res.EventID != ids[j] {
				return n, fmt.Errorf("line %d: event id %s answered as %s", j+1, ids[j], res.EventID)
			}
			p.accepted[res.EventID] = true
			n++
		}
	}
	return n, nil
}

func (p *itPoster) snapshot() (sent, accepted map[string]bool, failures int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent, accepted = map[string]bool{}, map[string]bool{}
	for k := range p.sent {
		sent[k] = true
	}
	for k := range p.accepted {
		accepted[k] = true
	}
	return sent, accepted, p.failures
}

// itCheckNoLoss reads what this run's source put on vigil.access.v1 and
// checks that every accepted id is there, and nothing that was not sent.
func itCheckNoLoss(t *testing.T, cfg bus.Config, from itOffsets, source string, sent, accepted map[string]bool) {
	t.Helper()
	rd := newITReader(t, cfg, itOffsets{bus.TopicAccess: from[bus.TopicAccess]})
	start := time.Now()
	var recs []itRecord
	_, ok := rd.collect(120*time.Second, func(all map[string][]itRecord) bool {
		recs = itBySource(all[bus.TopicAccess], source)
		seen, _ := itCountIDs(recs, accepted)
		return len(seen) == len(accepted)
	})
	seen, others := itCountIDs(recs, accepted)
	dups := 0
	var dupIDs []string
	for id, n := range seen {
		if n > 1 {
			dups += n - 1
			if len(dupIDs) < 10 {
				dupIDs = append(dupIDs, fmt.Sprintf("%s×%d", id, n))
			}
		}
	}
	unsent, notAcked := 0, 0
	for _, id := range others {
		if sent[id] {
			notAcked++ // in flight when the collector died: delivered though never acknowledged
		} else {
			unsent++
			if unsent <= 10 {
				t.Errorf("event %q in Kafka was never sent", id)
			}
		}
	}
	missing := 0
	for id := range accepted {
		if seen[id] == 0 {
			missing++
			if missing <= 10 {
				t.Errorf("accepted event %s is not in Kafka", id)
			}
		}
	}
	t.Logf("kafka: %d records of this run read in %v; accepted %d, arrived %d distinct, missing %d, duplicates %d %v, "+
		"delivered but never acknowledged %d, never sent %d", len(recs), time.Since(start).Round(time.Millisecond),
		len(accepted), len(seen), missing, dups, dupIDs, notAcked, unsent)
	if !ok && missing == 0 {
		t.Errorf("reading kafka timed out")
	}
	if missing > 0 {
		t.Errorf("%d accepted events lost", missing)
	}
}

// itServicesCmd runs scripts/services.sh with args, bounded.
func itServicesCmd(t *testing.T, script string, timeout time.Duration, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("services.sh %s (%v): %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
	return err
}

// TestCollectorKafkaRestart stops the real broker while events stream in
// and starts it again: every event the collector accepted reaches Kafka.
func TestCollectorKafkaRestart(t *testing.T) {
	script := itServices(t)
	cfg := itBus(t)
	rid := itRunID(t)
	source := "it-restart-" + rid
	// Whatever happens, leave the broker running for the tests after this one.
	t.Cleanup(func() {
		if err := itServicesCmd(t, script, 240*time.Second, "up", "kafka"); err != nil {
			t.Errorf("services.sh up kafka: %v", err)
		}
	})
	env := newITEnv(t, cfg, source, nil, nil)
	p := newITPoster(env.srv.URL, env.token, rid, "r")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var batches int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = p.batch(ctx, 20) // failures are counted by the poster
			cancel()
			batches++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	time.Sleep(time.Second)
	_, acc, _ := p.snapshot()
	t.Logf("before stopping kafka: %d accepted", len(acc))
	if err := itServicesCmd(t, script, 90*time.Second, "down", "kafka"); err != nil {
		t.Fatalf("services.sh down kafka: %v", err)
	}
	down := time.Now()
	_, accDown, _ := p.snapshot()

	// Events keep being accepted (the spool holds them) and Ready tells
	// that Kafka does not take them.
	var readyErr error
	itWaitFor(60*time.Second, func() bool {
		readyErr = env.col.Ready(context.Background())
		return readyErr != nil && time.Since(down) > 3*time.Second
	})
	if readyErr == nil {
		t.Errorf("Ready reported no error with kafka down for %v", time.Since(down).Round(time.Second))
	} else {
		t.Logf("Ready with kafka down (after %v): %v", time.Since(down).Round(100*time.Millisecond), readyErr)
	}
	_, accDown2, _ := p.snapshot()
	spooled, _ := itGauge(env.reg, "vigil_collector_spool_events")
	t.Logf("while kafka was down: %d more accepted, spool holds %v records", len(accDown2)-len(accDown), spooled)
	if len(accDown2) <= len(accDown) {
		t.Errorf("no event was accepted while kafka was down")
	}

	if err := itServicesCmd(t, script, 240*time.Second, "up", "kafka"); err != nil {
		t.Fatalf("services.sh up kafka: %v", err)
	}
	up := time.Now()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	sent, accepted, failures := p.snapshot()
	t.Logf("posting stopped: %d batches, %d events sent, %d accepted, %d failed requests", batches, len(sent), len(accepted), failures)
	if failures > 0 {
		t.Errorf("%d requests failed (last: %s): the spool should take every event while kafka is down", failures, p.lastErr)
	}

	if !itWaitFor(120*time.Second, func() bool {
		n, ok := itGauge(env.reg, "vigil_collector_spool_events")
		return ok && n == 0
	}) {
		n, _ := itGauge(env.reg, "vigil_collector_spool_events")
		t.Fatalf("spool still holds %v records 120s after kafka came back", n)
	}
	t.Logf("spool drained %v after kafka was up", time.Since(up).Round(100*time.Millisecond))
	if err := env.col.Ready(context.Background()); err != nil {
		t.Errorf("Ready after kafka came back and the spool drained: %v", err)
	}
	env.shutdown(t)
	itCheckNoLoss(t, cfg, env.from, source, sent, accepted)
}

// ---------------------------------------------------------------- SIGKILL

// itVigil is a `vigil collect` process.
type itVigil struct {
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

func itStartVigil(t *testing.T, bin, conf, key, logPath, healthURL string) *itVigil {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "collect", "--config", conf)
	cmd.Env = append(os.Environ(), "VIGIL_PSEUDONYMISE_KEY="+key)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &itVigil{cmd: cmd, done: make(chan error, 1), log: f}
	go func() { v.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-v.done
		}
		_ = f.Close()
	})
	start := time.Now()
	ok := itWaitFor(90*time.Second, func() bool {
		select {
		case err := <-v.done:
			v.done <- err
			return true
		default:
		}
		resp, err := http.Get(healthURL)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case err := <-v.done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("vigil collect exited before it was ready: %v\n%s", err, b)
	default:
	}
	if !ok {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("vigil collect not ready after 90s\n%s", b)
	}
	t.Logf("vigil collect (pid %d) ready in %v", cmd.Process.Pid, time.Since(start).Round(10*time.Millisecond))
	return v
}

func itMetric(t *testing.T, url, name string) string {
	resp, err := http.Get(url)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+" ") {
			return strings.TrimPrefix(l, name+" ")
		}
	}
	return "?"
}

// TestCollectorSIGKILL kills `vigil collect` with SIGKILL while its spool
// still holds records, three times, restarting it on the same spool; then
// stops it with SIGTERM: every event ever acknowledged reaches Kafka.
func TestCollectorSIGKILL(t *testing.T) {
	itServices(t) // heavy: runs in the serial step of scripts/integration.sh
	cfg := itBus(t)
	bin := testenv.BuildVigil(t)
	rid := itRunID(t)
	source := "it-kill-" + rid
	token := "tok-" + source
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(dir, "vigil.yaml")
	yaml := fmt.Sprintf(`http:
  listen: %s
bus:
  brokers: [%s]
spool:
  dir: %s
ingest:
  sources:
    - name: %s
      token_sha256: %s
log:
  level: debug
shutdown_timeout: 90s
`, addr, cfg.Brokers[0], filepath.Join(dir, "spool"), source, collector.HashToken(token))
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	key := hex.EncodeToString(itKey(t))
	logPath := filepath.Join(dir, "vigil.log")
	base := "http://" + addr
	from := itEndOffsets(t, cfg, bus.TopicAccess)
	p := newITPoster(base, token, rid, "k")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("vigil log (tail):\n%s", b)
		}
	})

	for round := 1; round <= 3; round++ {
		v := itStartVigil(t, bin, conf, key, logPath, base+"/healthz")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		for range 5 {
			if _, err := p.batch(ctx, 50); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		// A big batch, then the kill a moment after it was accepted: the
		// spool still holds much of it.
		n, err := p.batch(ctx, 4000+rng.IntN(2000))
		cancel()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		spool := itMetric(t, base+"/metrics", "vigil_collector_spool_events")
		if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case <-v.done:
		case <-time.After(10 * time.Second):
			t.Fatal("vigil collect did not die on SIGKILL")
		}
		_, acc, _ := p.snapshot()
		t.Logf("round %d: big batch of %d accepted, spool held %s records just before SIGKILL; %d accepted so far", round, n, spool, len(acc))
	}

	v := itStartVigil(t, bin, conf, key, logPath, base+"/healthz")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	if _, err := p.batch(ctx, 500); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-v.done:
		if err != nil {
			t.Errorf("vigil collect after SIGTERM: %v", err)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("vigil collect did not stop within 120s of SIGTERM")
	}
	logText, _ := os.ReadFile(logPath)
	if !strings.Contains(string(logText), "spool drained") {
		t.Errorf("the last run did not log \"spool drained\"")
	}
	sent, accepted, failures := p.snapshot()
	t.Logf("sent %d, accepted %d, failed requests %d", len(sent), len(accepted), failures)
	itCheckNoLoss(t, cfg, from, source, sent, accepted)
}
