package regime

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// condType is the type of a condition key's value.
type condType int

const (
	condCount     condType = iota // whole number ≥ 0
	condBool                      // true | false
	condOperators                 // list of operator kinds
	condGrades                    // list of grade names
)

// condKeys is the closed condition vocabulary of `when:`. Every key holds
// for an incident when the comparison with its value is true; a `when`
// mapping holds when all its keys hold.
var condKeys = map[string]condType{
	"people_gte":             condCount,
	"people_gt":              condCount,
	"people_lt":              condCount,
	"minors_gt":              condCount,
	"unreachable_gte":        condCount,
	"unreachable_gt":         condCount,
	"unreachable_lt":         condCount,
	"eu_residents_gt":        condCount,
	"people_in_any_state_gt": condCount,
	"high_risk":              condBool,
	"encrypted":              condBool,
	"phi":                    condBool,
	"sensitive":              condBool,
	"details_pending":        condBool,
	"covered_entity":         condBool,
	"operator":               condOperators,
	"grade_in":               condGrades,
}

// ConditionKeys lists the condition vocabulary, sorted.
func ConditionKeys() []string {
	ks := make([]string, 0, len(condKeys))
	for k := range condKeys {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// term is one condition key with its value.
type term struct {
	key   string
	n     int64
	b     bool
	words []string
	line  int
}

// cond is a conjunction of terms, in file order.
type cond struct {
	terms []term
}

func (c cond) has(key string) bool {
	return slices.ContainsFunc(c.terms, func(t term) bool { return t.key == key })
}

// decodeCond reads a `when:` mapping. Grade names are checked later, once
// every file's grading is known.
func (d *decoder) decodeCond(n *yaml.Node, path string) cond {
	var c cond
	m := d.mapOf(n, path, ConditionKeys()...)
	if m == nil {
		return c
	}
	for _, k := range m.keys {
		v, p := m.vals[k], join(path, k)
		t := term{key: k, line: v.Line}
		ok := false
		switch condKeys[k] {
		case condCount:
			t.n, ok = d.count(v, p)
		case condBool:
			t.b, ok = d.boolean(v, p)
		case condOperators:
			t.words, ok = d.words(v, p, strs(operators))
			if ok && len(t.words) == 0 {
				d.addf(v.Line, p, "must list at least one operator kind")
				ok = false
			}
		case condGrades:
			ok = d.list(v, p, func(it *yaml.Node, ip string) {
				if w, good := d.str(it, ip); good {
					t.words = append(t.words, w)
				}
			})
			if ok && len(t.words) == 0 {
				d.addf(v.Line, p, "must list at least one grade")
				ok = false
			}
		}
		if ok {
			c.terms = append(c.terms, t)
		}
	}
	return c
}

// evalInput is what conditions look at.
type evalInput struct {
	f     Facts
	p     Profile
	grade string
}

// eval reports whether every term holds, a human reason listing the values
// that decided, and (for people_in_any_state_gt) the matching states.
func (c cond) eval(in evalInput) (ok bool, why []string, states []string) {
	for _, t := range c.terms {
		hold, reason, st := t.eval(in)
		if !hold {
			return false, nil, nil
		}
		why = append(why, reason)
		if st != nil {
			states = st
		}
	}
	return true, why, states
}

func (t term) eval(in evalInput) (bool, string, []string) {
	f, p := in.f, in.p
	num := func(name string, v int64, op string, hold bool) (bool, string, []string) {
		return hold, fmt.Sprintf("%s %d %s %d", name, v, op, t.n), nil
	}
	flag := func(name string, v bool) (bool, string, []string) {
		return v == t.b, fmt.Sprintf("%s=%t", name, v), nil
	}
	switch t.key {
	case "people_gte":
		return num("people", f.People, "≥", f.People >= t.n)
	case "people_gt":
		return num("people", f.People, ">", f.People > t.n)
	case "people_lt":
		return num("people", f.People, "<", f.People < t.n)
	case "minors_gt":
		return num("minors", f.Minors, ">", f.Minors > t.n)
	case "unreachable_gte":
		return num("unreachable", f.Unreachable, "≥", f.Unreachable >= t.n)
	case "unreachable_gt":
		return num("unreachable", f.Unreachable, ">", f.Unreachable > t.n)
	case "unreachable_lt":
		return num("unreachable", f.Unreachable, "<", f.Unreachable < t.n)
	case "eu_residents_gt":
		return num("EU residents", f.EUResidents, ">", f.EUResidents > t.n)
	case "people_in_any_state_gt":
		var states, parts []string
		for _, st := range sortedKeys(f.PeopleByState) {
			if n := f.PeopleByState[st]; n > t.n {
				states = append(states, st)
				parts = append(parts, st+" "+strconv.FormatInt(n, 10))
			}
		}
		if len(states) == 0 {
			return false, "", nil
		}
		return true, fmt.Sprintf("people in %s > %d", strings.Join(parts, ", "), t.n), states
	case "high_risk":
		return flag("high_risk", f.HighRisk)
	case "encrypted":
		return flag("encrypted", f.Encrypted)
	case "phi":
		return flag("phi", f.PHI)
	case "sensitive":
		return flag("sensitive", f.Sensitive())
	case "details_pending":
		return flag("details_pending", f.DetailsPending)
	case "covered_entity":
		return flag("covered_entity", p.CoveredEntity)
	case "operator":
		return slices.Contains(t.words, string(p.Operator)), "operator=" + string(p.Operator), nil
	case "grade_in":
		return slices.Contains(t.words, in.grade), fmt.Sprintf("grade %s for %d people", in.grade, f.People), nil
	}
	return false, "", nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
