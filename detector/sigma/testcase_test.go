package sigma

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/event"
)

const runnerRules = `title: Export by billing
id: r-export
level: medium
logsource: {product: vigil, service: access}
detection:
  sel:
    action: export
  billing:
    actor.role: billing
  condition: sel and billing
tests:
  base:
    occurred_at: 2026-11-26T10:00:00Z
    org: hosp-1
    actor: {id: staff-1, type: staff, role: billing}
    action: export
    subject: {id: pt-1, type: patient}
    categories: [health]
    outcome: success
  match:
    - {}
    - {actor: {role: nurse}}
  nomatch:
    - {action: read}
    - {categories: [contact]}
---
title: Rooted device
id: r-rooted
level: low
logsource: {product: vigil, service: device}
detection:
  sel:
    signals.rooted: true
  condition: sel
tests:
  match:
    - occurred_at: 2026-11-26T10:00:00Z
      org: app-1
      account_id: a
      device_id: d
      kind: login
      outcome: success
      signals: {rooted: true}
---
title: Without tests
id: r-none
level: low
logsource: {product: vigil, service: access}
detection:
  sel:
    action: delete
  condition: sel
`

func TestRunTests(t *testing.T) {
	set, err := Load([]Source{{Name: "runner.yml", Data: []byte(runnerRules)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	results := set.RunTests()
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	export, rooted, none := results[0], results[1], results[2]
	if export.Passed() || !rooted.Passed() || !none.Passed() || len(none.Cases) != 0 {
		t.Errorf("Passed: export %v, rooted %v, none %v (%d cases)", export.Passed(), rooted.Passed(), none.Passed(), len(none.Cases))
	}
	var failed []string
	for _, c := range export.Cases {
		if !c.Passed {
			failed = append(failed, c.Key()+": "+c.Reason)
		}
		if c.Passed && c.Reason != "" {
			t.Errorf("%s passed with a reason", c.Key())
		}
	}
	want := []string{
		`tests.match[1]: want a match, the rule did not match: condition "sel and billing" with sel=true, billing=false`,
		`tests.nomatch[1]: want no match, the rule matched: condition "sel and billing" with sel=true, billing=true`,
	}
	if strings.Join(failed, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(failed, "\n"), strings.Join(want, "\n"))
	}
	if c := export.Cases[1]; c.File != "runner.yml" || c.Line != 22 || !c.Match || c.Index != 1 {
		t.Errorf("case location %s:%d match=%v index=%d", c.File, c.Line, c.Match, c.Index)
	}

	var b bytes.Buffer
	n, err := WriteTestReport(&b, results)
	if err != nil || n != 1 {
		t.Fatalf("WriteTestReport = %d, %v", n, err)
	}
	wantReport := `FAIL r-export "Export by billing" (4 cases) runner.yml:1
    runner.yml:22 tests.match[1]: want a match, the rule did not match: condition "sel and billing" with sel=true, billing=false
    runner.yml:25 tests.nomatch[1]: want no match, the rule matched: condition "sel and billing" with sel=true, billing=true
ok   r-rooted "Rooted device" (1 cases) runner.yml:27
none r-none "Without tests" (0 cases) runner.yml:45
3 rules, 5 cases: 2 cases failed in 1 rules
`
	if b.String() != wantReport {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), wantReport)
	}
	if _, err := WriteTestReport(failingWriter{}, results); err == nil || !strings.Contains(err.Error(), "writing test report") {
		t.Errorf("WriteTestReport to a failing writer = %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTestCaseMerge(t *testing.T) {
	src := ruleSource(ServiceAccess, "sel:\n  org: '*'\ncondition: sel") + `tests:
  base:
    occurred_at: 2026-11-26T10:00:00Z
    org: hosp-1
    actor: {id: staff-1, type: staff, role: billing, department: x}
    action: read
    subject: {id: pt-1, type: patient}
    categories: [health, contact]
    outcome: success
    attrs: {a: "1", b: "2"}
  match:
    - actor: {role: nurse, department: null}
      categories: [chat]
      attrs: {b: null, c: "3"}
      record_count: 12
`
	set, err := Load([]Source{{Name: "m.yml", Data: []byte(src)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := set.Rules[0].Tests[0].Event.Access
	if e.Actor.ID != "staff-1" || e.Actor.Role != "nurse" || e.Actor.Department != "" {
		t.Errorf("actor not merged: %+v", e.Actor)
	}
	if len(e.Categories) != 1 || e.Categories[0] != event.CategoryChat {
		t.Errorf("a list did not replace the base's: %v", e.Categories)
	}
	if len(e.Attrs) != 2 || e.Attrs["a"] != "1" || e.Attrs["c"] != "3" {
		t.Errorf("attrs not merged: %v", e.Attrs)
	}
	if e.RecordCount != 12 || e.Relationship != event.RelationshipUnknown {
		t.Errorf("record_count %d relationship %q", e.RecordCount, e.Relationship)
	}
}

func TestToJSON(t *testing.T) {
	cases := []struct {
		yaml, json, err string
	}{
		{"{a: 1, b: [true, null], c: 'x\"y', d: 1.5, e: 0x10, f: 2026-11-26}", `{"a":1,"b":[true,null],"c":"x\"y","d":1.5,"e":16,"f":"2026-11-26"}`, ""},
		{"a: TRUE", `{"a":true}`, ""},
		{"a: 1_000", `{"a":1000}`, ""},
		{"a: .inf", "", "not a finite number"},
		{"a: !!int 99999999999999999999", "", "not a 64-bit integer"},
		{"a: 99999999999999999999", `{"a":100000000000000000000}`, ""}, // yaml.v3 resolves it as a float
		{"a: !!binary aGk=", "", "have no JSON form"},
	}
	for _, tc := range cases {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
			t.Fatal(err)
		}
		got, err := toJSON(doc.Content[0], nil)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("toJSON(%s) = %s, %v; want error %q", tc.yaml, got, err, tc.err)
		case tc.err == "" && (err != nil || string(got) != tc.json):
			t.Errorf("toJSON(%s) = %s, %v; want %s", tc.yaml, got, err, tc.json)
		}
	}
}
