package sigma

import (
	"bytes"
	"strings"
	"testing"
)

// loadPack loads testdata/pack, the representative rule pack of the tests
// and benchmarks.
func loadPack(t testing.TB) *Set {
	t.Helper()
	set, err := LoadDir("testdata/pack", Options{})
	if err != nil {
		t.Fatalf("LoadDir(testdata/pack): %v", err)
	}
	return set
}

func TestPackTestsPass(t *testing.T) {
	set := loadPack(t)
	results := set.RunTests()
	if len(results) != len(set.Rules) {
		t.Fatalf("RunTests returned %d results for %d rules", len(results), len(set.Rules))
	}
	var report bytes.Buffer
	failed, err := WriteTestReport(&report, results)
	if err != nil {
		t.Fatal(err)
	}
	if failed != 0 {
		t.Errorf("%d rules of the pack fail their tests:\n%s", failed, report.String())
	}
	cases := 0
	for _, r := range results {
		cases += len(r.Cases)
	}
	if cases < 50 {
		t.Errorf("the pack has %d test cases; the tests rely on more than 50", cases)
	}
	if !strings.Contains(report.String(), "cases failed in 0 rules") {
		t.Errorf("report has no summary line:\n%s", report.String())
	}
}
