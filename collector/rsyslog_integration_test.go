//go:build integration

package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector"
	"github.com/vigil-audit/vigil/collector/syslog"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestRsyslogToKafka: a real rsyslogd follows a file of JSON events
// (imfile) and forwards them over TCP, octet-counted RFC 5424 (omfwd), to
// the collector's syslog listener; kcat, another real client, reads them
// back from vigil.access.v1, pseudonymised.
func TestRsyslogToKafka(t *testing.T) {
	rsyslogd := testenv.Rsyslogd(t)
	kcat := testenv.Kcat(t)
	cfg := itBus(t)
	rid := itRunID(t)
	source := "it-rsyslog-" + rid
	env := newITEnv(t, cfg, source, nil, func(o *collector.Options) {
		o.Syslog = collector.SyslogConfig{Source: source, Config: syslog.Config{
			TCPListen: "127.0.0.1:0",
			Mapping:   syslog.MappingOptions{Kind: "access"},
		}}
	})
	tcp := env.col.SyslogAddrs().TCP
	if tcp == nil {
		t.Fatal("no syslog TCP listener")
	}
	_, port, _ := strings.Cut(tcp.String(), ":")
	since := time.Now().Add(-2 * time.Second)

	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(input, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`
global(workDirectory=%q)
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File=%q Tag="vigil-it" ruleset="fwd" freshStartTail="off")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port=%q protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format" action.resumeRetryCount="-1" action.resumeInterval="1")
}
`, work, input, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "rsyslogd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	// Append the events to the file rsyslogd follows, a few at a time.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	const n = 40
	want := map[string]map[string]any{}
	wantKeys := map[string]string{}
	f, err := os.OpenFile(input, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := itAccessEvent(rid, base, i)
		id := fmt.Sprintf("%s-s-%d", rid, i)
		e["event_id"] = id
		line, _ := json.Marshal(e)
		if _, err := f.Write(append(line, '\n')); err != nil {
			t.Fatal(err)
		}
		want[id] = itWantAccess(t, env.pseudo, e, base, i, source, id)
		wantKeys[id] = e["org"].(string) + "/" + e["actor"].(map[string]any)["id"].(string)
		if i%10 == 9 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	f.Close()
	start := time.Now()

	// Read vigil.access.v1 with kcat from a moment before the test began.
	got := map[string]map[string]any{}
	ok := itWaitFor(90*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", cfg.Brokers[0], "-t", bus.TopicAccess,
			"-o", "s@"+strconv.FormatInt(since.UnixMilli(), 10), "-e", "-q", "-f", "%k\t%s\n").Output()
		if err != nil {
			t.Logf("kcat: %v", err)
			time.Sleep(time.Second)
			return false
		}
		for _, l := range bytes.Split(out, []byte("\n")) {
			k, v, found := bytes.Cut(l, []byte("\t"))
			if !found || !bytes.Contains(v, []byte(source)) {
				continue
			}
			var doc map[string]any
			if err := json.Unmarshal(v, &doc); err != nil {
				t.Errorf("kcat printed a value that is not JSON: %s", v)
				continue
			}
			if doc["source"] != source {
				continue
			}
			id, _ := doc["event_id"].(string)
			if wantKeys[id] != "" && wantKeys[id] != string(k) {
				t.Errorf("%s: key %q, want %q", id, k, wantKeys[id])
			}
			got[id] = doc
		}
		if len(got) < n {
			time.Sleep(time.Second)
		}
		return len(got) >= n
	})
	t.Logf("kcat saw %d of %d events in %v", len(got), n, time.Since(start).Round(100*time.Millisecond))
	if !ok {
		b, _ := os.ReadFile(filepath.Join(dir, "rsyslogd.log"))
		t.Errorf("not every event arrived; rsyslogd log:\n%s", b)
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("event %s did not reach kafka", id)
			continue
		}
		if ra, _ := g["received_at"].(string); ra == "" {
			t.Errorf("%s: no received_at", id)
		}
		delete(g, "received_at")
		for _, d := range itDiffJSON("", w, g) {
			t.Errorf("%s: %s", id, d)
		}
	}
	for id := range got {
		if want[id] == nil {
			t.Errorf("unexpected event %s", id)
		}
	}
}
