//go:build integration

package syslog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/syslog"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// rsyslogWait bounds every wait on rsyslogd.
const rsyslogWait = 30 * time.Second

// rsyslogConf is the configuration of the rsyslogd under test: it reads a
// file (imfile) and a TCP port (imtcp, fed by the logger tool) and
// forwards everything four ways (omfwd):
//
//	tcp5424  TCP, octet-counted, RSYSLOG_SyslogProtocol23Format (RFC 5424)
//	tcp3164  TCP, LF-framed, RSYSLOG_ForwardFormat (RFC 3164, RFC 3339 timestamp)
//	udp5424  UDP, RSYSLOG_SyslogProtocol23Format
//	access   TCP, octet-counted, the package doc's template with MSGID access
const rsyslogConf = `
global(workDirectory="{{dir}}/work" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="imtcp")
input(type="imfile" File="{{dir}}/events.jsonl" Tag="ehr:" ruleset="vigil" freshStartTail="off")
input(type="imtcp" address="127.0.0.1" port="{{imtcp}}" ruleset="vigil")

template(name="vigil-access" type="string"
  string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% access - %msg%")

ruleset(name="vigil") {
  action(type="omfwd" target="127.0.0.1" port="{{tcp5424}}" protocol="tcp"
    TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
    queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
  action(type="omfwd" target="127.0.0.1" port="{{tcp3164}}" protocol="tcp"
    template="RSYSLOG_ForwardFormat"
    queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
  action(type="omfwd" target="127.0.0.1" port="{{udp5424}}" protocol="udp"
    template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="{{access}}" protocol="tcp"
    TCP_Framing="octet-counted" template="vigil-access"
    queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
}
`

// jsonLines are access events as an application writes them, one per
// line, with text that tests that bytes pass intact.
func jsonLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"event_id":"it-%03d","occurred_at":"2026-11-28T09:30:%02d.123Z","org":"hosp-1",`+
			`"actor":{"id":"staff-%d","type":"doctor","department":"心内科"},"action":"read",`+
			`"subject":{"id":"patient-%d","type":"patient"},"categories":["health"],`+
			`"purpose":"复诊 \"follow-up\" \\ [x] {y}","outcome":"success"}`, i, i%60, i, i)
	}
	return lines
}

func TestRsyslog(t *testing.T) {
	rsyslogd := testenv.Rsyslogd(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}

	// Vigil's side: one server per rsyslog action (the UDP one shares the
	// first server), each with its own recorder.
	recs := map[string]*recorder{"tcp5424": {}, "tcp3164": {}, "access": {}}
	s5424, _ := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0", UDPListen: "127.0.0.1:0"}, recs["tcp5424"])
	s3164, _ := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, recs["tcp3164"])
	sAccess, _ := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, recs["access"])
	imtcp := freePort(t)
	conf := strings.NewReplacer(
		"{{dir}}", dir,
		"{{imtcp}}", imtcp,
		"{{tcp5424}}", portOf(s5424.Addrs().TCP),
		"{{tcp3164}}", portOf(s3164.Addrs().TCP),
		"{{udp5424}}", portOf(s5424.Addrs().UDP),
		"{{access}}", portOf(sAccess.Addrs().TCP),
	).Replace(rsyslogConf)
	confFile := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(rsyslogd, "-N1", "-f", confFile).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 rejects the configuration: %v\n%s", err, out)
	}

	// Half the lines are in the file before rsyslogd starts, half after.
	lines := jsonLines(20)
	events := filepath.Join(dir, "events.jsonl")
	appendLines(t, events, lines[:10])
	startRsyslogd(t, rsyslogd, confFile, filepath.Join(dir, "rsyslogd.pid"))
	waitForListener(t, "127.0.0.1:"+imtcp)
	appendLines(t, events, lines[10:])

	// Structured data from util-linux logger, through rsyslog's imtcp.
	sdArgs := []string{"--rfc5424", "--sd-id", "vigil@32473", "--sd-param", `kind="access"`,
		"--sd-param", `org="hosp-1"`, "--sd-param", `actor.id="staff-7"`, "--sd-param", `actor.type="doctor"`,
		"--sd-param", `action="export"`, "--sd-param", `subject.id="patient-7"`, "--sd-param", `subject.type="patient"`,
		"--sd-param", `categories="health,prescription"`, "--sd-param", `record_count="250"`,
		"--sd-param", `outcome="success"`, "-t", "ehr-export"}
	runLogger(t, append([]string{"-n", "127.0.0.1", "-P", imtcp, "-T", "--octet-count"}, append(sdArgs, "exported a report")...)...)

	// What arrives: the 20 lines through every action, plus the logger
	// message through every action.
	for name, rec := range recs {
		waitN(t, name, rec, 21)
	}
	udp := splitByTransport(recs["tcp5424"], syslog.TransportUDP)
	tcp := splitByTransport(recs["tcp5424"], syslog.TransportTCP)

	for _, c := range []struct {
		name      string
		got       []syslog.Received
		format    syslog.Format
		opts      syslog.MappingOptions
		sdSurvive bool
	}{
		{"tcp octet-counted RFC 5424", tcp, syslog.RFC5424, syslog.MappingOptions{Kind: syslog.KindAccess}, true},
		{"udp RFC 5424", udp, syslog.RFC5424, syslog.MappingOptions{Kind: syslog.KindAccess}, true},
		{"tcp LF-framed RFC 3164", recs["tcp3164"].received(), syslog.RFC3164, syslog.MappingOptions{Kind: syslog.KindAccess}, false},
		{"tcp octet-counted, MSGID access", recs["access"].received(), syslog.RFC5424, syslog.MappingOptions{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.got) != 21 {
				t.Fatalf("%d messages, want 21", len(c.got))
			}
			bodies := map[string]bool{}
			var sd *syslog.Received
			for i := range c.got {
				r := c.got[i]
				if r.ParseErr != nil {
					t.Errorf("%q: %v", r.Raw, r.ParseErr)
					continue
				}
				if r.Message.Format != c.format {
					t.Errorf("%q: format %v, want %v", r.Raw, r.Message.Format, c.format)
				}
				if bytes.HasSuffix(r.Raw, []byte("exported a report")) {
					sd = &c.got[i]
					continue
				}
				if r.Message.AppName != "ehr" || r.Message.Hostname == "" || r.Message.Timestamp.IsZero() {
					t.Errorf("%q: header %+v", r.Raw, r.Message)
				}
				kind, body, err := syslog.ToJSON(r.Message, c.opts)
				if err != nil || kind != syslog.KindAccess {
					t.Errorf("%q: ToJSON = %q, %v", r.Raw, kind, err)
					continue
				}
				bodies[string(body)] = true
				if _, probs := event.DecodeAccess(body); len(probs) > 0 {
					t.Errorf("%s: %v", body, probs)
				}
			}
			for _, l := range lines {
				if !bodies[l] {
					t.Errorf("line not received intact: %s", l)
				}
			}
			if sd == nil {
				t.Fatal("the logger message did not arrive")
			}
			kind, body, err := syslog.ToJSON(sd.Message, c.opts)
			if !c.sdSurvive {
				// RFC 3164 and the access template carry no structured
				// data: the message holds no event.
				if !errors.Is(err, syslog.ErrNoEvent) {
					t.Errorf("ToJSON of %q = %q, %s, %v; want ErrNoEvent", sd.Raw, kind, body, err)
				}
				return
			}
			if err != nil || kind != syslog.KindAccess {
				t.Fatalf("ToJSON of %q = %q, %v", sd.Raw, kind, err)
			}
			e, probs := event.DecodeAccess(body)
			if len(probs) > 0 {
				t.Fatalf("%s: %v", body, probs)
			}
			if e.RecordCount != 250 || e.Action != event.ActionExport || len(e.Categories) != 2 || e.Attrs[syslog.AttrAppName] != "ehr-export" {
				t.Errorf("decoded %+v", e)
			}
			if _, ok := sd.Message.Element("timeQuality"); !ok {
				t.Errorf("logger's timeQuality element is missing: %q", sd.Raw)
			}
		})
	}
}

// TestRsyslogLoggerDirect sends with util-linux logger straight to the
// server: octet-counted and LF-framed TCP and UDP.
func TestRsyslogLoggerDirect(t *testing.T) {
	testenv.Rsyslogd(t) // the same service group: logger comes with it
	rec := &recorder{}
	s, _ := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0", UDPListen: "127.0.0.1:0"}, rec)
	args := []string{"--rfc5424", "--msgid", "access", "--sd-id", "vigil@32473", "--sd-param", `org="h1"`, "-t", "app"}
	runLogger(t, append([]string{"-n", "127.0.0.1", "-P", portOf(s.Addrs().TCP), "-T", "--octet-count"}, append(args, "octet")...)...)
	runLogger(t, append([]string{"-n", "127.0.0.1", "-P", portOf(s.Addrs().TCP), "-T"}, append(args, "lf")...)...)
	runLogger(t, append([]string{"-n", "127.0.0.1", "-P", portOf(s.Addrs().UDP), "-d"}, append(args, "udp")...)...)
	waitN(t, "logger", rec, 3)
	for _, r := range rec.received() {
		if r.ParseErr != nil {
			t.Errorf("%q: %v", r.Raw, r.ParseErr)
			continue
		}
		kind, body, err := syslog.ToJSON(r.Message, syslog.MappingOptions{})
		if err != nil || kind != syslog.KindAccess || !strings.HasPrefix(string(body), `{"org":"h1","occurred_at":"`) {
			t.Errorf("%q: ToJSON = %q, %s, %v", r.Raw, kind, body, err)
		}
	}
}

// TestRsyslogBackPressure blocks the handler while rsyslogd forwards
// thousands of lines: the server stops reading, rsyslogd keeps the lines
// in its action queue, and once the handler unblocks every line arrives,
// in order, none lost.
func TestRsyslogBackPressure(t *testing.T) {
	rsyslogd := testenv.Rsyslogd(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{block: make(chan struct{})}
	s, _ := startServer(t, syslog.Config{TCPListen: "127.0.0.1:0"}, rec)
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", portOf(s.Addrs().TCP)).Replace(`
global(workDirectory="{{dir}}/work")
module(load="imfile" mode="inotify")
input(type="imfile" File="{{dir}}/events.jsonl" Tag="ehr:" ruleset="vigil" freshStartTail="off")
ruleset(name="vigil") {
  action(type="omfwd" target="127.0.0.1" port="{{port}}" protocol="tcp"
    TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
    queue.type="LinkedList" queue.size="100000" action.resumeRetryCount="-1" action.resumeInterval="1")
}
`)
	confFile := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 20000 // about 6 MB: more than the sockets buffer
	lines := make([]string, n)
	pad := strings.Repeat("x", 250)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, pad)
	}
	appendLines(t, filepath.Join(dir, "events.jsonl"), lines)
	startRsyslogd(t, rsyslogd, confFile, filepath.Join(dir, "rsyslogd.pid"))

	waitFor(t, "the first message", func() bool { return rec.calls.Load() == 1 })
	time.Sleep(time.Second) // rsyslogd keeps sending until the window closes
	if c := rec.calls.Load(); c != 1 {
		t.Fatalf("%d handler calls while the handler blocked, want 1", c)
	}
	close(rec.block)
	deadline := time.Now().Add(rsyslogWait)
	for len(rec.received()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines after %s", len(rec.received()), n, rsyslogWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, r := range rec.received() {
		if r.ParseErr != nil || string(r.Message.Msg) != lines[i] {
			t.Fatalf("message %d: %q, %v; want line %d", i, r.Raw[:min(len(r.Raw), 60)], r.ParseErr, i)
		}
	}
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return portOf(l.Addr())
}

func appendLines(t *testing.T, path string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// startRsyslogd runs rsyslogd in the foreground until the test ends.
func startRsyslogd(t *testing.T, bin, conf, pidFile string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", conf, "-i", pidFile)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(rsyslogWait):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", out.String())
		}
	})
}

func waitForListener(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(rsyslogWait)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd did not listen on %s within %s: %v", addr, rsyslogWait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runLogger(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rsyslogWait)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "logger", args...).CombinedOutput(); err != nil {
		t.Fatalf("logger %q: %v\n%s", args, err, out)
	}
}

// waitN waits up to rsyslogWait for n messages (UDP included).
func waitN(t *testing.T, name string, rec *recorder, n int) {
	t.Helper()
	deadline := time.Now().Add(rsyslogWait)
	want := n
	if name == "tcp5424" {
		want = 2 * n // TCP and UDP share this recorder
	}
	for len(rec.received()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d messages after %s, want %d", name, len(rec.received()), rsyslogWait, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func splitByTransport(rec *recorder, transport string) []syslog.Received {
	var out []syslog.Received
	for _, r := range rec.received() {
		if r.Transport == transport {
			out = append(out, r)
		}
	}
	return out
}
