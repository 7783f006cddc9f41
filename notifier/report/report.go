// Package report builds regulator reports from an incident record: one
// report per report obligation of a regime (CAC initial, supplement and
// 30-day summary; GDPR art. 33; HIPAA HHS and annual log …), each listing
// the fields its regime file requires with the values known so far.
// A field nobody has recorded yet is marked pending, never invented:
// "report what is known and supplement later" (CAC measures) and GDPR art.
// 33(4) phased reporting both expect exactly that.
//
// Values come from the incident's Fields (recorded by the DPO), then from
// what the record itself knows (discovery time, people and minors counted
// in the scope, data categories, the organisation). Formats: JSON, CSV
// (one row per field) and PDF (notifier/pdf).
package report

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/pdf"
)

// Pending is the value of a field not known yet.
const Pending = "PENDING"

// Item is one field of a report.
type Item struct {
	Field   string `json:"field"`
	Label   string `json:"label"`
	Value   string `json:"value"`
	Pending bool   `json:"pending,omitempty"`
	// Source says where the value came from: "recorded" (the DPO's
	// fields) or "derived" (the incident record).
	Source string `json:"source,omitempty"`
}

// Report is one regulator report of an incident.
type Report struct {
	IncidentID  string             `json:"incident_id"`
	Regime      string             `json:"regime"`
	Obligation  string             `json:"obligation"`
	Kind        string             `json:"kind"`
	Basis       string             `json:"basis,omitempty"`
	Grade       string             `json:"grade,omitempty"`
	Status      string             `json:"status"`
	DueAt       event.Timestamp    `json:"due_at"`
	GeneratedAt event.Timestamp    `json:"generated_at"`
	Late        bool               `json:"late,omitempty"`
	Items       []Item             `json:"items"`
	PendingN    int                `json:"pending_fields"`
	Submissions []event.Submission `json:"submissions,omitempty"`
}

// reportKinds are the obligation kinds that are reports to regulators
// (or records kept for them), not notices to people.
var reportKinds = []string{"regulator_report", "regulator_supplement", "summary_report", "hhs_report", "annual_log", "breach_record"}

// ErrNoReport: the incident has no report obligation of that regime (not
// confirmed yet, or the regime does not apply to its scope).
var ErrNoReport = errors.New("no report obligation")

// Options adds what the record does not hold.
type Options struct {
	// OrgName names the reporting unit of an org id; nil uses the id.
	OrgName func(org string) string
	// Now is the time of generation (zero: time.Now()).
	Now time.Time
}

// Build returns the reports of regime ("cac", "gdpr", "hipaa", or any
// obligation id prefix) for inc, in deadline order; version, when set,
// keeps only the obligation whose id ends with it ("initial",
// "supplement", "summary", "hhs", "annual_log" …).
func Build(inc *event.Incident, regime, version string, opts Options) ([]Report, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	derived := derive(inc, opts)
	var out []Report
	var have []string
	for _, o := range inc.Obligations {
		if !slices.Contains(reportKinds, o.Kind) || !(strings.HasPrefix(o.ID, regime+".") || o.Regime == regime) {
			continue
		}
		have = append(have, o.ID)
		if version != "" && !strings.HasSuffix(o.ID, "."+version) && !strings.HasSuffix(o.ID, "_"+version) {
			continue
		}
		r := Report{IncidentID: inc.IncidentID, Regime: regime, Obligation: o.ID, Kind: o.Kind, Basis: o.Basis, Grade: o.Grade,
			Status: string(o.Status), DueAt: o.DueAt, GeneratedAt: event.NewTimestamp(now)}
		r.Late = !o.DueAt.IsZero() && now.After(o.DueAt.Time) && o.Status.Pending()
		fields := o.Fields
		if r.Late && regime == "gdpr" && !slices.Contains(fields, "late_reasons") {
			fields = append(slices.Clone(fields), "late_reasons") // art. 33(1): reasons for the delay
		}
		for _, f := range fields {
			it := Item{Field: f, Label: label(f)}
			switch {
			case strings.TrimSpace(inc.Fields[f]) != "":
				it.Value, it.Source = inc.Fields[f], "recorded"
			case derived[f] != "":
				it.Value, it.Source = derived[f], "derived"
			default:
				it.Value, it.Pending = Pending, true
				r.PendingN++
			}
			r.Items = append(r.Items, it)
		}
		for _, s := range inc.Submissions {
			if s.Obligation == o.ID {
				r.Submissions = append(r.Submissions, s)
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		if len(have) > 0 {
			return nil, fmt.Errorf("%w: incident %s has no %s report %q (it has: %s)", ErrNoReport, inc.IncidentID, regime, version, strings.Join(have, ", "))
		}
		return nil, fmt.Errorf("%w: incident %s (%s) has no %s report obligation", ErrNoReport, inc.IncidentID, inc.State, regime)
	}
	slices.SortStableFunc(out, func(a, b Report) int { return a.DueAt.Compare(b.DueAt.Time) })
	return out, nil
}

// derive is what the incident record itself says about report fields.
func derive(inc *event.Incident, opts Options) map[string]string {
	org := inc.Org
	if opts.OrgName != nil {
		org = opts.OrgName(inc.Org)
	}
	cats := make([]string, len(inc.Scope.Categories))
	for i, c := range inc.Scope.Categories {
		cats[i] = string(c)
	}
	d := map[string]string{
		"reporting_unit": org,
		"org_name":       org,
	}
	if !inc.AwareAt.IsZero() {
		d["discovery_time"] = inc.AwareAt.String()
		d["discovered_at"] = inc.AwareAt.String()
		d["discovery_date"] = inc.AwareAt.UTC().Format("2006-01-02")
	}
	if !inc.WindowStart.IsZero() {
		d["occurred_at"] = inc.WindowStart.String() + " – " + inc.WindowEnd.String()
		d["breach_date"] = inc.WindowStart.UTC().Format("2006-01-02")
	}
	if inc.Scope.People > 0 || !inc.AwareAt.IsZero() {
		d["subjects_approx"] = strconv.FormatInt(inc.Scope.People, 10)
		d["people_affected"] = strconv.FormatInt(inc.Scope.People, 10)
		d["minors_affected"] = strconv.FormatInt(inc.Scope.Minors, 10)
	}
	if len(cats) > 0 {
		d["pi_types"] = strings.Join(cats, ", ")
		d["phi_types"] = strings.Join(cats, ", ")
		d["subject_categories"] = "patients and users whose records were accessed: " + strings.Join(cats, ", ")
	}
	return d
}

var labels = map[string]string{
	"reporting_unit": "Reporting unit", "affected_system": "Affected system", "discovery_time": "Time of discovery",
	"discovery_place": "Place of discovery", "incident_type": "Incident type", "impact": "Impact",
	"harm_so_far": "Harm so far", "measures_taken": "Measures taken", "measures_effect": "Effect of the measures",
	"trend": "Trend and possible further harm", "preliminary_cause": "Preliminary cause",
	"tracing_clues": "Tracing clues (attacker, path, vulnerability)", "further_measures": "Further measures",
	"support_requested": "Support requested", "evidence_preservation": "Evidence preservation",
	"cause": "Cause", "harm": "Harm", "accountability": "Accountability", "rectification": "Rectification",
	"lessons": "Lessons learned", "nature": "(a) Nature of the breach", "subject_categories": "(a) Categories of data subjects",
	"subjects_approx": "(a) Approximate number of data subjects", "records_approx": "(a) Approximate number of records",
	"dpo_contact": "(b) DPO or contact point", "consequences": "(c) Likely consequences",
	"measures": "(d) Measures taken or proposed", "late_reasons": "Reasons for the delay (art. 33(1))",
	"what_happened": "What happened", "breach_date": "Date of the breach", "discovery_date": "Date of discovery",
	"phi_types": "Types of PHI involved", "steps_individuals": "Steps individuals should take",
	"entity_actions": "What the entity is doing", "contact_procedures": "Contact procedures",
	"people_affected": "People affected", "minors_affected": "Minors (under 14) affected",
	"pi_types": "Types of personal information", "facts": "Facts", "occurred_at": "Time of occurrence",
}

func label(f string) string {
	if l, ok := labels[f]; ok {
		return l
	}
	return strings.ReplaceAll(f, "_", " ")
}

// WriteJSON writes the reports as one indented JSON array.
func WriteJSON(w io.Writer, rs []Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

// WriteCSV writes one row per field of each report, with a header.
// Values starting with = + - @ are quoted against formula injection in
// spreadsheets.
func WriteCSV(w io.Writer, rs []Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"incident_id", "regime", "obligation", "status", "due_at", "late", "field", "label", "value", "pending"})
	for _, r := range rs {
		for _, it := range r.Items {
			_ = cw.Write([]string{r.IncidentID, r.Regime, r.Obligation, r.Status, r.DueAt.String(), strconv.FormatBool(r.Late),
				it.Field, it.Label, safeCell(it.Value), strconv.FormatBool(it.Pending)})
		}
	}
	cw.Flush()
	return cw.Error()
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WritePDF writes the reports as one printable PDF: a section per report
// (obligation, kind, grade, status, deadline), then every field as
// "label: value" — pending fields say so — and the submissions recorded.
// The output is deterministic for the same reports.
func WritePDF(w io.Writer, rs []Report) error {
	if len(rs) == 0 {
		return errors.New("report: no report to write")
	}
	d := pdf.Document{Title: fmt.Sprintf("Incident %s: %s report", rs[0].IncidentID, strings.ToUpper(rs[0].Regime)), Created: rs[0].GeneratedAt.Time}
	for _, r := range rs {
		head := fmt.Sprintf("%s (%s)", r.Obligation, strings.ReplaceAll(r.Kind, "_", " "))
		if r.Grade != "" {
			head += ", grade " + r.Grade
		}
		head += fmt.Sprintf("\nStatus: %s. Due: %s.", r.Status, r.DueAt.String())
		if r.Late {
			head += " LATE."
		}
		if r.Basis != "" {
			head += "\nBasis: " + r.Basis
		}
		if r.PendingN > 0 {
			head += fmt.Sprintf("\n%d field(s) pending: marked %s below, to be completed in a supplementary report.", r.PendingN, Pending)
		}
		d.Paragraphs = append(d.Paragraphs, "== "+head)
		for _, it := range r.Items {
			d.Paragraphs = append(d.Paragraphs, it.Label+": "+it.Value)
		}
		for _, s := range r.Submissions {
			d.Paragraphs = append(d.Paragraphs, fmt.Sprintf("Submitted (%s): reference %s, %s, by %s", cmp.Or(s.Version, "-"), s.Reference, s.At.String(), s.By))
		}
	}
	d.Paragraphs = append(d.Paragraphs, fmt.Sprintf("Generated by Vigil at %s.", rs[0].GeneratedAt.String()))
	return pdf.Write(w, d)
}
