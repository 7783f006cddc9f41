package sigma

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/errors.golden")

// TestLoadErrorsGolden loads each file of testdata/bad on its own and
// compares every problem reported with testdata/errors.golden.
func TestLoadErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad rule files: %v", err)
	}
	var out strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		set, err := Load([]Source{{Name: filepath.Base(f), Data: data}}, Options{})
		var le *LoadError
		if !errors.As(err, &le) {
			t.Errorf("%s: Load = %v, %v; want a *LoadError", f, set, err)
			continue
		}
		if set != nil {
			t.Errorf("%s: Load returned a Set with problems", f)
		}
		out.WriteString("== " + filepath.Base(f) + "\n")
		for _, p := range le.Problems {
			if p.Line == 0 && !strings.Contains(p.Reason, "more problems") {
				t.Errorf("%s: problem without a line: %s", f, p)
			}
			out.WriteString(p.String() + "\n")
		}
	}
	golden := filepath.Join("testdata", "errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestLoadErrorsGolden -update to create it)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("problems differ from %s (rerun with -update after checking):\n%s", golden, diffLines(string(want), got))
	}
}

// diffLines lists the lines only in want (-) and only in got (+).
func diffLines(want, got string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// TestLoadReportsEveryProblem checks that problems of several rules and
// files come together, sorted, and that Load returns no Set.
func TestLoadReportsEveryProblem(t *testing.T) {
	good := ruleSource(ServiceAccess, "sel:\n  action: read\ncondition: sel")
	srcs := []Source{
		{Name: "b.yml", Data: []byte(strings.Replace(good, "action: read", "action: raed", 1))},
		{Name: "a.yml", Data: []byte(strings.Replace(good, "id: t", "id: u", 1) + "---\n" +
			strings.Replace(strings.Replace(good, "id: t", "id: v", 1), "condition: sel", "condition: sel or", 1))},
	}
	_, err := Load(srcs, Options{})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load = %v, want a *LoadError", err)
	}
	var got []string
	for _, p := range le.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`a.yml:17:20: rule v: detection.condition: expected a selection name, "(", "not", "1 of" or "all of", got the end`,
		`b.yml:7:13: rule t: detection.sel.action: "raed" matches no value of action (read|search|export|print|download|update|delete|share|login|break_glass)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "sigma: 2 problems in rule set:\n  a.yml:17:20") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestLoadFS(t *testing.T) {
	good := ruleSource(ServiceAccess, "sel:\n  action: read\ncondition: sel")
	fsys := fstest.MapFS{
		"b/rule.yaml":      {Data: []byte(strings.Replace(good, "id: t", "id: b", 1))},
		"a.yml":            {Data: []byte(good)},
		"README.md":        {Data: []byte("not a rule")},
		".hidden/x.yml":    {Data: []byte("not: [valid")},
		"c.yml":            {Data: []byte("# only a comment\n")},
		"d.yml":            {Data: []byte("---\n---\n")},
		"big/too-big.yaml": {Data: []byte(strings.Repeat("#", MaxFileBytes+1))},
	}
	_, err := LoadFS(fsys, Options{})
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 1 || le.Problems[0].File != "big/too-big.yaml" {
		t.Fatalf("LoadFS = %v, want one problem with big/too-big.yaml", err)
	}
	delete(fsys, "big/too-big.yaml")
	set, err := LoadFS(fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 2 || set.Rules[0].ID != "t" || set.Rules[1].File != "b/rule.yaml" {
		t.Errorf("rules loaded in the wrong order or from the wrong files: %v, %v", set.Rules[0].File, set.Rules[1].File)
	}

	_, err = LoadFS(fstest.MapFS{"README.md": {Data: []byte("x")}}, Options{})
	if !errors.As(err, &le) || !strings.Contains(le.Problems[0].Reason, "no rule files") {
		t.Errorf("LoadFS of no rules = %v, want a no rule files problem", err)
	}
	_, err = LoadDir(filepath.Join(t.TempDir(), "missing"), Options{})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("LoadDir of a missing directory = %v", err)
	}
}

func TestLoadOptions(t *testing.T) {
	_, err := Load(nil, Options{TimeZones: map[string]*time.Location{"hosp-1": nil}})
	if err == nil || !strings.Contains(err.Error(), `TimeZones["hosp-1"] is nil`) {
		t.Errorf("Load with a nil zone = %v", err)
	}
	// Load copies the zones: a later change of the map changes nothing.
	zones := map[string]*time.Location{"hosp-1": time.FixedZone("x", 3600)}
	set, err := Load([]Source{{Name: "t.yml", Data: []byte(ruleSource(ServiceAccess, "sel:\n  occurred_at|hour: 0\ncondition: sel"))}}, Options{TimeZones: zones})
	if err != nil {
		t.Fatal(err)
	}
	zones["hosp-1"] = time.UTC
	if !set.Rules[0].Match(Access(baseAccess())) { // 23:15 UTC is 00:15 at UTC+1
		t.Error("the rule does not read the org's zone as given to Load")
	}
}

func TestProblemString(t *testing.T) {
	cases := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yml", Line: 3, Column: 5, Rule: "r1", Key: "detection.sel", Reason: "bad"}, "a.yml:3:5: rule r1: detection.sel: bad"},
		{Problem{File: "a.yml", Line: 3, Reason: "bad"}, "a.yml:3: bad"},
		{Problem{File: "a.yml", Reason: "bad"}, "a.yml: bad"},
		{Problem{Reason: "3 more problems not shown"}, "3 more problems not shown"},
	}
	for _, tc := range cases {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	le := &LoadError{Problems: []Problem{cases[0].p}}
	if got := le.Error(); got != "sigma: 1 problem in rule set:\n  a.yml:3:5: rule r1: detection.sel: bad" {
		t.Errorf("Error() = %q", got)
	}
}

func TestMaxProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("title: t\nid: t\nlevel: low\nlogsource: {product: vigil, service: access}\ndetection:\n  sel:\n")
	for i := range MaxProblems + 10 {
		b.WriteString("    nofield_" + strconv.Itoa(i) + ": 1\n")
	}
	b.WriteString("  condition: sel\n")
	_, err := Load([]Source{{Name: "many.yml", Data: []byte(b.String())}}, Options{})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatal(err)
	}
	if len(le.Problems) != MaxProblems+1 || le.Problems[MaxProblems].Reason != "10 more problems not shown" {
		t.Errorf("got %d problems, last %q", len(le.Problems), le.Problems[len(le.Problems)-1])
	}
}

func TestTimespans(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30s", 30 * time.Second, ""},
		{"10m", 10 * time.Minute, ""},
		{"1h", time.Hour, ""},
		{"1d", 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"31d", MaxTimespan, ""},
		{"32d", 0, "longer than the longest timespan"},
		{"99999999999999999999s", 0, "longer than the longest timespan"},
		{"0s", 0, "greater than zero"},
		{"1M", 0, "months and years"},
		{"1y", 0, "months and years"},
		{"5x", 0, "unknown unit"},
		{"1H", 0, "unknown unit"},
		{"m", 0, "not a timespan"},
		{"1h30m", 0, "not a timespan"},
		{"-1h", 0, "not a timespan"},
	}
	for _, tc := range cases {
		got, err := parseTimespan(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseTimespan(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseTimespan(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}

// TestTitleLength counts characters, as Sigma does, not bytes: a Chinese
// title of 200 characters (600 bytes) is fine, 257 characters are not.
func TestTitleLength(t *testing.T) {
	good := ruleSource(ServiceAccess, "sel:\n  action: read\ncondition: sel")
	ok := strings.Replace(good, "title: t", "title: "+strings.Repeat("导", 200), 1)
	if _, err := Load([]Source{{Name: "t.yml", Data: []byte(ok)}}, Options{}); err != nil {
		t.Errorf("a title of 200 characters: %v", err)
	}
	long := strings.Replace(good, "title: t", "title: "+strings.Repeat("导", 257), 1)
	_, err := Load([]Source{{Name: "t.yml", Data: []byte(long)}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "title: longer than 256 characters") {
		t.Errorf("a title of 257 characters: %v", err)
	}
}
