package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/detector/backfill"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

const backfillRule = `title: Break-glass access
id: bf-break-glass
status: stable
level: medium
logsource: {product: vigil, service: access}
detection:
  sel:
    action: break_glass
  condition: sel
`

// runBackfill runs `vigil rules ARGS...` the way rules.go dispatches
// backfill once wired: the rules command's flags with the backfill flags.
func runBackfill(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	bf := &backfillFlags{}
	cmd := &command{name: "rules", flags: bf.register}
	fs := newFlagSet(cmd)
	var out, errb syncBuffer
	fs.fs.SetOutput(&errb)
	pos, err := parseInterspersed(fs.fs, args)
	if err != nil {
		return ExitUsage, "", errb.String() + err.Error()
	}
	if len(pos) == 0 || pos[0] != "backfill" {
		t.Fatalf("want backfill, got %q", pos)
	}
	c := &invocation{cmd: cmd, fs: fs, args: pos, env: Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}}
	code = rulesBackfill(context.Background(), c, bf)
	return code, out.String(), errb.String()
}

func TestRulesBackfill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", Partitions: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cfg := e.Config()
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

	// Break-glass by staff-i at t0 + i hours, i in 0..4 (no correlation, so
	// reading starts at --from: 4 events); the alert of
	// staff-1 is already on the alerts topic.
	write := func(topic string, msgs []kafka.Message) {
		w, err := bus.NewWriter(cfg, topic)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []kafka.Message
	for i := range 5 {
		at := event.NewTimestamp(t0.Add(time.Duration(i) * time.Hour))
		ev := event.AccessEvent{
			EventID: fmt.Sprintf("e-%d", i), OccurredAt: at, ReceivedAt: at, Source: "ehr", Org: "hosp-1",
			Actor:  event.Actor{ID: fmt.Sprintf("staff-%d", i), Type: event.ActorStaff, Role: "nurse"},
			Action: event.ActionBreakGlass, Subject: event.Subject{ID: "pt-1", Type: event.SubjectPatient},
			Categories:   []event.Category{event.CategoryHealth},
			Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
		}
		msgs = append(msgs, kafka.Message{Key: ev.Key(), Value: ev.AppendJSON(nil), Time: at.Time})
	}
	write(bus.TopicAccess, msgs)
	id := func(i int) string {
		return event.AlertID("bf-break-glass", fmt.Sprintf("hosp-1/staff-%d", i), t0.Add(time.Duration(i)*time.Hour))
	}
	v, _ := json.Marshal(event.Alert{AlertID: id(1), RuleID: "bf-break-glass", GroupKey: "hosp-1/staff-1"})
	write(bus.TopicAlerts, []kafka.Message{{Key: []byte("hosp-1/staff-1"), Value: v}})

	rules := writeRules(t, map[string]string{"bg.yml": backfillRule})
	broken := writeRules(t, map[string]string{"good.yml": backfillRule, "broken.yml": brokenRule})
	badTopic := filepath.Join(t.TempDir(), "vigil.yml")
	if err := os.WriteFile(badTopic, []byte("detect:\n  alerts_topic: no.such.topic\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	brokers := e.Addr()
	from, to := "2026-11-01T08:30:00Z", "2026-11-01T11:30:00Z" // staff-1, 2, 3

	t.Run("table", func(t *testing.T) {
		code, out, errs := runBackfill(t, "backfill", rules, "--brokers", brokers, "--from", from, "--to", to)
		if code != ExitOK {
			t.Fatalf("code %d, stderr:\n%s", code, errs)
		}
		for _, re := range []string{`(?m)^RULE\s+WOULD RAISE\s+ALREADY RAISED\s+NEW$`, `(?m)^bf-break-glass\s+3\s+1\s+2$`, `(?m)^total\s+3\s+1\s+2$`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("stdout does not match %s:\n%s", re, out)
			}
		}
		if !strings.Contains(errs, "4 events read from "+bus.TopicAccess) || !strings.Contains(errs, "records of "+bus.TopicAlerts+"[") {
			t.Errorf("stderr lacks progress:\n%s", errs)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, errs := runBackfill(t, "backfill", "--format", "json", rules, "--brokers", brokers, "--from", from, "--to", to)
		if code != ExitOK {
			t.Fatalf("code %d, stderr:\n%s", code, errs)
		}
		var got struct {
			Rules  []backfillRow `json:"rules"`
			Alerts []struct {
				Status backfill.Status `json:"status"`
				Alert  event.Alert     `json:"alert"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		want := []string{"existing " + id(1), "new " + id(2), "new " + id(3)}
		var have []string
		for _, a := range got.Alerts {
			have = append(have, string(a.Status)+" "+a.Alert.AlertID)
		}
		if fmt.Sprint(have) != fmt.Sprint(want) {
			t.Errorf("alerts = %v, want %v", have, want)
		}
		if len(got.Rules) != 1 || got.Rules[0] != (backfillRow{Rule: "bf-break-glass", Would: 3, Existing: 1, New: 2}) {
			t.Errorf("rules = %+v", got.Rules)
		}
	})
	t.Run("emit then nothing new", func(t *testing.T) {
		code, _, errs := runBackfill(t, "backfill", rules, "--emit", "--brokers", brokers, "--from", from, "--to", to)
		if code != ExitOK || !strings.Contains(errs, "produced 2 new alerts to "+bus.TopicAlerts) {
			t.Fatalf("code %d, stderr:\n%s", code, errs)
		}
		code, out, errs := runBackfill(t, "backfill", rules, "--emit", "--brokers", brokers, "--from", from, "--to", to)
		if code != ExitOK || !strings.Contains(errs, "produced 0 new alerts") {
			t.Fatalf("code %d, stderr:\n%s", code, errs)
		}
		if re := `(?m)^bf-break-glass\s+3\s+3\s+0$`; !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("second run does not match %s:\n%s", re, out)
		}
	})
	errCases := []struct {
		name string
		args []string
		code int
		re   string
	}{
		{"no rules", []string{"backfill", "--from", from, "--to", to}, ExitUsage, `exactly one RULES`},
		{"no from", []string{"backfill", rules, "--to", to}, ExitUsage, `needs --from and --to`},
		{"bad from", []string{"backfill", rules, "--from", "yesterday", "--to", to}, ExitUsage, `--from: "yesterday" is neither`},
		{"reversed", []string{"backfill", rules, "--from", to, "--to", from}, ExitUsage, `is not before --to`},
		{"bad format", []string{"backfill", rules, "--from", from, "--to", to, "--format", "xml"}, ExitUsage, `--format: "xml"`},
		{"broken rules", []string{"backfill", broken, "--brokers", brokers, "--from", from, "--to", to}, ExitUsage, `(?s)broken\.yml:3:8: .*broken\.yml:8:5: .*3 problems in`},
		{"unknown topic", []string{"backfill", rules, "--config", badTopic, "--brokers", brokers, "--from", from, "--to", to}, ExitFailure, `no\.such\.topic`},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runBackfill(t, tc.args...)
			if code != tc.code || !regexp.MustCompile(tc.re).MatchString(errs) {
				t.Errorf("code %d (want %d), stderr:\n%s\nwant match %s", code, tc.code, errs, tc.re)
			}
			if out != "" {
				t.Errorf("stdout not empty: %s", out)
			}
		})
	}
	if !strings.Contains(backfillHelp, "--from") {
		t.Error("backfillHelp does not document --from")
	}
}

// TestRulesBackfillStore runs `vigil rules backfill --source store --data
// DIR` over the embedded store of `vigil up`: the events of
// TestRulesBackfill written by the SQLite writer (some twice), the alert
// of staff-1 in the store's alerts table.
func TestRulesBackfillStore(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	id := func(i int) string {
		return event.AlertID("bf-break-glass", fmt.Sprintf("hosp-1/staff-%d", i), t0.Add(time.Duration(i)*time.Hour))
	}
	data := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(data, embeddedStoreFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	for i := range 5 {
		at := event.NewTimestamp(t0.Add(time.Duration(i) * time.Hour))
		b.Access = append(b.Access, event.AccessEvent{
			EventID: fmt.Sprintf("e-%d", i), OccurredAt: at, ReceivedAt: at, Source: "ehr", Org: "hosp-1",
			Actor:  event.Actor{ID: fmt.Sprintf("staff-%d", i), Type: event.ActorStaff, Role: "nurse"},
			Action: event.ActionBreakGlass, Subject: event.Subject{ID: "pt-1", Type: event.SubjectPatient},
			Categories:   []event.Category{event.CategoryHealth},
			Relationship: event.RelationshipTrue, Outcome: event.OutcomeSuccess,
		})
	}
	b.Alerts = []store.Versioned[event.Alert]{{Version: 7, Value: event.Alert{AlertID: id(1), RuleID: "bf-break-glass",
		GroupKey: "hosp-1/staff-1", Org: "hosp-1", WindowStart: event.NewTimestamp(t0.Add(time.Hour)), Status: "open"}}}
	redelivered := store.Batch{Access: b.Access[1:3]}
	for _, batch := range []*store.Batch{&b, &redelivered} {
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rules := writeRules(t, map[string]string{"bg.yml": backfillRule})
	from, to := "2026-11-01T08:30:00Z", "2026-11-01T11:30:00Z" // staff-1, 2, 3

	for _, args := range [][]string{
		{"backfill", rules, "--data", data, "--from", from, "--to", to, "--format", "json"},
		{"backfill", rules, "--source", "store", "--data", data, "--from", from, "--to", to, "--format", "json"},
	} {
		t.Run(strings.Join(args[2:4], " "), func(t *testing.T) {
			code, out, errs := runBackfill(t, args...)
			if code != ExitOK {
				t.Fatalf("code %d, stderr:\n%s", code, errs)
			}
			var got struct {
				Alerts []struct {
					Status backfill.Status `json:"status"`
					Alert  event.Alert     `json:"alert"`
				} `json:"alerts"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			var have []string
			for _, a := range got.Alerts {
				if a.Alert.RuleID == "bf-break-glass" {
					have = append(have, string(a.Status)+" "+a.Alert.AlertID)
				}
			}
			if want := []string{"existing " + id(1), "new " + id(2), "new " + id(3)}; fmt.Sprint(have) != fmt.Sprint(want) {
				t.Errorf("alerts = %v, want %v", have, want)
			}
			// No correlation: reading is [--from, --to), each event once.
			if !strings.Contains(errs, "3 events read from access") || !strings.Contains(errs, "the embedded store") {
				t.Errorf("stderr lacks progress:\n%s", errs)
			}
		})
	}

	// The detector of `vigil detect`: detect.time_zones reaches the rules'
	// hour modifier (08:00Z is 16:00 in Shanghai).
	t.Run("time zones", func(t *testing.T) {
		evening := writeRules(t, map[string]string{"evening.yml": strings.Replace(backfillRule,
			"    action: break_glass", "    action: break_glass\n    occurred_at|hour|gte: 17", 1)})
		shanghai := filepath.Join(t.TempDir(), "vigil.yml")
		if err := os.WriteFile(shanghai, []byte("detect:\n  time_zones:\n    hosp-1: Asia/Shanghai\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			config string
			re     string
		}{
			{"", `(?m)^total\s+0\s+0\s+0$`},
			{shanghai, `(?m)^bf-break-glass\s+3\s+1\s+2$`},
		} {
			args := []string{"backfill", evening, "--data", data, "--from", from, "--to", to}
			if tc.config != "" {
				args = append(args, "--config", tc.config)
			}
			code, out, errs := runBackfill(t, args...)
			if code != ExitOK || !regexp.MustCompile(tc.re).MatchString(out) {
				t.Errorf("config %q: code %d, stdout:\n%s\nstderr:\n%s\nwant match %s", tc.config, code, out, errs, tc.re)
			}
		}
	})

	errCases := []struct {
		name string
		args []string
		re   string
	}{
		{"unknown source", []string{"backfill", rules, "--source", "s3", "--from", from, "--to", to}, `--source: "s3"`},
		{"data with kafka", []string{"backfill", rules, "--source", "kafka", "--data", data, "--from", from, "--to", to}, `--data reads the embedded store`},
		{"no store there", []string{"backfill", rules, "--data", t.TempDir(), "--from", from, "--to", to}, `no embedded store there`},
		{"store without data or clickhouse", []string{"backfill", rules, "--source", "store", "--from", from, "--to", to}, `no store to read`},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runBackfill(t, tc.args...)
			if code != ExitUsage || !regexp.MustCompile(tc.re).MatchString(errs) || out != "" {
				t.Errorf("code %d (want %d), stdout %q, stderr:\n%s\nwant match %s", code, ExitUsage, out, errs, tc.re)
			}
		})
	}
}
