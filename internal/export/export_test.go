package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type row struct {
	ID      string   `json:"id"`
	Purpose string   `json:"purpose"`
	Cats    []string `json:"categories"`
	N       int64    `json:"n"`
}

var rows = []row{
	{"e1", "treatment", []string{"health", "prescription"}, 1},
	{"e2", "=HYPERLINK(\"http://evil\",\"x\")", nil, 2},
	{"e3", "line\nbreak, \"quoted\"", []string{"id_number"}, 0},
	{"e4", "-5+3", []string{}, 40},
	{"e5", "@SUM(A1)", nil, 0},
}

func cells(r row) []string {
	return []string{r.ID, r.Purpose, strings.Join(r.Cats, ";"), strconv.FormatInt(r.N, 10)}
}

func write(t *testing.T, f Format, rs []row) []byte {
	t.Helper()
	var buf bytes.Buffer
	meta := Meta{Report: "test_report", GeneratedAt: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		Params: []Param{{"subject_token", "p_abc"}, {"from", "2026-11-01T00:00:00Z"}}}
	w, err := New(&buf, f, meta, []string{"id", "purpose", "categories", "n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := w.Row(r, cells(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Rows() != int64(len(rs)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(rs))
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got, *update)
}

func TestFormatsGolden(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		rows []row
		file string
	}{
		{CSV, rows, "rows.csv"},
		{JSON, rows, "rows.json"},
		{NDJSON, rows, "rows.ndjson"},
		{CSV, nil, "empty.csv"},
		{JSON, nil, "empty.json"},
		{NDJSON, nil, "empty.ndjson"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden(t, tc.file, write(t, tc.f, tc.rows))
		})
	}
}

// The JSON document parses and holds every row as marshalled; the CSV
// parses back to the escaped cells.
func TestRoundTrip(t *testing.T) {
	var doc struct {
		Report     string            `json:"report"`
		Generated  string            `json:"generated_at"`
		Parameters map[string]string `json:"parameters"`
		Rows       []row             `json:"rows"`
		RowCount   int               `json:"row_count"`
	}
	dec := json.NewDecoder(bytes.NewReader(write(t, JSON, rows)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Report != "test_report" || doc.RowCount != len(rows) || len(doc.Rows) != len(rows) ||
		doc.Parameters["subject_token"] != "p_abc" || doc.Generated != "2026-11-28T10:00:00Z" {
		t.Fatalf("document = %+v", doc)
	}
	for i := range rows {
		if doc.Rows[i].ID != rows[i].ID || doc.Rows[i].Purpose != rows[i].Purpose {
			t.Errorf("row %d = %+v, want %+v", i, doc.Rows[i], rows[i])
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(write(t, CSV, rows))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 {
		t.Fatalf("%d CSV records, want %d", len(recs), len(rows)+1)
	}
	for i, r := range rows {
		if got, want := recs[i+1][1], EscapeCell(r.Purpose); got != want {
			t.Errorf("row %d purpose = %q, want %q", i, got, want)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(write(t, NDJSON, rows)), "\n"), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d NDJSON lines, want %d", len(lines), len(rows))
	}
}

func TestEscapeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"plain":         "plain",
		"=1+1":          "'=1+1",
		"+1":            "'+1",
		"-1":            "'-1",
		"@cmd":          "'@cmd",
		"\tx":           "'\tx",
		"\rx":           "'\rx",
		"a=b":           "a=b",
		"2026-11-28":    "2026-11-28",
		"p_abcdefghijk": "p_abcdefghijk",
	} {
		if got := EscapeCell(in); got != want {
			t.Errorf("EscapeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"csv": CSV, "JSON": JSON, " ndjson ": NDJSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xml", "csvx"} {
		if _, err := ParseFormat(in); err == nil || !strings.Contains(err.Error(), "want csv, json or ndjson") {
			t.Errorf("ParseFormat(%q) error = %v", in, err)
		}
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// A failing destination surfaces as an error naming the step, and every
// later call returns it.
func TestWriteError(t *testing.T) {
	w, err := New(&failWriter{after: 10}, NDJSON, Meta{}, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	big := row{ID: strings.Repeat("x", 70<<10)}
	err = w.Row(big, nil)
	if err == nil {
		err = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error = %v, want disk full", err)
	}
	if err2 := w.Row(big, nil); err2 == nil {
		t.Fatal("Row after an error succeeded")
	}
}

func TestCSVCellCount(t *testing.T) {
	w, err := New(&bytes.Buffer{}, CSV, Meta{}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Row(nil, []string{"only one"}); err == nil || !strings.Contains(err.Error(), "1 cells for 2 columns") {
		t.Fatalf("error = %v", err)
	}
}

func TestProgress(t *testing.T) {
	clock := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var buf bytes.Buffer
	p := newProgress(&buf, "export", 10000, false, now)
	p.LineEvery = time.Second
	for i := 0; i < 5000; i++ {
		p.Add(1)
	}
	if buf.Len() != 0 {
		t.Fatalf("drew before its interval: %q", buf.String())
	}
	clock = clock.Add(2 * time.Second)
	for i := 0; i < 1024; i++ {
		p.Add(1)
	}
	clock = clock.Add(500 * time.Millisecond)
	p.Add(2000)
	p.Done()
	want := "export  51% 5,120/10,000 rows, 2,560 rows/s, about 2s left\n" +
		"export  80% 8,024/10,000 rows, 3,209 rows/s, done in 2.5s\n"
	if buf.String() != want {
		t.Fatalf("progress output:\n%q\nwant\n%q", buf.String(), want)
	}

	buf.Reset()
	clock = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	p = newProgress(&buf, "export", 0, true, now)
	clock = clock.Add(time.Second)
	p.Add(1500)
	p.Done()
	want = "\r\x1b[Kexport 1,500 rows, 1,500 rows/s\r\x1b[Kexport 1,500 rows, 1,500 rows/s, done in 1s\n"
	if buf.String() != want {
		t.Fatalf("terminal output:\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	p = newProgress(&buf, "x", 4, true, now)
	clock = clock.Add(time.Second)
	p.Add(2)
	if !strings.Contains(buf.String(), "[###############...............]  50% 2/4 rows") {
		t.Fatalf("bar = %q", buf.String())
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}
