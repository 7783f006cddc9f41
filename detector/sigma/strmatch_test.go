package sigma

import (
	"strings"
	"testing"
)

func TestCompileWildcard(t *testing.T) {
	cases := []struct {
		v           string
		lead, trail bool
		kind        patKind
		lit         string
	}{
		{"abc", false, false, patExact, "abc"},
		{"", false, false, patExact, ""},
		{"abc*", false, false, patPrefix, "abc"},
		{"*abc", false, false, patSuffix, "abc"},
		{"*abc*", false, false, patContains, "abc"},
		{"abc", true, true, patContains, "abc"},
		{"abc", false, true, patPrefix, "abc"},
		{"abc", true, false, patSuffix, "abc"},
		{"*", false, false, patAny, ""},
		{"**", false, false, patAny, ""},
		{"", true, true, patAny, ""},
		{"a*b", false, false, patGlob, ""},
		{"a?c", false, false, patGlob, ""},
		{`a\*b`, false, false, patExact, "a*b"},
		{`a\?b`, false, false, patExact, "a?b"},
		{`a\\b`, false, false, patExact, `a\b`},
		{`a\b`, false, false, patExact, `a\b`},
		{`a\`, false, false, patExact, `a\`},
		{`a\\*`, false, false, patPrefix, `a\`},
		{`a\**`, false, false, patPrefix, `a*`},
		{`*\*`, false, false, patSuffix, `*`},
	}
	for _, tc := range cases {
		p := compileWildcard(tc.v, tc.lead, tc.trail, false)
		if p.kind != tc.kind || (tc.kind != patGlob && p.lit != tc.lit) {
			t.Errorf("compileWildcard(%q, %v, %v) = kind %d lit %q, want %d %q", tc.v, tc.lead, tc.trail, p.kind, p.lit, tc.kind, tc.lit)
		}
	}
}

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pat   string
		cased bool
		s     string
		want  bool
	}{
		{"abc", false, "ABC", true},
		{"abc", true, "ABC", false},
		{"a*c", false, "abbbc", true},
		{"a*c", false, "ac", true},
		{"a*c", false, "acb", false},
		{"a*b*c", false, "aXbYc", true},
		{"a*b*c", false, "aXcYb", false},
		{"*a*a*", false, "a", false},
		{"*a*a*", false, "aa", true},
		{"a?c", false, "abc", true},
		{"a?c", false, "ac", false},
		{"a?c", false, "aéc", true},
		{"?", false, "é", true},
		{"??", false, "é", false},
		{"*?", false, "", false},
		{"*?", false, "x", true},
		{"ab*", false, "ABX", true},
		{"*ab", false, "XAB", true},
		{"*ab", false, "ABX", false},
		{"x*ab", false, "xab", true},
		{"xa*ab", false, "xab", false}, // prefix and suffix may not overlap
		{"*é*", false, "CAFÉ", true},
		{"*\u212a*", false, "ok", true}, // Kelvin sign folds to k
		{"*k*", false, "o\u212a", true},
		{"*K*", true, "ok", false},
		{"straße", false, "STRASSE", false}, // simple folding only, as strings.EqualFold
		{"?b", false, "\xffb", true},        // invalid UTF-8 counts as one rune
		{"*ß", false, "Maß", true},
		{"ÅB*", false, "åbc", true},
	}
	for _, tc := range cases {
		p := compileWildcard(tc.pat, false, false, tc.cased)
		if got := p.match(tc.s); got != tc.want {
			t.Errorf("pattern %q (cased %v) on %q = %v, want %v", tc.pat, tc.cased, tc.s, got, tc.want)
		}
	}
}

// TestFoldAgreesWithEqualFold checks the case folding of the matchers
// against strings.EqualFold on whole strings.
func TestFoldAgreesWithEqualFold(t *testing.T) {
	words := []string{"a", "A", "é", "É", "k", "K", "\u212a", "σ", "Σ", "ς", "ß", "ẞ", "ǅ", "ǆ", "Ǆ", "i", "İ", "ı", "\xff", "\u0345", "ι", "Ι"}
	for _, a := range words {
		for _, b := range words {
			want := strings.EqualFold(a, b)
			if got := compileWildcard(b, false, false, false).match(a); got != want {
				t.Errorf("exact %q on %q = %v, EqualFold = %v", b, a, got, want)
			}
			if got := compileWildcard(b, true, true, false).match("x" + a + "y"); got != want {
				t.Errorf("contains %q on %q = %v, EqualFold = %v", b, "x"+a+"y", got, want)
			}
			if got := compileWildcard(b, true, false, false).match("x" + a); got != want {
				t.Errorf("endswith %q on %q = %v, EqualFold = %v", b, "x"+a, got, want)
			}
		}
	}
}

func TestLiteralComparisons(t *testing.T) {
	if !hasPrefixStr("Staff-42", "STAFF", true) || hasPrefixStr("Staff-42", "STAFF", false) {
		t.Error("hasPrefixStr")
	}
	if !hasSuffixStr("Staff-42", "F-42", true) || hasSuffixStr("x", "xx", true) {
		t.Error("hasSuffixStr")
	}
	if !containsStr("Staff-42", "AFF", true) || containsStr("Staff-42", "AFF", false) || !containsStr("Staff", "", false) {
		t.Error("containsStr")
	}
	if !equalStr("é", "É", true) || equalStr("é", "É", false) {
		t.Error("equalStr")
	}
	// A '?' or 0xFF byte in a compared value is a literal, not a wildcard.
	if containsStr("abc", "a?c", true) || containsStr("abc", "a\xffc", true) {
		t.Error("containsStr treats a literal as a wildcard")
	}
}
