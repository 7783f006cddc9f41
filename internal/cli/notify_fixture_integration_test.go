//go:build integration

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// notifyFixture is what `vigil notify` needs to turn one alert into an
// incident with a scope: a fresh ClickHouse database holding one nurse's
// reads of the subjects' health records (no care relationship), a DPO
// operator token, and the environment for `vigil` pointing at the real
// Kafka and ClickHouse.
type notifyFixture struct {
	run, db, actor, kafka string
	env                   []string
	base                  time.Time
	subjects              []string
}

func newNotifyFixture(t *testing.T, ctx context.Context, subjects []string) *notifyFixture {
	t.Helper()
	return newNotifyFixtureAt(t, ctx, subjects, time.Now().UTC().Add(-time.Hour))
}

// newNotifyFixtureAt is newNotifyFixture with the nurse's reads starting
// at base, one a second.
func newNotifyFixtureAt(t *testing.T, ctx context.Context, subjects []string, base time.Time) *notifyFixture {
	t.Helper()
	kafkaAddr, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	f := &notifyFixture{run: fmt.Sprintf("%d", time.Now().UnixNano()), kafka: kafkaAddr, subjects: subjects}
	f.db, f.actor = "vigil_notify_"+f.run, "nurse-"+f.run
	f.env = []string{"VIGIL_CLICKHOUSE_ADDR=" + chAddr, "VIGIL_CLICKHOUSE_DATABASE=" + f.db, "VIGIL_BUS_BROKERS=" + kafkaAddr,
		"VIGIL_TOKEN=" + f.token()}
	conn, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+f.db)
		conn.Close()
	})
	if code, out, errOut := run(t, f.env, "store", "migrate"); code != ExitOK {
		t.Fatalf("migrate: exit %d %q %q", code, out, errOut)
	}
	f.base = base.UTC().Truncate(time.Second)
	var b store.Batch
	for i, subj := range subjects {
		at := event.NewTimestamp(f.base.Add(time.Duration(i) * time.Second))
		b.Access = append(b.Access, event.AccessEvent{EventID: fmt.Sprintf("n%s-%d", f.run, i), OccurredAt: at, ReceivedAt: at,
			Source: "emr", Org: "h1", Actor: event.Actor{ID: f.actor, Type: event.ActorStaff, Role: "nurse"}, Action: event.ActionRead,
			Subject: event.Subject{ID: subj, Type: event.SubjectPatient}, Categories: []event.Category{event.CategoryHealth},
			RecordCount: 1, Relationship: event.RelationshipFalse, Outcome: event.OutcomeSuccess})
	}
	if err := store.NewClickHouseWriter(conn, f.db).Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *notifyFixture) token() string { return "dpo-token-" + f.run }

// config writes the notifier's config file (a DPO operator, the contacts
// file, SMTP to Mailpit) with extra appended under notify:.
func (f *notifyFixture) config(t *testing.T, dir, contacts, smtpAddr, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "vigil.yaml")
	writeFile(t, p, fmt.Sprintf(`
notify:
  listen: 127.0.0.1:0
  group: notify-test-%s
  dpo: dpo@h1.example
  operators:
    - {name: dpo-test, roles: [dpo, analyst], token_sha256: %s}
  org_names: {h1: 示例医院}
  directory_file: %s
  smtp_addr: %s
  smtp_mode: plain
  from: Hospital DPO <dpo@h1.example>
  dispatch_every: 100ms
%s`, f.run, auth.Hash(f.token()), contacts, smtpAddr, extra))
	return p
}

// sendAlert produces the detector's alert on the nurse's reads.
func (f *notifyFixture) sendAlert(t *testing.T, ctx context.Context) {
	t.Helper()
	n := int64(len(f.subjects))
	a := event.Alert{AlertID: "al-" + f.run, RuleID: "vigil-access-020", RuleTitle: "No-relationship reading", Severity: event.SeverityHigh,
		GroupKey: "h1/" + f.actor, Org: "h1", ActorID: f.actor, Status: event.AlertOpen, Count: n, DistinctSubjects: n,
		WindowStart: event.NewTimestamp(f.base), WindowEnd: event.NewTimestamp(f.base.Add(time.Hour)),
		FirstSeen: event.NewTimestamp(f.base), LastSeen: event.NewTimestamp(f.base.Add(time.Duration(n) * time.Second)), Evidence: []string{"x"}, Explanation: "x"}
	v, _ := json.Marshal(a)
	bcfg := bus.Defaults()
	bcfg.Brokers = []string{f.kafka}
	w, err := bus.NewWriter(bcfg, bus.TopicAlerts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(a.GroupKey), Value: v}); err != nil {
		t.Fatal(err)
	}
}

// incident runs `vigil incident ARGS --server api` and fails the test on
// a non-zero exit.
func (f *notifyFixture) incident(t *testing.T, api string, args ...string) string {
	t.Helper()
	code, o, e := run(t, f.env, append([]string{"incident"}, append(args, "--server", api)...)...)
	if code != ExitOK {
		t.Fatalf("vigil incident %v: exit %d\n%s%s", args, code, o, e)
	}
	return o
}

// awaitIncident returns the id of the nurse's incident once the notifier
// has opened it.
func (f *notifyFixture) awaitIncident(t *testing.T, api string) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var list []struct {
			IncidentID string `json:"incident_id"`
		}
		_ = json.Unmarshal([]byte(f.incident(t, api, "list", "--json")), &list)
		for _, l := range list {
			var inc event.Incident
			if json.Unmarshal([]byte(f.incident(t, api, "show", l.IncidentID, "--json")), &inc) == nil && inc.ActorID == f.actor {
				return inc.IncidentID
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no incident for the alert within 60 s")
		}
	}
}

// confirmAndApprove confirms the incident, records the notice's content
// and approves the individual notice; it returns `incident show` after
// the confirmation.
func (f *notifyFixture) confirmAndApprove(t *testing.T, api, id string) string {
	t.Helper()
	shown := f.incident(t, api, "confirm", id, "--reason", "confirmed with the ward manager")
	args := []string{"set", id}
	for _, k := range slices.Sorted(maps.Keys(noticeContent)) {
		args = append(args, k+"="+noticeContent[k])
	}
	f.incident(t, api, args...)
	f.incident(t, api, "approve", id, "pipl.individual")
	return shown
}

// noticeContent is what the DPO records for the notices: each value must
// appear in every notice sent.
var noticeContent = map[string]string{
	"facts":           "A nurse read patients' records she had no care relationship with.",
	"cause":           "misuse of access rights",
	"impact":          "your health record was seen by someone without a care relationship",
	"measures_taken":  "access suspended and reviewed",
	"self_protection": "no action is needed",
	"remedies":        "ask us for the access log of your record",
	"contact":         "dpo@h1.example, 400-000-0000",
}

// mailpitMsg is a message of Mailpit's search API.
type mailpitMsg struct {
	ID, MessageID, Subject string
	To                     []struct{ Address string }
}

// mailpitSearch returns every message Mailpit finds for query, paging
// through the results.
func mailpitSearch(t *testing.T, api, query string) []mailpitMsg {
	t.Helper()
	var all []mailpitMsg
	for start := 0; ; {
		var r struct {
			Messages      []mailpitMsg
			MessagesCount int `json:"messages_count"`
		}
		mailpitGet(t, fmt.Sprintf("%s/api/v1/search?query=%s&start=%d&limit=1000", api, url.QueryEscape(query), start), &r)
		all = append(all, r.Messages...)
		start += len(r.Messages)
		if len(r.Messages) == 0 || start >= r.MessagesCount {
			return all
		}
	}
}

// mailpitCount returns how many messages match query.
func mailpitCount(t *testing.T, api, query string) int {
	t.Helper()
	var r struct {
		MessagesCount int `json:"messages_count"`
	}
	mailpitGet(t, fmt.Sprintf("%s/api/v1/search?query=%s&limit=1", api, url.QueryEscape(query)), &r)
	return r.MessagesCount
}

func mailpitGet(t *testing.T, u string, v any) {
	t.Helper()
	if err := getJSON(u, v); err != nil {
		t.Fatal(err)
	}
}

// getJSON decodes the JSON answer of GET u into v.
func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
