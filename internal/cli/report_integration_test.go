//go:build integration

package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/testenv"
)

// TestReportClickHouse exports a subject's history from the real
// ClickHouse 18.16: the raw id is pseudonymised with the key from the
// environment, each event appears once although it was written twice, in
// time order; the actor report reads the same data by actor.
func TestReportClickHouse(t *testing.T) {
	chAddr := testenv.ClickHouse(t)
	db := fmt.Sprintf("vigil_report_%d", time.Now().UnixNano())
	keyFile := filepath.Join(t.TempDir(), "pseudo.key")
	key, _, err := pseudo.EnsureKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pseudo.New(key, pseudo.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	token := p.Token(pseudo.Person, "P-123")
	env := []string{"VIGIL_CLICKHOUSE_ADDR=" + chAddr, "VIGIL_CLICKHOUSE_DATABASE=" + db, "VIGIL_PSEUDONYMISE_KEY_FILE=" + keyFile}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{chAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	if code, out, errOut := run(t, env, "store", "migrate"); code != ExitOK {
		t.Fatalf("migrate: exit %d %q %q", code, out, errOut)
	}

	base := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	var b store.Batch
	for i := range 40 {
		subj := token
		if i%4 == 3 {
			subj = p.Token(pseudo.Person, "P-999")
		}
		b.Access = append(b.Access, event.AccessEvent{
			EventID: fmt.Sprintf("e%02d", i), OccurredAt: event.NewTimestamp(base.Add(time.Duration(i) * 7 * time.Minute)),
			ReceivedAt: event.NewTimestamp(base.Add(time.Duration(i) * 7 * time.Minute)), Source: "ehr", Org: "h1",
			Actor:  event.Actor{ID: fmt.Sprintf("u%d", i%2), Type: event.ActorDoctor, Role: "nurse"},
			Action: "read", Subject: event.Subject{ID: subj, Type: event.SubjectPatient},
			Categories: []event.Category{event.CategoryHealth}, RecordCount: 1, Relationship: event.RelationshipTrue, Outcome: "success",
		})
	}
	w := store.NewClickHouseWriter(conn, db)
	for range 2 { // a redelivered batch must not show twice
		if err := w.Write(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}

	out := filepath.Join(t.TempDir(), "p123.csv")
	var recs [][]string
	for deadline := time.Now().Add(20 * time.Second); ; { // the view trails the insert
		os.Remove(out)
		code, _, errOut := run(t, env, "report", "subject", "--id", "P-123", "--from", "2026-11-02", "--to", "2026-11-03", "--output", out)
		if code != ExitOK {
			t.Fatalf("report: exit %d %q", code, errOut)
		}
		f, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if recs, err = csv.NewReader(strings.NewReader(string(f))).ReadAll(); err != nil {
			t.Fatal(err)
		}
		if len(recs) == 31 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(recs) != 31 {
		t.Fatalf("%d rows, want 30 (each event once)", len(recs)-1)
	}
	for i, r := range recs[1:] {
		if i > 0 && r[1] < recs[i][1] {
			t.Errorf("row %d at %s before the previous row's %s", i+1, r[1], recs[i][1])
		}
	}
	code, stdout, errOut := run(t, env, "report", "actor", "--org", "h1", "--actor", "u1", "--from", "2026-11-02", "--to", "2026-11-03", "--format", "ndjson")
	if code != ExitOK || strings.Count(stdout, "\n") != 20 {
		t.Fatalf("actor report: exit %d, %d rows, %q", code, strings.Count(stdout, "\n"), errOut)
	}
}
