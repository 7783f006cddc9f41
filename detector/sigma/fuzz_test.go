package sigma

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseCondition checks that the condition parser never panics, that
// errors point into the input, and that a parsed condition prints to text
// that parses to the same tree.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"sel", "a and b or c", "not (a or b) and c", "1 of sel_* and not 1 of filter_*",
		"all of them", "1 of them or all of x*", "((a))", "not not a", "a\nand\tb",
		"(sel", "sel)", "sel and", "sel AND b", "sel | count() > 5", "2 of them", "sel*",
		"1 of (a)", "all of", "them", "a & b", strings.Repeat("(", 70) + "a" + strings.Repeat(")", 70),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := parseCondition(src)
		if err != nil {
			var ce *condError
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if ce.Pos < 0 || ce.Pos > max(len(src), MaxConditionLen) || ce.Msg == "" {
				t.Fatalf("error offset %d outside the input of %d bytes: %v", ce.Pos, len(src), err)
			}
			return
		}
		text := n.String()
		again, err := parseCondition(text)
		if err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", src, text, err)
		}
		if again.String() != text {
			t.Fatalf("%q parsed to %q, which parses to %q", src, text, again.String())
		}
	})
}

// FuzzLoad checks that loading never panics, that every problem says
// where and what, that loading is deterministic, and that a set that loads
// can be matched and tested.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/pack/access", "testdata/pack/device", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(ruleSource(ServiceAccess, "sel:\n  actor.role|contains|all: [a, b]\n  record_count|gte: 5\ncondition: sel")))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte(""))
	events := []Event{Access(baseAccess()), Device(baseDevice())}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := []Source{{Name: "f.yml", Data: data}}
		set, err := Load(src, Options{})
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("Load error %T without problems: %v", err, err)
			}
			lines := strings.Count(string(data), "\n") + 2
			for _, p := range le.Problems {
				if p.Reason == "" || (p.File != "f.yml" && !strings.Contains(p.Reason, "more problems")) || p.Line < 0 || p.Line > lines {
					t.Fatalf("bad problem %+v for %d lines", p, lines)
				}
			}
			_, err2 := Load(src, Options{})
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("a second load differs:\n%v\n%v", err, err2)
			}
			return
		}
		for _, ev := range events {
			set.Match(ev, nil)
		}
		set.RunTests()
		for _, c := range set.Correlations {
			for _, in := range c.Inputs {
				for _, ev := range events {
					if ev.Service() == in.Rule.Service {
						in.AppendGroupKey(nil, ev)
						in.AppendValue(nil, ev)
						in.Number(ev)
					}
				}
			}
		}
	})
}

// wildcardRegexp translates a Sigma plain value to a regular expression,
// independently of compileWildcard, as the reference for FuzzWildcard;
// with contains the value may stand anywhere in the string.
func wildcardRegexp(v string, fold, contains bool) string {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString(`(?s)\A`)
	if contains {
		b.WriteString(".*")
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v) && strings.IndexByte(`*?\`, v[i+1]) >= 0:
			b.WriteString(regexp.QuoteMeta(v[i+1 : i+2]))
			i++
		case c == '*':
			b.WriteString(".*")
		case c == '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(v[i : i+1]))
		}
	}
	if contains {
		b.WriteString(".*")
	}
	b.WriteString(`\z`)
	return b.String()
}

// FuzzWildcard compares the wildcard matcher with Go's regexp, whose case
// folding is the same simple Unicode folding.
func FuzzWildcard(f *testing.F) {
	for _, c := range [][2]string{
		{"abc", "ABC"}, {"a*c", "abbbc"}, {"*a*a*", "aa"}, {"a?c", "aéc"}, {`a\*b`, "a*b"},
		{`a\\*`, `a\bc`}, {"*\u212a*", "ok"}, {"x*ab", "xab"}, {"*ß", "MAß"}, {"??", "é"},
		{"*k*", "o\u212a"}, {"s*", "\u017fx"}, {"ǅ*", "ǆx"}, {"a*b?c*", "AXBYCZ"},
	} {
		f.Add(c[0], c[1], true)
		f.Add(c[0], c[1], false)
	}
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		if !utf8.ValidString(pat) || !utf8.ValidString(s) || len(pat) > 64 {
			return // rule text is UTF-8 (YAML), event strings are validated
		}
		re, err := regexp.Compile(wildcardRegexp(pat, fold, false))
		if err != nil {
			t.Fatalf("reference %q: %v", wildcardRegexp(pat, fold, false), err)
		}
		want := re.MatchString(s)
		if got := compileWildcard(pat, false, false, !fold).match(s); got != want {
			t.Fatalf("pattern %q (fold %v) on %q = %v, regexp says %v", pat, fold, s, got, want)
		}
		contains := compileWildcard(pat, true, true, !fold).match(s)
		// Built, not edited from the anchored one: replacing its first
		// `\z` would hit an escaped backslash before a z (pattern `\z`).
		reC := regexp.MustCompile(wildcardRegexp(pat, fold, true))
		if reC.MatchString(s) != contains {
			t.Fatalf("contains %q (fold %v) on %q = %v, regexp says %v", pat, fold, s, contains, !contains)
		}
	})
}
