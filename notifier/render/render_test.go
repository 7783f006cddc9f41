package render

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func defaultSet(t testing.TB) *Set {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return s
}

func keys(s *Set) []key {
	var ks []key
	for k := range s.byKey {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		return fmt.Sprint(ks[i]) < fmt.Sprint(ks[j])
	})
	return ks
}

// The embedded set covers what the brief and the regime files need.
func TestDefaultCoverage(t *testing.T) {
	s := defaultSet(t)
	for _, c := range []struct{ regime, kind string }{
		{"pipl", "individual_notice"}, {"pipl", "guardian_notice"}, {"pipl", "public_announcement"},
		{"gdpr", "individual_notice"}, {"gdpr", "public_announcement"},
		{"hipaa", "individual_notice"}, {"hipaa", "public_announcement"},
	} {
		if got := s.Languages(c.regime, c.kind); !slices.Equal(got, []string{"en", "zh-CN"}) {
			t.Errorf("Languages(%s, %s) = %v, want [en zh-CN]", c.regime, c.kind, got)
		}
	}
	if got := s.Languages("pipl", "media_notice"); got != nil {
		t.Errorf("Languages(pipl, media_notice) = %v, want nil", got)
	}
}

// The regime files' required fields for each notice are exactly what the
// templates use (guards against a template silently dropping a field).
func TestTemplatesCarryRegimeFields(t *testing.T) {
	s := defaultSet(t)
	pipl := []string{"org_name", "recipient_name", "facts", "occurred_at", "discovered_at", "pi_types", "cause", "impact", "measures_taken", "self_protection", "remedies", "contact"}
	gdpr := []string{"org_name", "recipient_name", "facts", "impact", "measures_taken", "self_protection", "remedies", "contact"}
	hipaa := []string{"org_name", "recipient_name", "what_happened", "breach_date", "discovery_date", "phi_types", "steps_individuals", "entity_actions", "contact_procedures"}
	without := func(l []string, drop string) []string {
		return slices.DeleteFunc(slices.Clone(l), func(s string) bool { return s == drop })
	}
	want := map[[2]string][]string{
		{"pipl", "individual_notice"}:    pipl,
		{"pipl", "guardian_notice"}:      append(slices.Clone(pipl), "child_name"),
		{"pipl", "public_announcement"}:  without(pipl, "recipient_name"),
		{"gdpr", "individual_notice"}:    gdpr,
		{"gdpr", "public_announcement"}:  without(gdpr, "recipient_name"),
		{"hipaa", "individual_notice"}:   hipaa,
		{"hipaa", "public_announcement"}: without(hipaa, "recipient_name"),
	}
	for rk, fields := range want {
		w := slices.Sorted(slices.Values(fields))
		for _, lang := range s.Languages(rk[0], rk[1]) {
			if got := s.Fields(rk[0], rk[1], lang); !slices.Equal(got, w) {
				t.Errorf("%s/%s %s uses %v, want %v", rk[0], rk[1], lang, got, w)
			}
		}
	}
}

func goldenText(r Rendered) string {
	return "Subject: " + r.Subject + "\nSMS: " + r.SMS + "\n\n" + r.Text
}

func TestGolden(t *testing.T) {
	s := defaultSet(t)
	for _, k := range keys(s) {
		name := fmt.Sprintf("%s_%s_%s", k.regime, k.kind, k.lang)
		t.Run(name, func(t *testing.T) {
			f := fieldsForKind(k.kind, k.lang)
			r, err := s.Render(k.regime, k.kind, k.lang, f, nil)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for _, fld := range s.Fields(k.regime, k.kind, k.lang) {
				if !strings.Contains(r.Text, f[fld]) {
					t.Errorf("text lacks field %s", fld)
				}
			}
			if r.HTML != "" {
				t.Errorf("HTML = %q, want empty (no html variant)", r.HTML)
			}
			got := goldenText(r)
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from rendered output; run go test ./notifier/render -run Golden -update and review the diff\ngot:\n%s", path, got)
			}
		})
	}
}

// Every SMS fits one message with realistic values, and subjects are one line.
func TestSMSAndSubjectLimits(t *testing.T) {
	s := defaultSet(t)
	for _, k := range keys(s) {
		r, err := s.Render(k.regime, k.kind, k.lang, fieldsFor(k.lang), nil)
		if err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		n, limit := SMSLength(r.SMS)
		if n > limit || n == 0 {
			t.Errorf("%s/%s %s: SMS is %d units, limit %d: %q", k.regime, k.kind, k.lang, n, limit, r.SMS)
		}
		if strings.HasPrefix(k.lang, "zh") && limit != 70 {
			t.Errorf("%s/%s %s: Chinese SMS measured as GSM", k.regime, k.kind, k.lang)
		}
		if k.lang == "en" && limit != 160 {
			t.Errorf("%s/%s %s: English SMS not in the GSM alphabet: %q", k.regime, k.kind, k.lang, r.SMS)
		}
		// Headroom for longer organisation names than the golden one.
		f := fieldsFor(k.lang)
		f["org_name"] = strings.Repeat("O", 40)
		if strings.HasPrefix(k.lang, "zh") {
			f["org_name"] = strings.Repeat("医", 15)
		}
		long, err := s.Render(k.regime, k.kind, k.lang, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n, limit := SMSLength(long.SMS); n > limit {
			t.Errorf("%s/%s %s: SMS with a longer organisation name is %d units, limit %d", k.regime, k.kind, k.lang, n, limit)
		}
		if r.Subject == "" || strings.ContainsAny(r.Subject, "\r\n") {
			t.Errorf("%s/%s %s: bad subject %q", k.regime, k.kind, k.lang, r.Subject)
		}
	}
}

func TestSMSLength(t *testing.T) {
	for _, c := range []struct {
		in       string
		n, limit int
	}{
		{"", 0, 160},
		{"hello", 5, 160},
		{"a€b", 4, 160},
		{"[x]", 5, 160},
		{"个人信息", 4, 70},
		{"ab个", 3, 70},
		{"😀", 2, 70},
		{strings.Repeat("a", 160), 160, 160},
	} {
		n, l := SMSLength(c.in)
		if n != c.n || l != c.limit {
			t.Errorf("SMSLength(%q) = %d, %d; want %d, %d", c.in, n, l, c.n, c.limit)
		}
	}
}

// Each required field removed, or blank, in turn: a MissingFieldError naming
// it and nothing rendered.
func TestMissingFields(t *testing.T) {
	s := defaultSet(t)
	for _, k := range keys(s) {
		for _, fld := range s.Fields(k.regime, k.kind, k.lang) {
			for _, mode := range []string{"absent", "empty", "blank"} {
				f := fieldsFor(k.lang)
				switch mode {
				case "absent":
					delete(f, fld)
				case "empty":
					f[fld] = ""
				case "blank":
					f[fld] = " \n\t "
				}
				r, err := s.Render(k.regime, k.kind, k.lang, f, nil)
				var mfe *MissingFieldError
				if !errors.As(err, &mfe) {
					t.Errorf("%v without %s (%s): err = %v, want *MissingFieldError", k, fld, mode, err)
					continue
				}
				if mfe.Field != fld || mfe.Regime != k.regime || mfe.Kind != k.kind || mfe.Lang != k.lang {
					t.Errorf("%v without %s: error = %+v", k, fld, mfe)
				}
				if !strings.Contains(err.Error(), `"`+fld+`"`) {
					t.Errorf("message %q does not name %s", err, fld)
				}
				if r != (Rendered{}) {
					t.Errorf("%v without %s: partial notice returned", k, fld)
				}
			}
		}
	}
}

// A field the regime requires but the template does not use is still checked.
func TestRequiredBeyondTemplate(t *testing.T) {
	s := defaultSet(t)
	f := fieldsFor("en")
	_, err := s.Render("gdpr", "individual_notice", "en", f, []string{"facts", "late_reasons"})
	var mfe *MissingFieldError
	if !errors.As(err, &mfe) || mfe.Field != "late_reasons" {
		t.Fatalf("err = %v, want missing late_reasons", err)
	}
	f["late_reasons"] = "x"
	if _, err := s.Render("gdpr", "individual_notice", "en", f, []string{"facts", "late_reasons"}); err != nil {
		t.Fatalf("with late_reasons: %v", err)
	}
	// Required fields are reported in the caller's order, before the template's.
	delete(f, "contact")
	delete(f, "remedies")
	_, err = s.Render("gdpr", "individual_notice", "en", f, []string{"remedies", "contact"})
	if !errors.As(err, &mfe) || mfe.Field != "remedies" {
		t.Fatalf("err = %v, want missing remedies first", err)
	}
}

func TestUnknownLanguageAndTemplate(t *testing.T) {
	s := defaultSet(t)
	_, err := s.Render("pipl", "individual_notice", "fr", fieldsFor("en"), nil)
	var ule *UnknownLanguageError
	if !errors.As(err, &ule) {
		t.Fatalf("err = %v, want *UnknownLanguageError", err)
	}
	if !slices.Equal(ule.Available, []string{"en", "zh-CN"}) || !strings.Contains(err.Error(), "en, zh-CN") || !strings.Contains(err.Error(), `"fr"`) {
		t.Errorf("error = %v (available %v)", err, ule.Available)
	}
	// Language tags match case-insensitively.
	if _, err := s.Render("pipl", "individual_notice", "zh-cn", fieldsFor("zh-CN"), nil); err != nil {
		t.Errorf("zh-cn: %v", err)
	}
	for _, c := range [][2]string{{"pipl", "media_notice"}, {"ccpa", "individual_notice"}} {
		_, err := s.Render(c[0], c[1], "en", fieldsFor("en"), nil)
		if !errors.Is(err, ErrNoTemplate) {
			t.Errorf("%v: err = %v, want ErrNoTemplate", c, err)
		}
	}
}

func TestInvalidUTF8Value(t *testing.T) {
	s := defaultSet(t)
	f := fieldsFor("en")
	f["facts"] = "bad \xff value"
	_, err := s.Render("gdpr", "individual_notice", "en", f, nil)
	if err == nil || !strings.Contains(err.Error(), `"facts"`) || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("err = %v, want an invalid UTF-8 error naming facts", err)
	}
}

// Values are plain text: template syntax and markup in a value are not
// interpreted, and line breaks never reach the subject.
func TestValuesArePlainText(t *testing.T) {
	s := defaultSet(t)
	f := fieldsFor("en")
	f["facts"] = `{{.contact}} <b>&amp;</b>`
	f["org_name"] = "Ankang\r\nBcc: x@example.org"
	r, err := s.Render("gdpr", "individual_notice", "en", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, `{{.contact}} <b>&amp;</b>`) {
		t.Errorf("text altered the value: %q", r.Text)
	}
	if strings.ContainsAny(r.Subject, "\r\n") || !strings.HasPrefix(r.Subject, "Ankang Bcc: x@example.org:") {
		t.Errorf("subject = %q", r.Subject)
	}
	if strings.ContainsAny(r.SMS, "\r\n") {
		t.Errorf("sms = %q", r.SMS)
	}
}

func TestLoadBad(t *testing.T) {
	for _, c := range []struct {
		dir  string
		want []string
	}{
		{"unknown_field", []string{"pipl/individual_notice.en.tmpl:4:", `unknown field "ssn"`}},
		{"missing_block", []string{"pipl/individual_notice.en.tmpl", `block "sms" is not defined`}},
		{"parse_error", []string{"pipl/individual_notice.en.tmpl:2:", "unexpected"}},
		{"nested_field", []string{"pipl/individual_notice.en.tmpl:2:", `"facts.detail"`}},
		{"bare_dot", []string{"pipl/individual_notice.en.tmpl:3:", `bare "."`}},
		{"index", []string{"pipl/individual_notice.en.tmpl:2:", `function "index"`}},
		{"unknown_kind", []string{"pipl/regulator_notice.en.tmpl", `unknown obligation kind "regulator_notice"`}},
		{"extra_block", []string{"pipl/individual_notice.en.tmpl", `block "html" is not allowed`}},
		{"outside_text", []string{"pipl/individual_notice.en.tmpl:1:", "text outside the blocks"}},
		{"bad_path", []string{"individual_notice.en.tmpl", "path must be"}},
		{"with", []string{"pipl/individual_notice.en.tmpl:2:", "{{with}}"}},
		{"duplicate_lang", []string{"pipl/individual_notice.zh-cn.tmpl", "same language as pipl/individual_notice.zh-CN.tmpl"}},
		{"empty", []string{"no *.tmpl files"}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			s, err := Load(os.DirFS(filepath.Join("testdata", "bad", c.dir)))
			if err == nil {
				t.Fatalf("Load succeeded (%d templates), want error", len(s.byKey))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Loading from a directory behaves like the embedded set, and a privacy team
// edit (a new language) is picked up without code changes.
func TestLoadDirectory(t *testing.T) {
	s, err := Load(os.DirFS(filepath.Join("..", "templates")))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.byKey) != len(defaultSet(t).byKey) {
		t.Errorf("directory has %d templates, embedded %d", len(s.byKey), len(defaultSet(t).byKey))
	}
	fsys := fstest.MapFS{"gdpr/individual_notice.de.tmpl": {Data: []byte(
		`{{define "subject"}}Datenpanne bei {{.org_name}}{{end}}{{define "text"}}{{.facts}}{{end}}{{define "sms"}}{{.org_name}}: Datenpanne{{end}}`)}}
	s, err = Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Languages("gdpr", "individual_notice"); !slices.Equal(got, []string{"de"}) {
		t.Errorf("languages = %v", got)
	}
	if got := s.Fields("gdpr", "individual_notice", "de"); !slices.Equal(got, []string{"facts", "org_name"}) {
		t.Errorf("fields = %v", got)
	}
	r, err := s.Render("gdpr", "individual_notice", "de", map[string]string{"org_name": "A", "facts": "B"}, nil)
	if err != nil || r.Subject != "Datenpanne bei A" || r.Text != "B" || r.SMS != "A: Datenpanne" {
		t.Errorf("Render = %+v, %v", r, err)
	}
}
