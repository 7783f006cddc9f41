package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

// reportFixture makes a data folder like the one of `vigil up`: a key and
// an embedded store holding accesses to two patients by two actors. It
// returns the folder and the token of patient P-123.
func reportFixture(t *testing.T) (dir, token string) {
	t.Helper()
	dir = t.TempDir()
	key, _, err := pseudo.EnsureKeyFile(filepath.Join(dir, "pseudonymise.key"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pseudo.New(key, pseudo.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	token = p.Token(pseudo.Person, "P-123")
	other := p.Token(pseudo.Person, "P-999")
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, embeddedStoreFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	var b store.Batch
	for i := range 30 {
		subj := token
		if i%3 == 2 {
			subj = other
		}
		actor := "u1"
		if i%2 == 1 {
			actor = "u2"
		}
		purpose := "treatment"
		if i == 4 {
			purpose = "=HYPERLINK(\"http://x\")"
		}
		b.Access = append(b.Access, event.AccessEvent{
			EventID:    fmt.Sprintf("e%02d", i),
			OccurredAt: event.NewTimestamp(base.Add(time.Duration(i) * 20 * time.Minute)),
			ReceivedAt: event.NewTimestamp(base.Add(time.Duration(i)*20*time.Minute + time.Second)),
			Source:     "ehr", Org: "h1",
			Actor:        event.Actor{ID: actor, Type: event.ActorDoctor, Role: "nurse", Department: "cardiology"},
			Action:       event.Action("read"),
			Subject:      event.Subject{ID: subj, Type: event.SubjectPatient},
			Categories:   []event.Category{event.CategoryHealth, event.CategoryPrescription},
			RecordCount:  1,
			Purpose:      purpose,
			Relationship: event.RelationshipTrue,
			Outcome:      event.Outcome("success"),
		})
	}
	if err := st.Write(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return dir, token
}

func TestReportSubjectEmbedded(t *testing.T) {
	dir, token := reportFixture(t)
	// --id is pseudonymised with DATA/pseudonymise.key: 20 of the 30
	// events are P-123's; --to (half-open) cuts e28, which is at 17:20 itself.
	code, out, errOut := run(t, nil, "report", "subject", "--data", dir, "--id", "P-123",
		"--from", "2026-11-02", "--to", "2026-11-02T17:20:00Z")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != strings.Join(subjectColumns, ",") {
		t.Fatalf("header = %s", got)
	}
	var ids []string
	for _, r := range recs[1:] {
		ids = append(ids, r[0])
	}
	want := "e00 e01 e03 e04 e06 e07 e09 e10 e12 e13 e15 e16 e18 e19 e21 e22 e24 e25 e27"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("event ids = %s\nwant        %s", got, want)
	}
	if r := recs[1]; r[1] != "2026-11-02T08:00:00.000Z" || r[4] != "u1" || r[10] != "health;prescription" || r[14] != "success" {
		t.Errorf("first row = %q", r)
	}
	if got := recs[4][12]; got != `'=HYPERLINK("http://x")` {
		t.Errorf("formula cell = %q, want it quoted", got)
	}
	if !strings.Contains(errOut, "19 rows from the embedded store") || strings.Contains(out+errOut, "P-123") {
		t.Errorf("stderr = %q (and the raw id must not appear anywhere)", errOut)
	}

	// The same by token, as JSON, into a file.
	file := filepath.Join(t.TempDir(), "p123.json")
	code, _, errOut = run(t, nil, "report", "subject", "--data", dir, "--token", token,
		"--from", "2026-11-01", "--to", "2026-11-03", "--format", "json", "--output", file)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Report     string            `json:"report"`
		Parameters map[string]string `json:"parameters"`
		Rows       []struct {
			EventID    string   `json:"event_id"`
			OccurredAt string   `json:"occurred_at"`
			Categories []string `json:"categories"`
		} `json:"rows"`
		RowCount int `json:"row_count"`
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if doc.Report != "subject_access_history" || doc.RowCount != 20 || len(doc.Rows) != 20 ||
		doc.Parameters["subject_token"] != token || doc.Rows[0].OccurredAt != "2026-11-02T08:00:00.000Z" {
		t.Fatalf("document: %+v", doc)
	}
	// An existing output file is never overwritten.
	code, _, errOut = run(t, nil, "report", "subject", "--data", dir, "--token", token, "--from", "2026-11-01", "--output", file)
	if code != ExitFailure || !strings.Contains(errOut, "exists; remove it") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// An unknown subject is an empty report, not an error.
	code, out, _ = run(t, nil, "report", "subject", "--data", dir, "--token", "p_nobody", "--from", "2026-11-01", "--format", "ndjson")
	if code != ExitOK || out != "" {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestReportActorEmbedded(t *testing.T) {
	dir, _ := reportFixture(t)
	code, out, errOut := run(t, nil, "report", "actor", "--data", dir, "--org", "h1", "--actor", "u2",
		"--from", "2026-11-02", "--to", "2026-11-03", "--format", "ndjson")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 15 {
		t.Fatalf("%d rows, want 15 (u2 has the odd events)", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["event_id"] != "e01" || first["occurred_at"] != "2026-11-02T08:20:00.000Z" {
		t.Fatalf("first row = %v", first)
	}

	code, out, errOut = run(t, nil, "report", "actor", "--data", dir, "--org", "h1", "--actor", "u1",
		"--from", "2026-11-02", "--to", "2026-11-03", "--hourly")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// u1 has e00, e02, …, e28: three 20-minute slots per hour, of which u1
	// takes 1 or 2; 10 hours × 2 categories. In the first hour: e00 (P-123)
	// and e02 (P-999).
	if len(recs) != 1+20 || strings.Join(recs[0], ",") != "hour,category,events,subjects,records,denied" {
		t.Fatalf("hourly = %q", recs)
	}
	if got := strings.Join(recs[1], ","); got != "2026-11-02T08:00:00.000Z,health,2,2,2,0" {
		t.Errorf("first hour = %s", got)
	}
}
