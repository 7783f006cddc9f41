package sigma

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var rulesDoc = filepath.Join("..", "..", "docs", "RULES.md")

// taxonomyTable renders the field table of a service for docs/RULES.md.
func taxonomyTable(s Service) string {
	var b strings.Builder
	b.WriteString("| Field | Type | Values and meaning |\n|---|---|---|\n")
	for _, f := range Fields(s) {
		doc := f.Doc
		if len(f.Values) > 0 {
			doc = "`" + strings.Join(f.Values, "` `") + "` — " + doc
		}
		b.WriteString("| `" + f.Path + "` | " + f.Type.String() + " | " + doc + " |\n")
	}
	return b.String()
}

// TestRulesDocTaxonomy checks that docs/RULES.md carries the field tables
// of the taxonomy as the code defines it; -update rewrites them.
func TestRulesDocTaxonomy(t *testing.T) {
	data, err := os.ReadFile(rulesDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, s := range []Service{ServiceAccess, ServiceDevice} {
		begin := "<!-- taxonomy:" + string(s) + " -->\n"
		end := "<!-- /taxonomy:" + string(s) + " -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Fatalf("%s has no %s … %s section", rulesDoc, strings.TrimSpace(begin), end)
		}
		want := taxonomyTable(s)
		if got := doc[i+len(begin) : j]; got != want {
			if !*update {
				t.Errorf("the %s table in %s differs from the taxonomy (rerun with -update):\n%s", s, rulesDoc, diffLines(got, want))
				continue
			}
			doc = doc[:i+len(begin)] + want + doc[j:]
		}
	}
	if *update {
		if err := os.WriteFile(rulesDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRulesDocModifiers checks that docs/RULES.md documents every
// modifier the loader accepts and every one it refuses by name.
func TestRulesDocModifiers(t *testing.T) {
	data, err := os.ReadFile(rulesDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	names := slices.Clone(knownModifiers)
	for m := range unsupportedModifiers {
		names = append(names, m)
	}
	for _, m := range names {
		if !strings.Contains(doc, "`"+m+"`") {
			t.Errorf("%s does not mention the modifier `%s`", rulesDoc, m)
		}
	}
	for _, ct := range correlationTypes {
		if !strings.Contains(doc, "`"+string(ct)+"`") {
			t.Errorf("%s does not mention the correlation type `%s`", rulesDoc, ct)
		}
	}
}
