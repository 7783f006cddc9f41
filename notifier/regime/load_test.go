package regime

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// renderPlan prints a plan one obligation per block, for golden files.
func renderPlan(obs []Obligation) string {
	var b strings.Builder
	for _, o := range obs {
		fmt.Fprintf(&b, "%s (%s) %s -> %s ×%d", o.ID, o.Regime, o.Kind, o.Recipient, o.Recipients)
		if len(o.States) > 0 {
			fmt.Fprintf(&b, " states=%s", strings.Join(o.States, ","))
		}
		b.WriteString("\n")
		due := "-"
		if !o.Due.IsZero() {
			due = o.Due.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "  due: %s (%s)", due, o.DueRule)
		if o.WaitingFor != "" {
			fmt.Fprintf(&b, " waiting for %s", o.WaitingFor)
		}
		b.WriteString("\n")
		if o.Authority != "" {
			fmt.Fprintf(&b, "  authority: %s\n", o.Authority)
		}
		if o.Grade != "" {
			fmt.Fprintf(&b, "  grade: %s\n", o.Grade)
		}
		fmt.Fprintf(&b, "  approval: %s\n  fields: %s\n", o.Approval, strings.Join(o.Fields, ", "))
		if len(o.LateFields) > 0 {
			fmt.Fprintf(&b, "  late fields: %s\n", strings.Join(o.LateFields, ", "))
		}
		chs := make([]string, len(o.Channels))
		for i, c := range o.Channels {
			chs[i] = string(c)
		}
		if len(chs) == 0 {
			chs = []string{"(none: exported and submitted by hand)"}
		}
		fmt.Fprintf(&b, "  channels: %s\n  why: %s\n  basis: %s\n", strings.Join(chs, " -> "), o.Why, o.Basis)
		if o.KeepFor.N > 0 {
			fmt.Fprintf(&b, "  keep for: %s\n", o.KeepFor)
		}
		for _, n := range o.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
		if o.Waivable {
			fmt.Fprintf(&b, "  waivable when: %s\n", o.WaiverRule)
		}
		if o.Unverified != "" {
			fmt.Fprintf(&b, "  unverified: %s\n", o.Unverified)
		}
	}
	return b.String()
}

// TestBadFiles loads each testdata/bad/*.bad.yaml alone and checks that
// every expected problem (file:line: key: reason) is reported, and nothing
// else.
func TestBadFiles(t *testing.T) {
	cases := map[string][]string{
		"alias.bad.yaml": {
			"alias.bad.yaml:8: YAML anchors and aliases (&, *) are not allowed in regime files; write the value out",
			"alias.bad.yaml:18: YAML anchors and aliases (&, *) are not allowed in regime files; write the value out",
		},
		"channels.bad.yaml": {
			"channels.bad.yaml:12: obligations[0].channels: kind regulator_report is exported and submitted by hand: write channels: []",
			"channels.bad.yaml:21: obligations[1].fields: child_name belongs only in a guardian_notice",
			"channels.bad.yaml:22: obligations[1].channels: kind individual_notice is delivered: list at least one channel",
		},
		"deadline.bad.yaml": {
			"deadline.bad.yaml:9: obligations[0].deadline: give exactly one of after, after_by_operator or open (found 2)",
			`deadline.bad.yaml:21: obligations[1].deadline.after_by_operator.cii: "0h" is not a duration: the number must be a whole number from 1 to 100000`,
			"deadline.bad.yaml:21: obligations[1].deadline.after_by_operator.state_organ: required key is missing",
		},
		"duplicate_key.bad.yaml": {
			"duplicate_key.bad.yaml:6: obligations[0].kind: duplicate key",
		},
		"empty.bad.yaml": {
			"empty.bad.yaml: empty file",
		},
		"grades.bad.yaml": {
			"grades.bad.yaml:7: grading.grades[1].people_gte: grades must be listed from the highest threshold down; 1000000 is not below 1000",
			`grades.bad.yaml:14: obligations[0].when.grade_in: "enormous" is not a grade; grades: big, huge, small`,
			`grades.bad.yaml:20: obligations[1].follows: "test.later" is not an obligation listed earlier in this file`,
		},
		"many.bad.yaml": {
			`many.bad.yaml:1: regime: "Test" is not a regime id (lower-case letters, digits, _)`,
			"many.bad.yaml:1: title: required key is missing",
			`many.bad.yaml:3: obligations[0].id: "individual" is not an obligation id like pipl.individual (<regime>.<name>, lower-case)`,
			"many.bad.yaml:5: obligations[0].recipient: kind individual_notice goes to recipient individual, not regulator",
			`many.bad.yaml:6: obligations[0].recipients: "everyone" is not one of each_person, each_eu_resident, each_minor, each_unreachable, each_state, one`,
			"many.bad.yaml:7: obligations[0].when.minor_gt: unknown key; allowed here: covered_entity, details_pending, encrypted, eu_residents_gt, grade_in, high_risk, minors_gt, operator, people_gt, people_gte, people_in_any_state_gt, people_lt, phi, sensitive, unreachable_gt, unreachable_gte, unreachable_lt",
			"many.bad.yaml:7: obligations[0].when.people_gte: must not be negative, got -1",
			`many.bad.yaml:7: obligations[0].when.high_risk: must be true or false, got "yes"`,
			`many.bad.yaml:7: obligations[0].when.operator[1]: "private" is not one of ordinary, cii, state_organ`,
			`many.bad.yaml:9: obligations[0].deadline.from: "discovery" is not one of aware, handling_ended, year_end`,
			`many.bad.yaml:10: obligations[0].deadline.after: "4 hours" is not a duration: the unit must be m (minutes), h (hours) or d (calendar days)`,
			"many.bad.yaml:11: obligations[0].approval: kind individual_notice must be approved before it is sent: name a role (dpo)",
			`many.bad.yaml:12: obligations[0].fields[1]: "colour" is not one of facts,`,
			`many.bad.yaml:12: obligations[0].fields[2]: "facts" is listed twice`,
			`many.bad.yaml:13: obligations[0].channels[1]: "fax" is not one of email, sms, push, letter, phone, public_announcement`,
			"many.bad.yaml:3: obligations[0].basis: required key is missing",
		},
		"substitute.bad.yaml": {
			"substitute.bad.yaml:16: obligations[0].substitute.cases[0].kind: a substitute must be a notice to people or the public, not kind hhs_report",
			`substitute.bad.yaml:21: obligations[0].substitute.cases[0].keep_for: "3 months" is not a duration: the unit must be m (minutes), h (hours) or d (calendar days)`,
		},
		"syntax.bad.yaml": {
			"syntax.bad.yaml:2: cannot parse YAML: mapping values are not allowed in this context",
		},
		"two_docs.bad.yaml": {
			"two_docs.bad.yaml:4: only one YAML document per file (remove the second ---)",
		},
		"unknown_key.bad.yaml": {
			"unknown_key.bad.yaml:9: obligations[0].deadlin: unknown key; allowed here: id, kind,",
			"unknown_key.bad.yaml:4: obligations[0].deadline: required key is missing",
		},
	}
	files, err := filepath.Glob("testdata/bad/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Errorf("%d bad files, %d cases: every bad file needs its expected problems", len(files), len(cases))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := cases[name]
			if !ok {
				t.Fatalf("no expected problems for %s", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Load(fstest.MapFS{name: {Data: data}})
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, %v; want an *Error", s, err)
			}
			if s != nil {
				t.Error("a Set came back with an error")
			}
			if len(le.Problems) != len(want) {
				t.Errorf("%d problems, want %d:\n%v", len(le.Problems), len(want), err)
			}
			for i, w := range want {
				if i < len(le.Problems) && !strings.HasPrefix(le.Problems[i].String(), w) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, le.Problems[i], w)
				}
			}
		})
	}
}

func TestLoadAcrossFiles(t *testing.T) {
	rule := func(id string) string {
		return "  - id: " + id + `
    kind: regulator_report
    recipient: regulator
    recipients: one
    when: {}
    deadline: {from: aware, after: 4h}
    approval: dpo
    fields: [nature]
    channels: []
    basis: test
`
	}
	grading := "grading:\n  basis: t\n  grades: [{grade: big, label: big, people_gte: 10}]\n  otherwise: {grade: small, label: small}\n"
	fsys := fstest.MapFS{
		"a.yaml": {Data: []byte("regime: a\ntitle: A\n" + grading + "obligations:\n" + rule("x.one"))},
		"b.yaml": {Data: []byte("regime: a\ntitle: B\n" + grading + "obligations:\n" + rule("x.one"))},
	}
	_, err := Load(fsys)
	for _, want := range []string{
		`b.yaml: regime: regime "a" is also defined in a.yaml`,
		"b.yaml: grading: only one regime file may define grading (also in a.yaml)",
		`b.yaml:8: obligations[0].id: obligation id "x.one" is already used in a.yaml`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
	if _, err := Load(fstest.MapFS{"readme.md": {Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "no *.yaml regime files") {
		t.Errorf("empty folder: %v", err)
	}
	big := fstest.MapFS{"big.yaml": {Data: []byte(strings.Repeat("#", MaxFileBytes+1))}}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	noGrading := fstest.MapFS{"c.yaml": {Data: []byte("regime: c\ntitle: C\nobligations:\n" + strings.Replace(rule("c.one"), "when: {}", "when: {grade_in: [big]}", 1))}}
	if _, err := Load(noGrading); err == nil || !strings.Contains(err.Error(), "c.yaml:8: obligations[0].when.grade_in: no regime file defines grading") {
		t.Errorf("grade_in without grading: %v", err)
	}
}

// TestChangedFile: a lawyer's edit of a value changes the plan, with no
// code change.
func TestChangedFile(t *testing.T) {
	def := defaultSet(t)
	changed, err := LoadDir("testdata/changed")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	f, p, c := Facts{People: 1_000_000}, profile(OperatorOrdinary, "pipl"), Clocks{Aware: aware}
	if got := planMap(t, def, f, p, c)["cac.initial"].Due; !got.Equal(aware.Add(4 * time.Hour)) {
		t.Errorf("default cac.initial due %v, want aware+4h", got)
	}
	if got := planMap(t, changed, f, p, c)["cac.initial"].Due; !got.Equal(aware.Add(3 * time.Hour)) {
		t.Errorf("changed cac.initial due %v, want aware+3h", got)
	}
	small := Facts{People: 600_000}
	if _, ok := planMap(t, def, small, p, c)["cac.initial"]; ok {
		t.Error("default: 600,000 people should be 一般 with no CAC report")
	}
	if got := changed.Grade(600_000); got != "较大" {
		t.Errorf("changed Grade(600000) = %q, want 较大", got)
	}
	if _, ok := planMap(t, changed, small, p, c)["cac.initial"]; !ok {
		t.Error("changed: 600,000 people should now be reported")
	}
}

func TestLoadDirNamesFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("regime: x\ntitle: X\nobligations: []\nextra: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	want := filepath.Join(dir, "x.yaml") + ":4: extra: unknown key"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("LoadDir error %v\nlacks %q", err, want)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "x.yaml")+":3: obligations: must list at least one obligation") {
		t.Errorf("LoadDir error %v lacks the empty obligations problem", err)
	}
}

// The default files and the package's vocabulary must agree with the
// shipped defaults: every file loads from the embedded FS and from disk.
func TestEmbeddedMatchesDisk(t *testing.T) {
	emb, err := fs.Glob(FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	disk, err := filepath.Glob("../regimes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(emb) != len(disk) || len(emb) != 3 {
		t.Fatalf("embedded %v, on disk %v", emb, disk)
	}
	if _, err := LoadDir("../regimes"); err != nil {
		t.Fatalf("LoadDir(../regimes): %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"../regimes", "testdata/bad", "testdata/changed"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("regime: a\ntitle: b\nobligations: [{id: a.b, when: {people_gte: 99999999999999999999}}]\n"))
	f.Add([]byte("- [&a x, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(fstest.MapFS{"f.yaml": {Data: data}})
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("error is not a non-empty *Error: %v", err)
			}
			if s != nil {
				t.Fatal("Set and error together")
			}
			return
		}
		// A file that loads must plan without panicking.
		facts := Facts{People: 1000, Minors: 10, Unreachable: 20, EUResidents: 5, HighRisk: true, PHI: true,
			PeopleByState: map[string]int64{"CA": 600}}
		for _, op := range Operators() {
			p := Profile{Operator: op, CoveredEntity: true, Jurisdictions: s.Regimes(), DPO: "dpo"}
			if _, err := s.Plan(facts, p, Clocks{Aware: aware}); err != nil {
				t.Fatalf("Plan on a loaded set: %v", err)
			}
		}
	})
}
