package sigma

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCondition(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"sel", "sel"},
		{"  sel\t", "sel"},
		{"a and b", "(a and b)"},
		{"a and b and c", "(a and b and c)"},
		{"a or b and c", "(a or (b and c))"},
		{"a and b or c", "((a and b) or c)"},
		{"(a or b) and c", "((a or b) and c)"},
		{"not a and b", "(not a and b)"},
		{"not (a and b)", "not (a and b)"},
		{"not not a", "not not a"},
		{"1 of sel*", "1 of sel*"},
		{"all of them", "all of them"},
		{"1 of them and not 1 of filter_*", "(1 of them and not 1 of filter_*)"},
		{"all of *_x or a-b", "(all of *_x or a-b)"},
		{"a\nand\nb", "(a and b)"},
		{"((a))", "a"},
	}
	for _, tc := range cases {
		n, err := parseCondition(tc.in)
		if err != nil {
			t.Errorf("parseCondition(%q): %v", tc.in, err)
			continue
		}
		if got := n.String(); got != tc.want {
			t.Errorf("parseCondition(%q) = %s, want %s", tc.in, got, tc.want)
		}
		again, err := parseCondition(n.String())
		if err != nil || again.String() != n.String() {
			t.Errorf("String of %q does not parse back to itself: %v, %v", tc.in, again, err)
		}
	}
}

func TestParseConditionErrors(t *testing.T) {
	cases := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "empty condition"},
		{"   ", 0, "empty condition"},
		{"sel and", 7, `got the end`},
		{"sel or or b", 7, `got the keyword "or"`},
		{"(sel", 4, `expected ")" to close the "(" at offset 0`},
		{"sel)", 3, `")" without a matching "("`},
		{"sel b", 4, `expected "and", "or" or the end, got "b"`},
		{"sel AND b", 4, `keywords are lower case: write "and"`},
		{"NOT sel", 0, `keywords are lower case: write "not"`},
		{"sel and Or", 8, `keywords are lower case: write "or", not "Or"`},
		{"1 sel", 2, `expected "of" after "1"`},
		{"all of", 6, `expected a selection name or pattern, got the end`},
		{"1 of (a)", 5, `got "("`},
		{"1 of and", 5, `got the keyword "and"`},
		{"2 of them", 0, `"2" is not a selection name`},
		{"sel*", 0, `wildcard in "sel*"`},
		{"them", 0, `got the keyword "them"`},
		{"sel | count() > 5", 4, "aggregations"},
		{"sel & b", 4, "unexpected character '&'"},
		{"sel and é", 8, "unexpected character"},
		{"()", 1, `got ")"`},
		{strings.Repeat("(", 70) + "a" + strings.Repeat(")", 70), 64, "deeper than 64"},
		{strings.Repeat("not ", 70) + "a", 256, "deeper than 64"},
		{strings.Repeat("a or ", 1000) + "a", MaxConditionLen, "longer than 4096 bytes"},
	}
	for _, tc := range cases {
		_, err := parseCondition(tc.in)
		var ce *condError
		if !errors.As(err, &ce) {
			t.Errorf("parseCondition(%q) = %v, want a condError", tc.in, err)
			continue
		}
		if ce.Pos != tc.pos || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("parseCondition(%q) = offset %d %q, want offset %d with %q", tc.in, ce.Pos, ce.Msg, tc.pos, tc.msg)
		}
	}
}

func TestResolve(t *testing.T) {
	names := []string{"sel_a", "sel_b", "filter", "_hidden"}
	cases := []struct {
		cond string
		sels []int // of the root, for quantifiers and names
		err  string
		used []bool
	}{
		{cond: "sel_a", sels: []int{0}, used: []bool{true, false, false, false}},
		{cond: "1 of sel_*", sels: []int{0, 1}, used: []bool{true, true, false, false}},
		{cond: "all of them", sels: []int{0, 1, 2}, used: []bool{true, true, true, false}},
		{cond: "1 of _*", sels: []int{3}, used: []bool{false, false, false, true}},
		{cond: "1 of *", sels: []int{0, 1, 2, 3}, used: []bool{true, true, true, true}},
		{cond: "sel_c", err: `unknown selection "sel_c" (did you mean "sel_a"?)`},
		{cond: "quite_different", err: `unknown selection "quite_different"`},
		{cond: "1 of x*", err: `pattern "x*" matches no selection`},
	}
	for _, tc := range cases {
		n, err := parseCondition(tc.cond)
		if err != nil {
			t.Fatal(err)
		}
		used := make([]bool, len(names))
		errs := n.resolve(names, used)
		if tc.err != "" {
			if len(errs) != 1 || errs[0].Msg != tc.err {
				t.Errorf("resolve(%q) = %v, want %q", tc.cond, errs, tc.err)
			}
			continue
		}
		if len(errs) > 0 {
			t.Errorf("resolve(%q): %v", tc.cond, errs[0])
			continue
		}
		if !equalInts(n.sels, tc.sels) || !equalBools(used, tc.used) {
			t.Errorf("resolve(%q): sels %v used %v, want %v %v", tc.cond, n.sels, used, tc.sels, tc.used)
		}
	}
	n, _ := parseCondition("1 of them")
	if errs := n.resolve([]string{"_only"}, make([]bool, 1)); len(errs) != 1 || !strings.Contains(errs[0].Msg, `"them" matches no selection`) {
		t.Errorf(`"them" with only hidden selections: %v`, errs)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidSelectionName(t *testing.T) {
	for _, s := range []string{"sel", "_x", "Sel-1", "a_b_c"} {
		if !validSelectionName(s) {
			t.Errorf("validSelectionName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "1", "1st", "and", "them", "all", "a b", "a*", "a.b", "é"} {
		if validSelectionName(s) {
			t.Errorf("validSelectionName(%q) = true", s)
		}
	}
}
