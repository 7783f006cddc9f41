package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

func TestAlertUsage(t *testing.T) {
	dir := t.TempDir()
	brokers := "VIGIL_BUS_BROKERS=127.0.0.1:1"
	for _, tt := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "help", args: []string{"alert", "--help"}, code: ExitOK, stdout: "vigil alert close 9b7a7abc1eb2d8d2d1313b0afb48358c"},
		{name: "help lists the kinds", args: []string{"help", "alert"}, code: ExitOK, stdout: "KIND is false_positive (the rule\n    was wrong)"},
		{name: "no action", args: []string{"alert"}, code: ExitUsage, stderr: "want an action, close or show"},
		{name: "unknown action", args: []string{"alert", "open", "a1"}, code: ExitUsage, stderr: `unknown action "open": want close or show`},
		{name: "no id", args: []string{"alert", "show"}, code: ExitUsage, stderr: "show takes exactly one ALERT_ID, got 0 arguments"},
		{name: "two ids", args: []string{"alert", "close", "a1", "a2"}, code: ExitUsage, stderr: "close takes exactly one ALERT_ID, got 2 arguments"},
		{name: "close without as", args: []string{"alert", "close", "a1", "--reason", "r", "--by", "b"}, code: ExitUsage,
			stderr: "close needs --as false_positive, authorized or duplicate"},
		{name: "close bad as", args: []string{"alert", "close", "a1", "--as", "fine", "--reason", "r", "--by", "b"}, code: ExitUsage,
			stderr: `--as: "fine" is not one of false_positive|authorized|duplicate`},
		{name: "close as open", args: []string{"alert", "close", "a1", "--as", "open", "--reason", "r", "--by", "b"}, code: ExitUsage,
			stderr: `--as: "open" is not one of`},
		{name: "close without reason", args: []string{"alert", "close", "a1", "--as", "duplicate", "--by", "b"}, code: ExitUsage,
			stderr: "close needs --reason TEXT"},
		{name: "close blank reason", args: []string{"alert", "close", "a1", "--as", "duplicate", "--reason", "  ", "--by", "b"}, code: ExitUsage,
			stderr: "close needs --reason TEXT"},
		{name: "close without author", args: []string{"alert", "close", "a1", "--as", "duplicate", "--reason", "r"}, code: ExitUsage,
			stderr: "close needs --by NAME or VIGIL_OPERATOR"},
		{name: "close empty operator", env: []string{"VIGIL_OPERATOR="}, args: []string{"alert", "close", "a1", "--as", "duplicate", "--reason", "r"}, code: ExitUsage,
			stderr: "close needs --by NAME or VIGIL_OPERATOR"},
		{name: "show with close flags", args: []string{"alert", "show", "a1", "--reason", "r"}, code: ExitUsage,
			stderr: "--as, --reason and --by belong to the close action"},
		{name: "bad timeout", args: []string{"alert", "show", "a1", "--timeout", "0s"}, code: ExitUsage, stderr: "--timeout: must be > 0"},
		{name: "bad brokers", args: []string{"alert", "show", "a1", "--brokers", "nohost"}, code: ExitUsage, stderr: "bus.brokers[0]"},
		{name: "data without up", args: []string{"alert", "show", "a1", "--data", dir}, code: ExitUsage,
			stderr: "no broker.addr there: is 'vigil up --data " + dir + "' running?"},
		{name: "bad alerts topic", env: []string{brokers, "VIGIL_DETECT_ALERTS_TOPIC= x"}, args: []string{"alert", "show", "a1"}, code: ExitUsage,
			stderr: "detect.alerts_topic"},
		{name: "unreachable broker", env: []string{brokers}, args: []string{"alert", "show", "a1", "--timeout", "1s"}, code: ExitFailure,
			stderr: "vigil alert: alert a1:"},
	} {
		t.Run(tt.name, func(t *testing.T) { expectRun(t, tt.env, tt.args, tt.code, tt.stdout, tt.stderr) })
	}
}

// testAlert is an alert record as the detector produces it.
func testAlert(id string, count int64) event.Alert {
	at := event.NewTimestamp(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	return event.Alert{AlertID: id, RuleID: "vigil-break-glass", RuleTitle: "Break-glass access", Severity: event.SeverityHigh,
		GroupKey: "hosp-1/staff-42", WindowStart: at, WindowEnd: at, FirstSeen: at, LastSeen: at, Count: count,
		DistinctSubjects: 1, Evidence: []string{"e1"}, Explanation: "Emergency access.", ActorID: "staff-42",
		Org: "hosp-1", Status: event.AlertOpen}
}

// produceAlerts writes alerts to topic keyed by group key.
func produceAlerts(t *testing.T, cfg bus.Config, topic string, alerts ...event.Alert) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, a := range alerts {
		v, _ := json.Marshal(a)
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(a.GroupKey), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
}

// topicAlerts returns every record of topic with its key, in offset
// order per partition.
func topicAlerts(t *testing.T, cfg bus.Config, topic string) (recs []event.Alert, keys []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := bus.Scan(ctx, cfg, topic, func(m *kafka.Message) error {
		var a event.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			return err
		}
		recs, keys = append(recs, a), append(keys, string(m.Key))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, keys
}

// TestAlertClose: an alert on the topic, closed with `vigil alert close`,
// has a new record with the status, reason and author, keyed by its group
// key; closing it again the same way is refused; show prints the latest
// record; an unknown id is reported.
func TestAlertClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	broker, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	cfg := broker.Config()
	// Two states of the alert (the latest counts 3) and another alert.
	produceAlerts(t, cfg, bus.TopicAlerts, testAlert("a-1", 1), testAlert("a-2", 7), testAlert("a-1", 3))
	env := []string{"VIGIL_BUS_BROKERS=" + broker.Addr(), "VIGIL_OPERATOR=analyst-7"}

	code, out, errOut := run(t, env, "alert", "close", "a-1", "--as", "false_positive", "--reason", "ward rounds")
	if code != ExitOK {
		t.Fatalf("close: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Alert a-1 (vigil-break-glass, hosp-1/staff-42) closed as closed_false_positive by analyst-7; was open.") {
		t.Errorf("close printed:\n%s", out)
	}
	recs, keys := topicAlerts(t, cfg, bus.TopicAlerts)
	if len(recs) != 4 {
		t.Fatalf("the topic holds %d records, want 4", len(recs))
	}
	var last event.Alert
	var lastKey string
	for i, a := range recs {
		if a.AlertID == "a-1" {
			last, lastKey = a, keys[i]
		}
	}
	want := testAlert("a-1", 3)
	want.Status, want.StatusReason, want.StatusBy = event.AlertClosedFalsePositive, "ward rounds", "analyst-7"
	if !alertsEqual(last, want) || lastKey != want.GroupKey {
		g, _ := json.Marshal(last)
		w, _ := json.Marshal(want)
		t.Errorf("latest record of a-1 (key %q):\n got %s\nwant %s", lastKey, g, w)
	}

	// The same decision again is refused; --by overrides VIGIL_OPERATOR.
	code, _, errOut = run(t, env, "alert", "close", "a-1", "--as", "false_positive", "--reason", "again", "--by", "analyst-8")
	if code != ExitFailure || !strings.Contains(errOut, `alert a-1 is already closed_false_positive (reason "ward rounds", by "analyst-7"); nothing published`) {
		t.Errorf("closing twice: exit %d\n%s", code, errOut)
	}
	// Another kind of closing is a new decision.
	code, _, errOut = run(t, env, "alert", "close", "a-1", "--as", "duplicate", "--reason", "see a-2", "--by", "analyst-8")
	if code != ExitOK {
		t.Errorf("closing as duplicate: exit %d\n%s", code, errOut)
	}
	code, out, errOut = run(t, env, "alert", "show", "a-1")
	if code != ExitOK {
		t.Fatalf("show: exit %d\n%s", code, errOut)
	}
	var shown event.Alert
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("show printed no alert: %v\n%s", err, out)
	}
	if shown.Status != event.AlertClosedDuplicate || shown.StatusReason != "see a-2" || shown.StatusBy != "analyst-8" || shown.Count != 3 {
		t.Errorf("show: %s", out)
	}
	code, _, errOut = run(t, env, "alert", "show", "a-404")
	if code != ExitFailure || !strings.Contains(errOut, "alert a-404: not found on vigil.alerts.v1") {
		t.Errorf("unknown alert: exit %d\n%s", code, errOut)
	}
	if recs, _ := topicAlerts(t, cfg, bus.TopicAlerts); len(recs) != 5 {
		t.Errorf("the topic holds %d records, want 5 (refusals publish nothing)", len(recs))
	}
}

func alertsEqual(a, b event.Alert) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestAlertCloseOnUp: `vigil up` writes its broker's address to
// DATA/broker.addr, `vigil alert --data DATA` uses it, the detector of up
// keeps a decision made that way, and the file is gone once up stops.
func TestAlertCloseOnUp(t *testing.T) {
	data := t.TempDir()
	httpAddr, kafkaAddr, _, stop := startUp(t, data)
	b, err := os.ReadFile(filepath.Join(data, brokerAddrFile))
	if err != nil || strings.TrimSpace(string(b)) != kafkaAddr {
		t.Fatalf("%s: %q, %v; want %s", brokerAddrFile, b, err, kafkaAddr)
	}
	cfg := bus.Defaults()
	cfg.Brokers = []string{kafkaAddr}
	produceAlerts(t, cfg, bus.TopicAlerts, testAlert("up-1", 2))
	code, out, errOut := run(t, nil, "alert", "close", "up-1", "--data", data, "--as", "authorized", "--reason", "approved in SEC-1", "--by", "analyst-1")
	if code != ExitOK {
		t.Fatalf("close: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = run(t, nil, "alert", "show", "up-1", "--data", data)
	if code != ExitOK || !strings.Contains(out, `"status": "closed_authorized"`) || !strings.Contains(out, `"status_by": "analyst-1"`) {
		t.Errorf("show: exit %d\n%s\n%s", code, out, errOut)
	}

	// The whole loop: an event raises an alert, the alert is closed, the
	// detector of up produces it again closed, and a later event that
	// folds into it keeps it closed.
	token, err := os.ReadFile(filepath.Join(data, "ingest-token"))
	if err != nil {
		t.Fatal(err)
	}
	ingest := func(id, at string) {
		t.Helper()
		body := `{"event_id":"` + id + `","occurred_at":"` + at + `","org":"h1","actor":{"id":"u1","type":"doctor"},"action":"break_glass","subject":{"id":"pt-1","type":"patient"},"categories":["health"],"outcome":"success"}`
		req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/access", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ingest %s: %d %s", id, resp.StatusCode, rb)
		}
	}
	// waitFor polls the alerts topic until the latest record of some
	// alert of rule satisfies ok, and returns it and its number of records.
	waitFor := func(what string, ok func(event.Alert, int) bool) (event.Alert, int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			recs, _ := topicAlerts(t, cfg, bus.TopicAlerts)
			latest, n := map[string]event.Alert{}, map[string]int{}
			for _, a := range recs {
				latest[a.AlertID] = a
				n[a.AlertID]++
			}
			for id, a := range latest {
				if a.RuleID == "vigil-access-023" && ok(a, n[id]) {
					return a, n[id]
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no break-glass alert %s after 30s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ingest("bg-1", "2026-11-28T09:30:00Z")
	raised, n := waitFor("raised", func(event.Alert, int) bool { return true })
	code, out, errOut = run(t, nil, "alert", "close", raised.AlertID, "--data", data, "--as", "false_positive", "--reason", "fire drill", "--by", "analyst-1")
	if code != ExitOK {
		t.Fatalf("close %s: exit %d\n%s\n%s", raised.AlertID, code, out, errOut)
	}
	closed := func(a event.Alert) bool {
		return a.Status == event.AlertClosedFalsePositive && a.StatusReason == "fire drill" && a.StatusBy == "analyst-1"
	}
	// The decision, then the detector's own record of it.
	waitFor("produced again by the detector", func(a event.Alert, m int) bool { return a.AlertID == raised.AlertID && m >= n+2 && closed(a) })
	ingest("bg-2", "2026-11-28T09:31:00Z")
	later, _ := waitFor("updated by a later event", func(a event.Alert, _ int) bool { return a.AlertID == raised.AlertID && a.Count == 2 })
	if !closed(later) {
		t.Errorf("after a later event the alert is %s (%q by %q), want the decision kept", later.Status, later.StatusReason, later.StatusBy)
	}

	if code := stop(); code != ExitOK {
		t.Errorf("up exited %d", code)
	}
	if _, err := os.Stat(filepath.Join(data, brokerAddrFile)); !os.IsNotExist(err) {
		t.Errorf("%s still there after up stopped: %v", brokerAddrFile, err)
	}
}
