package report

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/vigil-audit/vigil/internal/event"

	"github.com/vigil-audit/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ts(s string) event.Timestamp {
	t, err := event.ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return t
}

func incident() *event.Incident {
	return &event.Incident{
		IncidentID: "4f1c2a9e0b7d4e6f8a1b2c3d4e5f6a7b", State: event.IncidentConfirmed, Org: "hosp-sh-01",
		DetectedAt: ts("2026-12-05T07:00:00Z"), AwareAt: ts("2026-12-05T08:00:00Z"),
		WindowStart: ts("2026-12-04T22:10:00Z"), WindowEnd: ts("2026-12-05T06:40:00Z"),
		Scope: event.Scope{People: 1_200_000, Minors: 3400, Categories: []event.Category{"health", "id_number", "minor_data"}},
		Fields: map[string]string{
			"affected_system":   "EMR (electronic medical records), read API",
			"incident_type":     "unauthorised bulk reading of patient records by a staff account",
			"measures_taken":    "=account disabled; sessions revoked", // a formula-looking value, quoted in CSV
			"nature":            "A staff account's credentials were used to read patient records in bulk.",
			"dpo_contact":       "dpo@hosp-sh-01.example, +86 21 5555 0100",
			"preliminary_cause": "phished password, no second factor on the read API",
		},
		Obligations: []event.Obligation{
			{ID: "cac.initial", Regime: "pipl", Kind: "regulator_report", Grade: "较大", Basis: "CAC incident reporting measures",
				StartsAt: ts("2026-12-05T08:00:00Z"), DueAt: ts("2026-12-05T12:00:00Z"), Status: event.ObligationDone, DoneAt: ts("2026-12-05T11:30:00Z"),
				Fields: []string{"reporting_unit", "affected_system", "discovery_time", "discovery_place", "incident_type", "impact", "measures_taken", "people_affected"}},
			{ID: "cac.summary", Regime: "pipl", Kind: "summary_report", StartsAt: ts("2026-12-10T00:00:00Z"), DueAt: ts("2027-01-09T00:00:00Z"),
				Status: event.ObligationOpen, Fields: []string{"cause", "measures_taken", "harm", "accountability", "rectification", "lessons"}},
			{ID: "gdpr.authority", Regime: "gdpr", Kind: "regulator_report", StartsAt: ts("2026-12-05T08:00:00Z"), DueAt: ts("2026-12-08T08:00:00Z"),
				Status: event.ObligationOpen, Fields: []string{"nature", "subject_categories", "subjects_approx", "records_approx", "dpo_contact", "consequences", "measures"}},
			{ID: "pipl.individual", Regime: "pipl", Kind: "individual_notice", Status: event.ObligationOpen, Fields: []string{"facts"}},
		},
		Submissions: []event.Submission{{Obligation: "cac.initial", Version: "initial", Reference: "SH-CAC-2026-118", At: ts("2026-12-05T11:30:00Z"), By: "dpo-wang"}},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got, *update)
}

func TestReportsGolden(t *testing.T) {
	now := time.Date(2026, 12, 9, 9, 0, 0, 0, time.UTC) // past the GDPR 72 h
	for _, tc := range []struct{ regime, version, name string }{
		{"cac", "", "cac_all"},
		{"cac", "initial", "cac_initial"},
		{"gdpr", "", "gdpr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Build(incident(), tc.regime, tc.version, Options{Now: now, OrgName: func(string) string { return "上海示例医院 (Shanghai Example Hospital)" }})
			if err != nil {
				t.Fatal(err)
			}
			var j, c bytes.Buffer
			if err := WriteJSON(&j, rs); err != nil {
				t.Fatal(err)
			}
			if err := WriteCSV(&c, rs); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".json", j.Bytes())
			golden(t, tc.name+".csv", c.Bytes())
			var p bytes.Buffer
			if err := WritePDF(&p, rs); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".pdf", p.Bytes())
			// Every report's obligation and every pending field shows in
			// the PDF's text.
			text := pdfText(t, p.Bytes())
			for _, r := range rs {
				if !strings.Contains(text, "== "+r.Obligation) {
					t.Errorf("PDF lacks the section of %s", r.Obligation)
				}
				for _, it := range r.Items {
					if it.Pending && !strings.Contains(text, it.Label+": "+Pending) {
						t.Errorf("PDF lacks pending field %q of %s", it.Label, r.Obligation)
					}
				}
			}
		})
	}
}

func TestReportMarksPendingNeverInvents(t *testing.T) {
	rs, err := Build(incident(), "cac", "summary", Options{Now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	// Recorded: measures_taken; everything else of the summary is pending.
	if r.PendingN != 5 {
		t.Fatalf("%d pending fields, want 5: %+v", r.PendingN, r.Items)
	}
	for _, it := range r.Items {
		if it.Pending != (it.Value == Pending) || (it.Field == "measures_taken") == it.Pending {
			t.Errorf("item %+v", it)
		}
	}
	if r.Late {
		t.Error("a summary due in January is late in December")
	}
}

func TestGDPRLateReportAsksForReasons(t *testing.T) {
	onTime, _ := Build(incident(), "gdpr", "", Options{Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)})
	late, _ := Build(incident(), "gdpr", "", Options{Now: time.Date(2026, 12, 8, 8, 0, 1, 0, time.UTC)})
	has := func(r Report) bool {
		for _, it := range r.Items {
			if it.Field == "late_reasons" {
				return true
			}
		}
		return false
	}
	if onTime[0].Late || has(onTime[0]) {
		t.Fatal("an on-time GDPR report asks for reasons for delay")
	}
	if !late[0].Late || !has(late[0]) {
		t.Fatal("a GDPR report 72 h + 1 s after awareness does not ask for reasons for delay")
	}
}

func TestNoReport(t *testing.T) {
	inc := incident()
	if _, err := Build(inc, "hipaa", "", Options{}); !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "no hipaa report obligation") {
		t.Fatalf("hipaa: %v", err)
	}
	if _, err := Build(inc, "cac", "supplement", Options{}); !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "it has: cac.initial, cac.summary") {
		t.Fatalf("missing version: %v", err)
	}
}

func TestWritePDFNoReports(t *testing.T) {
	if err := WritePDF(io.Discard, nil); err == nil {
		t.Fatal("WritePDF(nil) succeeded; want an error")
	}
}

var pdfLine = regexp.MustCompile(`(?m)Td (?:\((.*)\)|<([0-9A-F]+)>) Tj ET$`)

// pdfText returns the text lines of a PDF written by notifier/pdf: Latin
// lines are literal strings, CJK lines UTF-16BE hex.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	var lines []string
	for _, m := range pdfLine.FindAllSubmatch(b, -1) {
		if m[2] == nil {
			lines = append(lines, strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`).Replace(string(m[1])))
			continue
		}
		raw, err := hex.DecodeString(string(m[2]))
		if err != nil {
			t.Fatal(err)
		}
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		lines = append(lines, string(utf16.Decode(u)))
	}
	if len(lines) == 0 {
		t.Fatal("no text in the PDF")
	}
	return strings.Join(lines, "\n")
}
