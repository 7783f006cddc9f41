package sigma_test

import (
	"fmt"
	"os"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

// Load a rule, match an event in the org's time zone.
func Example() {
	const rule = `title: Bulk export of health data in the day
id: example-bulk-export
level: high
logsource: {product: vigil, service: access}
detection:
  selection:
    action: [export, download]
    record_count|gte: 1000
    categories: health
  night:
    occurred_at|hour: [22, 23, 0, 1, 2, 3, 4, 5]
  condition: selection and not night
`
	set, err := sigma.Load([]sigma.Source{{Name: "export.yml", Data: []byte(rule)}}, sigma.Options{
		TimeZones: map[string]*time.Location{"hosp-1": time.FixedZone("CST", 8*3600)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := &event.AccessEvent{
		OccurredAt:  event.NewTimestamp(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)), // 14:00 in hosp-1
		Org:         "hosp-1",
		Actor:       event.Actor{ID: "staff-42", Type: event.ActorStaff},
		Action:      event.ActionExport,
		Categories:  []event.Category{event.CategoryHealth},
		RecordCount: 2500,
		Outcome:     event.OutcomeSuccess,
	}
	for _, r := range set.Match(sigma.Access(ev), nil) {
		fmt.Println("match:", r.ID, r.Severity)
	}
	// Output:
	// match: example-bulk-export high
}

// Every problem of a rule set comes back at once, with file, line and
// column.
func ExampleLoad_problems() {
	const rule = `title: Bulk export
id: example-bad
level: severe
logsource: {product: vigil, service: access}
detection:
  selection:
    action: exprot
    record_count|gte: many
    actor.rol|contains: billing
  condition: selection and not filter
`
	_, err := sigma.Load([]sigma.Source{{Name: "bad.yml", Data: []byte(rule)}}, sigma.Options{})
	fmt.Println(err)
	// Output:
	// sigma: 5 problems in rule set:
	//   bad.yml:3:8: rule example-bad: level: "severe" is not one of informational, low, medium, high, critical
	//   bad.yml:7:13: rule example-bad: detection.selection.action: "exprot" matches no value of action (read|search|export|print|download|update|delete|share|login|break_glass)
	//   bad.yml:8:23: rule example-bad: detection.selection.record_count|gte: want a number, got "many"
	//   bad.yml:9:5: rule example-bad: detection.selection.actor.rol|contains: unknown field "actor.rol" for logsource service access (did you mean "actor.role"?)
	//   bad.yml:10:32: rule example-bad: detection.condition: unknown selection "filter"
}

// Run the test cases of a rule set and print them as "vigil rules test"
// does.
func ExampleWriteTestReport() {
	const rule = `title: Night reads
id: example-night
level: low
logsource: {product: vigil, service: access}
detection:
  night:
    occurred_at|hour|gte: 22
  condition: night
tests:
  base:
    occurred_at: 2026-11-26T23:00:00Z
    org: hosp-1
    actor: {id: staff-42, type: staff}
    action: read
    subject: {id: pt-9, type: patient}
    categories: [health]
    outcome: success
  match:
    - {}
    - {occurred_at: "2026-11-26T02:00:00Z"}
  nomatch:
    - {occurred_at: "2026-11-26T12:00:00Z"}
`
	set, err := sigma.Load([]sigma.Source{{Name: "night.yml", Data: []byte(rule)}}, sigma.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := sigma.WriteTestReport(os.Stdout, set.RunTests()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// FAIL example-night "Night reads" (3 cases) night.yml:1
	//     night.yml:20 tests.match[1]: want a match, the rule did not match: condition "night" with night=false
	// 1 rules, 3 cases: 1 cases failed in 1 rules
}

// The windowed correlation runtime feeds each match of a rule to the
// rule's correlations, grouped by AppendGroupKey.
func ExampleCorrelationInput_AppendGroupKey() {
	const rules = `title: Login failed
id: login-failed
logsource: {product: vigil, service: access}
detection:
  sel:
    action: login
    outcome: denied
  condition: sel
---
title: Password guessing
id: login-bruteforce
level: high
correlation:
  type: event_count
  rules: [login-failed]
  group-by: [actor.id]
  timespan: 10m
  condition: {gte: 5}
`
	set, err := sigma.Load([]sigma.Source{{Name: "login.yml", Data: []byte(rules)}}, sigma.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := sigma.Access(&event.AccessEvent{Org: "hosp-1", Actor: event.Actor{ID: "staff-42"},
		Action: event.ActionLogin, Outcome: event.OutcomeDenied})
	for _, r := range set.Match(ev, nil) {
		fmt.Println("standalone alert:", r.Standalone)
		for _, c := range r.Correlations {
			for _, in := range c.Inputs {
				if in.Rule == r {
					fmt.Printf("%s: group %s, window %v, alert when the count is %s\n", c.ID, in.AppendGroupKey(nil, ev), c.Timespan, c.Condition)
				}
			}
		}
	}
	// Output:
	// standalone alert: false
	// login-bruteforce: group hosp-1/staff-42, window 10m0s, alert when the count is gte 5
}
