package sigma

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/event"
)

// TestCase is one test of a rule, from the Vigil extension key "tests":
//
//	tests:
//	  base: {event fields shared by every case}
//	  match:   [ {event…}, … ]   # each must match
//	  nomatch: [ {event…}, … ]   # none may match
//
// Each case is merged over base (mappings merge key by key; a null in the
// case deletes the key of base; anything else replaces it) and must then
// be a valid event of the rule's service as senders post it (see
// event.DecodeAccess), so a test cannot use a field or value the
// collector would refuse.
type TestCase struct {
	// Match is true for a case of tests.match (the rule must match) and
	// false for tests.nomatch (it must not).
	Match bool
	// Index is the case's position in its list.
	Index int
	// File and Line locate the case.
	File string
	Line int
	// Event is the decoded event.
	Event Event
}

// Key returns the case's key path, "tests.match[2]".
func (tc TestCase) Key() string {
	if tc.Match {
		return index("tests.match", tc.Index)
	}
	return index("tests.nomatch", tc.Index)
}

// testValidator decodes test events without a clock: a test event may lie
// in the future.
var testValidator = event.Validator{MaxFutureSkew: -1}

// tests parses the tests extension of a rule of service svc.
func (c *docCtx) tests(n *yaml.Node, svc Service) []TestCase {
	entries, ok := c.mapping(n, "tests")
	if !ok {
		return nil
	}
	var base *yaml.Node
	var lists [2]*yaml.Node // match, nomatch
	for _, e := range entries {
		switch e.k.Value {
		case "base":
			if _, ok := c.mapping(e.v, "tests.base"); ok {
				base = e.v
			}
		case "match":
			lists[0] = e.v
		case "nomatch":
			lists[1] = e.v
		default:
			c.unknownKey(e.k, "tests", []string{"base", "match", "nomatch"})
		}
	}
	var out []TestCase
	for li, list := range lists {
		if list == nil {
			continue
		}
		name := "tests.match"
		if li == 1 {
			name = "tests.nomatch"
		}
		if list.Kind != yaml.SequenceNode {
			c.add(list, name, "want a list of events, got %s", kindName(list))
			continue
		}
		for i, e := range list.Content {
			key := index(name, i)
			if _, ok := c.mapping(e, key); !ok {
				continue
			}
			tc := TestCase{Match: li == 0, Index: i, File: c.file, Line: e.Line}
			data, err := toJSON(mergeNodes(base, e), nil)
			if err != nil {
				c.add(e, key, "%s", err.Error())
				continue
			}
			switch svc {
			case ServiceAccess:
				ev, probs := testValidator.DecodeAccess(data)
				if c.eventProblems(e, key, probs) {
					tc.Event = Access(&ev)
				}
			case ServiceDevice:
				ev, probs := testValidator.DecodeDevice(data)
				if c.eventProblems(e, key, probs) {
					tc.Event = Device(&ev)
				}
			}
			if tc.Event.Service() != "" {
				out = append(out, tc)
			}
		}
	}
	if nodeLen(lists[0]) == 0 && nodeLen(lists[1]) == 0 && !c.bad {
		c.add(n, "tests", "no test cases: add tests.match or tests.nomatch")
	}
	return out
}

// nodeLen returns the number of entries of a list node, 0 for nil.
func nodeLen(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return len(n.Content)
}

func (c *docCtx) eventProblems(n *yaml.Node, key string, probs event.Problems) bool {
	for _, p := range probs {
		if p.Path == "" {
			c.add(n, key, "not a valid event: %s", p.Reason)
		} else {
			c.add(n, key, "not a valid event: %s: %s", p.Path, p.Reason)
		}
	}
	return len(probs) == 0
}

// mergeNodes returns over merged onto base: mappings merge key by key (a
// null in over deletes the key), anything else in over replaces base.
func mergeNodes(base, over *yaml.Node) *yaml.Node {
	if base == nil || base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode {
		return over
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: over.Line, Column: over.Column}
	get := func(n *yaml.Node, k string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
		return nil
	}
	for i := 0; i+1 < len(base.Content); i += 2 {
		k, v := base.Content[i], base.Content[i+1]
		if o := get(over, k.Value); o != nil {
			if isNull(o) {
				continue
			}
			v = mergeNodes(v, o)
		}
		out.Content = append(out.Content, k, v)
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		if get(base, k.Value) == nil && !isNull(v) {
			out.Content = append(out.Content, k, v)
		}
	}
	return out
}

// toJSON appends the JSON form of a YAML node to b.
func toJSON(n *yaml.Node, b []byte) ([]byte, error) {
	switch n.Kind {
	case yaml.MappingNode:
		b = append(b, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = event.AppendJSONString(b, n.Content[i].Value)
			b = append(b, ':')
			var err error
			if b, err = toJSON(n.Content[i+1], b); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case yaml.SequenceNode:
		b = append(b, '[')
		for i, e := range n.Content {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = toJSON(e, b); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return append(b, "null"...), nil
		case "!!bool":
			return strconv.AppendBool(b, strings.EqualFold(n.Value, "true")), nil
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return strconv.AppendInt(b, i, 10), nil
			}
			return nil, fmt.Errorf("line %d: %s is not a 64-bit integer", n.Line, n.Value)
		case "!!float":
			x, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("line %d: %s is not a finite number", n.Line, n.Value)
			}
			return strconv.AppendFloat(b, x, 'f', -1, 64), nil
		case "!!str", "!!timestamp":
			return event.AppendJSONString(b, n.Value), nil
		}
		return nil, fmt.Errorf("line %d: YAML %s values have no JSON form", n.Line, n.Tag)
	}
	return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, kindName(n))
}

// TestResult is the outcome of one rule's test cases.
type TestResult struct {
	Rule  *Rule
	Cases []CaseResult
}

// Passed reports whether every case passed; a rule without cases passes.
func (t TestResult) Passed() bool {
	for _, c := range t.Cases {
		if !c.Passed {
			return false
		}
	}
	return true
}

// CaseResult is the outcome of one test case.
type CaseResult struct {
	TestCase
	Passed bool
	// Reason says why the case failed, with the result of every selection
	// on the event; empty when it passed.
	Reason string
}

// RunTests runs every test case of the rule.
func (r *Rule) RunTests() TestResult {
	res := TestResult{Rule: r, Cases: make([]CaseResult, 0, len(r.Tests))}
	for _, tc := range r.Tests {
		got := r.Match(tc.Event)
		cr := CaseResult{TestCase: tc, Passed: got == tc.Match}
		if !cr.Passed {
			want := "want a match, the rule did not match"
			if !tc.Match {
				want = "want no match, the rule matched"
			}
			var b strings.Builder
			for i, v := range r.explain(tc.Event) {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s=%t", r.selNames[i], v)
			}
			cr.Reason = fmt.Sprintf("%s: condition %q with %s", want, r.Condition, b.String())
		}
		res.Cases = append(res.Cases, cr)
	}
	return res
}

// RunTests runs the test cases of every detection rule, in load order,
// and returns one result per rule (rules without cases included).
func (s *Set) RunTests() []TestResult {
	out := make([]TestResult, 0, len(s.Rules))
	for _, r := range s.Rules {
		out = append(out, r.RunTests())
	}
	return out
}

// WriteTestReport writes results as a test runner does, one line per rule
// ("ok", "FAIL" or "none" for a rule without cases) and one indented line
// per failed case, then a summary line. It returns the number of rules
// that failed.
func WriteTestReport(w io.Writer, results []TestResult) (failed int, err error) {
	cases, failedCases := 0, 0
	var b strings.Builder
	for _, r := range results {
		status := "ok  "
		switch {
		case len(r.Cases) == 0:
			status = "none"
		case !r.Passed():
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(&b, "%s %s %q (%d cases) %s:%d\n", status, r.Rule.ID, r.Rule.Title, len(r.Cases), r.Rule.File, r.Rule.Line)
		for _, c := range r.Cases {
			cases++
			if !c.Passed {
				failedCases++
				fmt.Fprintf(&b, "    %s:%d %s: %s\n", c.File, c.Line, c.Key(), c.Reason)
			}
		}
	}
	fmt.Fprintf(&b, "%d rules, %d cases: %d cases failed in %d rules\n", len(results), cases, failedCases, failed)
	_, err = io.WriteString(w, b.String())
	if err != nil {
		err = fmt.Errorf("sigma: writing test report: %w", err)
	}
	return failed, err
}
